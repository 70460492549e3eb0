"""The processes under test: the app under gunicorn, the development Casdoor server.

Both listen on free loopback ports and write their logs under
``instance/bench/logs/``. ``Server.worker_memory()`` reads each gunicorn
worker's resident set (``VmRSS``) and its peak (``VmHWM``) from ``/proc``.
"""
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
LOG_DIR = ROOT / "instance" / "bench" / "logs"

#: The demo application of devcasdoor/seed/demo.json (public development credentials).
CASDOOR_CLIENT_ID = "9c1d2e3f4a5b6c7d8e9f"
CASDOOR_CLIENT_SECRET = "0f1e2d3c4b5a69788796a5b4c3d2e1f0a9b8c7d6"
CASDOOR_APP = CASDOOR_ORG = "storehouse"


class ServerError(RuntimeError):
    """A process under test did not start; the message names its log."""


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_until_answers(process, url, log_path, what, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServerError(f"{what} exited with status {process.returncode}; see {log_path}:\n"
                              f"{_tail(log_path)}")
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise ServerError(f"{what} did not answer {url} within {timeout} s; see {log_path}:\n{_tail(log_path)}")


def _tail(path, lines=15):
    try:
        return "\n".join(Path(path).read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _stop(process, sig=signal.SIGTERM, timeout=30):
    if process.poll() is not None:
        return
    process.send_signal(sig)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


class DevCasdoorProcess:
    """``python -m devcasdoor`` on a free port, with its keys in ``state_dir``."""

    def __init__(self, state_dir):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.state_dir = Path(state_dir)
        self.log_path = LOG_DIR / "devcasdoor.log"
        self.process = None

    def __enter__(self):
        LOG_DIR.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "devcasdoor", "--host", "127.0.0.1", "--port", str(self.port),
                   "--state-dir", str(self.state_dir)]
        with open(self.log_path, "w") as log:
            self.process = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        _wait_until_answers(self.process, f"{self.url}/.well-known/openid-configuration", self.log_path,
                            "the development Casdoor server")
        return self

    def __exit__(self, *exc):
        _stop(self.process)

    def app_environment(self):
        """What the app needs to trust this server (as scripts/run-dev.sh sets it)."""
        return {"CASDOOR_ENDPOINT": self.url, "CASDOOR_CLIENT_ID": CASDOOR_CLIENT_ID,
                "CASDOOR_CLIENT_SECRET": CASDOOR_CLIENT_SECRET, "CASDOOR_ORG_NAME": CASDOOR_ORG,
                "CASDOOR_APP_NAME": CASDOOR_APP, "CASDOOR_REQUIRED_GROUPS": "storehouse/staff"}

    def access_token(self, username="bob", password="storehouse-dev"):
        """A real access token (JWT) for a demo user, through the token endpoint's password grant."""
        response = requests.post(f"{self.url}/api/login/oauth/access_token", data={
            "grant_type": "password", "client_id": CASDOOR_CLIENT_ID, "client_secret": CASDOOR_CLIENT_SECRET,
            "username": username, "password": password}, timeout=10)
        body = response.json()
        if "access_token" not in body:
            raise ServerError(f"the development Casdoor server refused a token for {username}: {body}")
        return body["access_token"]


@dataclass
class WorkerMemory:
    pid: int
    rss_kib: int
    peak_kib: int


def cpu_seconds(pid):
    """User + system CPU time of ``pid`` (all its threads) from /proc/<pid>/stat, 0 when gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat.rsplit(")", 1)[1].split()
    # Fields 14 and 15 of stat(5) (utime, stime) are the 12th and 13th after the command name.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class GunicornServer:
    """The app under gunicorn (``gthread`` workers) on a free loopback port.

    :param name: a label for logs and the report ("main", "cache off").
    :param environment: added to this process's environment (DATABASE_URL, Casdoor, ...).
    """

    def __init__(self, name, environment, workers=2, threads=4):
        self.name = name
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.workers = workers
        self.threads = threads
        self.environment = dict(environment)
        self.log_path = LOG_DIR / f"gunicorn-{name.replace(' ', '-')}.log"
        self.process = None

    @property
    def command(self):
        # The repository's gunicorn.conf.py (what production runs), with this run's sizes.
        return [str(BIN / "gunicorn"), "--config", "gunicorn.conf.py", "--workers", str(self.workers),
                "--threads", str(self.threads), "--bind", f"127.0.0.1:{self.port}", "--log-level", "warning",
                "wsgi:app"]

    def describe_command(self, shown=("DATABASE_URL", "CASDOOR_TOKEN_CACHE_TTL")):
        """The command line as one could paste it (secrets left out of the shown variables)."""
        variables = " ".join(f"{name}={self.environment[name]}" for name in shown if name in self.environment)
        command = " ".join(self.command).replace(str(ROOT) + "/", "")
        return f"{variables} {command}".strip()

    def __enter__(self):
        LOG_DIR.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "w") as log:
            self.process = subprocess.Popen(self.command, cwd=ROOT, env={**os.environ, **self.environment},
                                            stdout=log, stderr=subprocess.STDOUT)
        _wait_until_answers(self.process, f"{self.url}/api/v1/handshake/", self.log_path,
                            f"gunicorn ({self.name})")
        self._wait_for_workers()
        return self

    def __exit__(self, *exc):
        _stop(self.process)

    def _wait_for_workers(self, timeout=30):
        deadline = time.monotonic() + timeout
        while len(self.worker_pids()) < self.workers and time.monotonic() < deadline:
            time.sleep(0.2)

    def worker_pids(self):
        """The worker processes: children of the gunicorn master, from /proc."""
        pids = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            # The command name is in parentheses and may hold spaces: split after it.
            parent = int(stat.rsplit(")", 1)[1].split()[1])
            if parent == self.process.pid:
                pids.append(int(entry.name))
        return sorted(pids)

    def in_flight(self):
        """Connections to this server that it has not finished with (see ``count_open_connections``)."""
        try:
            table = Path("/proc/net/tcp").read_text()
        except OSError:
            return 0
        return count_open_connections(table, self.port)

    def kill(self):
        """Stop at once, abandoning requests in progress: workers get SIGKILL, then the master stops."""
        for pid in self.worker_pids():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        _stop(self.process, signal.SIGKILL)

    def reset_peaks(self):
        """Start each worker's peak RSS (VmHWM) afresh, so the next reading is this case's peak."""
        for pid in self.worker_pids():
            reset_peak(pid)

    def worker_cpu(self):
        """``{pid: CPU seconds}`` of each worker."""
        return {pid: cpu_seconds(pid) for pid in self.worker_pids()}

    def worker_memory(self):
        return [memory for memory in map(read_memory, self.worker_pids()) if memory is not None]


#: /proc/net/tcp states: ESTABLISHED and CLOSE_WAIT (the client left, the server is not done).
_OPEN_STATES = {"01", "08"}


def count_open_connections(proc_net_tcp, port):
    """Server-side sockets on ``port`` still ESTABLISHED or in CLOSE_WAIT, from /proc/net/tcp's text.

    Once wrk has stopped, each of these is a request the server is still
    working on: a socket stays in CLOSE_WAIT until the worker has written its
    answer and closed it.
    """
    count = 0
    for line in proc_net_tcp.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 4:
            continue
        local_port = int(fields[1].rsplit(":", 1)[1], 16)
        if local_port == port and fields[3] in _OPEN_STATES:
            count += 1
    return count


def reset_peak(pid):
    """Set ``pid``'s VmHWM to its current RSS (``echo 5 > /proc/<pid>/clear_refs``); False if not allowed."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def read_memory(pid):
    """``WorkerMemory`` of ``pid`` from /proc/<pid>/status, None when it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)

    def kib(name):
        return int(fields.get(name, "0 kB").split()[0])

    return WorkerMemory(pid, kib("VmRSS"), kib("VmHWM"))
