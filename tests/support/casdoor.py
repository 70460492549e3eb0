"""Driving Casdoor against the development Casdoor server, over HTTP: sign-in, tokens, keys."""
import base64
import json
import textwrap
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import requests

from devcasdoor import DEMO_SEED
from tests.support.client import post_form

DEMO_PASSWORD = "storehouse-dev"


def demo_seed():
    """The development server's demo seed (``devcasdoor/seed/demo.json``), parsed afresh."""
    return json.loads(Path(DEMO_SEED).read_text())


def demo_application(name):
    for app in demo_seed()["applications"]:
        if app["name"] == name:
            return app
    raise KeyError(name)


def casdoor_config(server, application="storehouse", **overrides):
    """App config pointing at the development server's demo application."""
    app = demo_application(application)
    config = {
        "CASDOOR_ENDPOINT": server.url,
        "CASDOOR_CLIENT_ID": app["clientId"],
        "CASDOOR_CLIENT_SECRET": app["clientSecret"],
        "CASDOOR_ORG_NAME": "storehouse",
        "CASDOOR_APP_NAME": application,
    }
    config.update(overrides)
    return config


def authorize_at_casdoor(authorize_url, username, password=DEMO_PASSWORD):
    """What the person does on Casdoor's page: open it, submit the form. Returns the redirect target."""
    page = requests.get(authorize_url, timeout=10)
    assert page.status_code == 200, page.text[:300]
    answer = requests.post(authorize_url, data={"username": username, "password": password},
                           allow_redirects=False, timeout=10)
    assert answer.status_code == 302, answer.text[:500]
    return answer.headers["Location"]


def local_path(url):
    parts = urlsplit(url)
    return parts.path + ("?" + parts.query if parts.query else "")


def sso_sign_in(client, username, password=DEMO_PASSWORD, next_url=None):
    """Sign in on the Flask test client through the full browser flow; returns the callback response."""
    start = client.get("/auth/casdoor/login", query_string={"next": next_url} if next_url else None)
    assert start.status_code == 302, start.get_data(as_text=True)[:500]
    callback = authorize_at_casdoor(start.headers["Location"], username, password)
    return client.get(local_path(callback))


def sso_link(client, username, password=DEMO_PASSWORD):
    """Connected accounts > Link Casdoor, through Casdoor, back to the callback."""
    start = post_form(client, "/auth/casdoor/link")
    assert start.status_code == 302, start.get_data(as_text=True)[:500]
    callback = authorize_at_casdoor(start.headers["Location"], username, password)
    return client.get(local_path(callback))


def code_for_api(server, application, username, redirect_uri="http://localhost:5173/callback", **extra):
    """A code as another front end (an SPA) would get it; returns the code."""
    location = server.get_code(demo_application(application)["clientId"], username, DEMO_PASSWORD,
                               redirect_uri, state="api-state", nonce=extra.get("nonce", "api-nonce"),
                               code_challenge=extra.get("code_challenge"))
    return parse_qs(urlsplit(location).query)["code"][0]


def access_token_for(casdoor, username, application="storehouse"):
    """An access token Casdoor issues to ``username`` (password grant) for a demo application."""
    app = demo_application(application)
    response = requests.post(f"{casdoor.url}/api/login/oauth/access_token", data={
        "grant_type": "password", "client_id": app["clientId"], "client_secret": app["clientSecret"],
        "username": username, "password": DEMO_PASSWORD, "scope": "openid profile email"}, timeout=5)
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def valid_claims(casdoor, **changes):
    """Claims of a token the app would accept for a stranger, mallory, valid for an hour; ``changes`` override."""
    now = int(time.time())
    claims = {"iss": casdoor.url, "sub": "7f7e1c1a-0000-4000-8000-00000000b0b0", "aud": [demo_application("storehouse")["clientId"]],
              "iat": now, "nbf": now, "exp": now + 3600, "name": "mallory", "owner": "storehouse",
              "homepage": "", "groups": [], "isAdmin": False, "email": "mallory@example.com"}
    claims.update(changes)
    return claims


def me_with(client, token):
    """``GET /api/v1/me/`` with ``token`` as a Bearer credential."""
    return client.get("/api/v1/me/", headers={"Authorization": f"Bearer {token}"})


def certificate_pem(casdoor, kid="cert-storehouse"):
    """The PEM certificate of the server's signing key ``kid``, as an operator would paste it."""
    key = [k for k in requests.get(f"{casdoor.url}/.well-known/jwks", timeout=5).json()["keys"] if k["kid"] == kid][0]
    body = "\n".join(textwrap.wrap(key["x5c"][0], 64))
    base64.b64decode(key["x5c"][0])  # not base64: fail here, not inside the app under test
    return f"-----BEGIN CERTIFICATE-----\n{body}\n-----END CERTIFICATE-----\n"
