"""Run the development Casdoor server inside a test process.

Example::

    with DevCasdoor(state_dir=tmp_path) as dev:
        location = dev.get_code("storehouse", "alice", "storehouse-dev",
                                "http://127.0.0.1:5000/auth/casdoor/callback", "st", "nonce")
        dev.controls.inject_fault("/api/add-transaction", "timeout", seconds=2)
"""
import re
import threading
from html import unescape
from urllib.parse import urlencode

import requests
from werkzeug.serving import WSGIRequestHandler, make_server

from . import create_dev_casdoor


class _QuietHandler(WSGIRequestHandler):
    """Keep test output clean: no access log line per request."""

    def log_request(self, *args, **kwargs):
        pass


class DevControls:
    """A small HTTP client for the ``/_dev/`` controls of a running server."""

    def __init__(self, url, session=None):
        self.url = url
        self.session = session or requests.Session()

    def _call(self, method, path, payload=None):
        response = self.session.request(method, f"{self.url}/_dev{path}", json=payload, timeout=30)
        response.raise_for_status()
        return response.json()

    def patch_user(self, org, name, /, **fields):
        """Overwrite fields of ``org/name`` (e.g. ``homepage="general"``); returns the user."""
        return self._call("POST", f"/users/{org}/{name}", fields)

    def inject_fault(self, path, kind, count=1, seconds=0, msg=None):
        """Make the next ``count`` calls to ``path`` fail.

        Before the work: ``envelope`` (``msg``), ``http500``, ``timeout`` / ``delay``
        (sleep ``seconds``, then handle). After the work is stored:
        ``http500_after``, ``timeout_after`` (answer ``seconds`` late),
        ``drop_after`` (close the connection without an answer).
        """
        return self._call("POST", "/faults", {"path": path, "kind": kind, "count": count,
                                              "seconds": seconds, "msg": msg})

    def clear_faults(self):
        return self._call("DELETE", "/faults")

    def rotate_key(self, cert, new_name=None):
        """New key for ``cert`` (same kid), or a new cert ``new_name``; returns the JWKS."""
        payload = {"cert": cert}
        if new_name:
            payload["new_name"] = new_name
        return self._call("POST", "/rotate-key", payload)

    def sign(self, claims, header=None, cert="cert-storehouse", register=False):
        """A JWT of arbitrary ``claims`` signed with ``cert``; ``register`` stores it as issued."""
        return self._call("POST", "/sign", {"claims": claims, "header": header, "cert": cert,
                                            "register": register})["token"]

    def transactions(self):
        return self._call("GET", "/transactions")

    def transactions_mode(self):
        """``"current"`` or ``"legacy"``: the transaction API the server speaks now."""
        return self._call("GET", "/transactions-mode")["mode"]

    def set_transactions_mode(self, mode):
        """Speak the ``"current"`` or ``"legacy"`` transaction API until the next reset."""
        return self._call("POST", "/transactions-mode", {"mode": mode})["mode"]

    def organizations(self):
        return self._call("GET", "/organizations")

    def webhook_deliveries(self):
        return self._call("GET", "/webhook-deliveries")

    def users(self):
        return self._call("GET", "/users")

    def reset(self):
        return self._call("POST", "/reset")


class DevCasdoor:
    """Context manager: the dev server on a free loopback port in a daemon thread.

    :param seed: seed dict or path (None = the demo seed).
    :param state_dir: key directory (use a pytest ``tmp_path``).
    :param kwargs: passed to :func:`devcasdoor.create_dev_casdoor`;
        ``enable_dev_controls`` defaults to True here.
    """

    def __init__(self, seed=None, state_dir="instance/devcasdoor", **kwargs):
        kwargs.setdefault("enable_dev_controls", True)
        self.app = create_dev_casdoor(seed, str(state_dir), **kwargs)
        self.url = None
        self.controls = None
        self._server = None
        self._thread = None

    def __enter__(self):
        self._server = make_server("127.0.0.1", 0, self.app, threaded=True,
                                   request_handler=_QuietHandler)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True,
                                        name="devcasdoor-http")
        self._thread.start()
        self.controls = DevControls(self.url)
        return self

    def __exit__(self, *exc_info):
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
        self.app.extensions["devcasdoor"].stop()
        self.controls.session.close()

    @property
    def state(self):
        return self.app.extensions["devcasdoor"].state

    def client_id(self, app_name_or_client_id):
        with self.state.lock:
            return self.state.application(app_name_or_client_id)["clientId"]

    def get_code(self, app_name_or_client_id, username, password, redirect_uri, state, nonce,
                 code_challenge=None, scope="openid profile email", session=None):
        """Do the browser's part of a code flow over HTTP and return the redirect Location.

        GETs the authorize page, posts the sign-in form, and returns the 302
        ``Location`` (``redirect_uri?code=...&state=...``).

        :raises AssertionError: with the page's error text when sign-in fails.
        """
        query = {"client_id": self.client_id(app_name_or_client_id), "response_type": "code",
                 "redirect_uri": redirect_uri, "scope": scope, "state": state, "nonce": nonce}
        if code_challenge:
            query["code_challenge"] = code_challenge
            query["code_challenge_method"] = "S256"
        url = f"{self.url}/login/oauth/authorize?{urlencode(query)}"
        http = session or requests
        page = http.get(url, timeout=30)
        page.raise_for_status()
        if 'name="password"' not in page.text:
            raise AssertionError(f"authorize page refused: {_page_error(page.text)}")
        reply = http.post(url, data={"username": username, "password": password},
                          allow_redirects=False, timeout=30)
        if reply.status_code != 302:
            raise AssertionError(f"sign-in failed: {_page_error(reply.text)}")
        return reply.headers["Location"]


def _page_error(html):
    match = re.search(r'<p class="error"[^>]*>(.*?)</p>', html, re.S)
    return unescape(match.group(1)).strip() if match else html[:200]
