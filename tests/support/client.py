"""Driving the Flask test client as a browser would: CSRF tokens, form posts, the session cookie."""
import re

_FORM_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def csrf_token(client):
    """A CSRF token for the client's current session, read off the sign-in form."""
    page = client.get("/auth/login")
    match = _FORM_CSRF.search(page.get_data(as_text=True))
    assert match, "no csrf_token field on the sign-in page"
    return match.group(1)


def post_form(client, path, data=None, **kwargs):
    """POST a form the way a browser would: with the session's CSRF token."""
    data = dict(data or {})
    data.setdefault("csrf_token", csrf_token(client))
    return client.post(path, data=data, **kwargs)


def session_cookie(client, app):
    cookie = client.get_cookie(app.config["SESSION_COOKIE_NAME"])
    return cookie.value if cookie else None
