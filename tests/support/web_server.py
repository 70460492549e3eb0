"""The app under gunicorn with the repository's ``gunicorn.conf.py``, in a process of its own."""
import os
import subprocess
import sys
from pathlib import Path

import requests

from tests.support.model_servers import free_port
from tests.support.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]


class GunicornApp:
    """``gunicorn -c gunicorn.conf.py`` on a free loopback port while the ``with`` block runs.

    :param environment: added to this process's environment (DATABASE_URL, SECRET_KEY, ...).
    :param log_path: where the server's output goes (read back when it fails to start).
    """

    def __init__(self, environment, log_path, workers=1, threads=16, start_timeout=60):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.environment = {"JOBS_IN_PROCESS": "false", "LOG_LEVEL": "WARNING", **environment}
        self.log_path = Path(log_path)
        self.workers, self.threads = workers, threads
        self.start_timeout = start_timeout
        self.process = None

    def __enter__(self):
        self._log = open(self.log_path, "wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py", "--workers", str(self.workers),
             "--threads", str(self.threads), "--bind", f"127.0.0.1:{self.port}", "--log-level", "warning"],
            cwd=ROOT, env={**os.environ, **self.environment}, stdout=self._log, stderr=subprocess.STDOUT,
        )
        try:
            wait_until(self._answers, self.start_timeout, 0.2,
                       message=lambda: f"gunicorn answering:\n{self.log_tail()}")
        except BaseException:
            self.stop()
            raise
        return self

    def _answers(self):
        if self.process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {self.process.returncode}:\n{self.log_tail()}")
        try:
            return requests.get(f"{self.url}/api/v1/handshake/", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    def log_tail(self, size=4000):
        return self.log_path.read_text(errors="replace")[-size:]

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self._log.close()

    def __exit__(self, *exc):
        self.stop()
