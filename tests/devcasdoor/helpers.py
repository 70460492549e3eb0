"""Helpers shared by the devcasdoor conformance tests."""
import base64
import hashlib
import json
import secrets
from urllib.parse import parse_qs, urlsplit

import requests

from devcasdoor import DEMO_SEED

CALLBACK = "http://127.0.0.1:5000/auth/casdoor/callback"
PASSWORD = "storehouse-dev"

with open(DEMO_SEED, encoding="utf-8") as _f:
    SEED = json.load(_f)

#: The demo applications by name.
APPS = {app["name"]: app for app in SEED["applications"]}
#: The demo users by name.
USERS = {user["name"]: user for user in SEED["users"]}


def app_credentials(name="storehouse"):
    return APPS[name]["clientId"], APPS[name]["clientSecret"]


def pkce_pair():
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def code_from(location):
    return parse_qs(urlsplit(location).query)["code"][0]


def sign_in(dev, user="alice", app="storehouse", *, scope="openid profile email", nonce="n-123",
            state="st-1", code_challenge=None):
    """Return an authorization code for ``user`` through the HTML sign-in page."""
    location = dev.get_code(app, user, PASSWORD, CALLBACK, state, nonce,
                            code_challenge=code_challenge, scope=scope)
    return code_from(location)


def exchange(dev, code, app="storehouse", **extra):
    client_id, client_secret = app_credentials(app)
    data = {"grant_type": "authorization_code", "client_id": client_id,
            "client_secret": client_secret, "code": code, **extra}
    return requests.post(f"{dev.url}/api/login/oauth/access_token", data=data, timeout=10)


def tokens_for(dev, user="alice", app="storehouse", **kwargs):
    """Sign in and exchange the code; return the TokenWrapper dict."""
    reply = exchange(dev, sign_in(dev, user, app, **kwargs), app)
    assert reply.status_code == 200, reply.text
    return reply.json()


def jwt_parts(token):
    header, payload, _ = token.split(".")

    def decode(part):
        return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))

    return decode(header), decode(payload)


def api(dev, method, path, **kwargs):
    kwargs.setdefault("timeout", 10)
    return requests.request(method, f"{dev.url}{path}", **kwargs)
