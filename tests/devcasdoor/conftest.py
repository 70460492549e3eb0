"""Fixtures for the devcasdoor conformance tests: one server per session, reset per test."""
import threading

import pytest
import requests
from werkzeug.serving import make_server
from werkzeug.wrappers import Request

from devcasdoor.testing import DevCasdoor, _QuietHandler
from tests.support.waiting import wait_until


@pytest.fixture(scope="session")
def dev_casdoor(tmp_path_factory):
    with DevCasdoor(state_dir=tmp_path_factory.mktemp("devcasdoor"), webhook_poll_seconds=0.05) as dev:
        yield dev


@pytest.fixture(autouse=True)
def _fresh_state(request):
    """Every test starts from the seed (same keys), without faults or webhooks."""
    if "dev_casdoor" in request.fixturenames:
        dev = request.getfixturevalue("dev_casdoor")
        dev.controls.reset()
    yield


@pytest.fixture
def dev(dev_casdoor):
    return dev_casdoor


@pytest.fixture
def http():
    with requests.Session() as session:
        yield session


class WebhookReceiver:
    """A loopback HTTP endpoint that records what it receives.

    ``statuses`` is a queue of status codes to answer with (then 200).
    """

    def __init__(self):
        self.received = []
        self.statuses = []
        self._server = make_server("127.0.0.1", 0, self._wsgi, threaded=True,
                                   request_handler=_QuietHandler)
        self.url = f"http://127.0.0.1:{self._server.server_port}/hook"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def _wsgi(self, environ, start_response):
        request = Request(environ)
        self.received.append({"headers": dict(request.headers), "body": request.get_data(as_text=True),
                              "method": request.method})
        status = self.statuses.pop(0) if self.statuses else 200
        start_response(f"{status} X", [("Content-Type", "text/plain")])
        return [b"ok"]

    def wait_for(self, count, timeout=30.0):
        """What was received, once there are ``count`` deliveries (fails after ``timeout`` s)."""
        wait_until(lambda: len(self.received) >= count, timeout, 0.02,
                   message=lambda: f"{count} webhook deliveries, received {len(self.received)}")
        return self.received

    def close(self):
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture(scope="session")
def _receiver():
    receiver = WebhookReceiver()
    yield receiver
    receiver.close()


@pytest.fixture
def webhook_receiver(_receiver):
    _receiver.received.clear()
    _receiver.statuses.clear()
    return _receiver
