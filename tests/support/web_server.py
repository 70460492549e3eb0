"""The app under gunicorn with the repository's ``gunicorn.conf.py``, in a process of its own."""
import os
import sys
from pathlib import Path

import requests

from tests.support.model_servers import ServerProcess

ROOT = Path(__file__).resolve().parents[2]


class GunicornApp(ServerProcess):
    """``gunicorn -c gunicorn.conf.py`` on a free loopback port while the ``with`` block runs.

    :param environment: added to this process's environment (DATABASE_URL, SECRET_KEY, ...).
    :param log_path: where the server's output goes (read back when it fails to start).
    """

    name = "gunicorn"
    stop_timeout = 20

    def __init__(self, environment, log_path, workers=1, threads=16, start_timeout=60):
        super().__init__(log_path, start_timeout)
        self.url = f"http://127.0.0.1:{self.port}"
        self.environment = {"JOBS_IN_PROCESS": "false", "LOG_LEVEL": "WARNING", **environment}
        self.workers, self.threads = workers, threads

    def command(self):
        return [sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py", "--workers", str(self.workers),
                "--threads", str(self.threads), "--bind", f"127.0.0.1:{self.port}", "--log-level", "warning"]

    def popen_options(self):
        return {"cwd": ROOT, "env": {**os.environ, **self.environment}}

    def ready(self):
        return requests.get(f"{self.url}/api/v1/handshake/", timeout=2).status_code == 200

    def log_tail(self, size=4000):
        return super().log_tail(size)
