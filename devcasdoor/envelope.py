"""Casdoor's JSON response shapes.

REST endpoints answer HTTP 200 whatever happened; success and failure are told
apart only by ``status``. The controller envelope always has seven keys; errors
raised by Casdoor's request filters (bad bearer token, bad app credentials,
"Unauthorized operation") use a four-key struct.
"""
import json

from flask import Response


def _json(body, status=200, headers=None):
    # Compact, as Go's encoding/json writes it.
    return Response(json.dumps(body, separators=(",", ":")), status=status, headers=headers,
                    mimetype="application/json", content_type="application/json; charset=utf-8")


def ok(data=None, data2=None, *, sub="", name=""):
    """``ResponseOk``: ``{"status":"ok",...}`` with all seven keys (``data3`` always null)."""
    return _json({"status": "ok", "msg": "", "sub": sub, "name": name,
                  "data": data, "data2": data2, "data3": None})


def error(msg, data=None):
    """``ResponseError``: HTTP 200 with ``status`` "error" and all seven keys."""
    return _json({"status": "error", "msg": msg, "sub": "", "name": "",
                  "data": data, "data2": None, "data3": None})


def filter_error(msg):
    """An error from a Casdoor request filter: the smaller four-key struct."""
    return _json({"status": "error", "msg": msg, "data": None, "data2": None})


def raw(body, status=200, headers=None):
    """Plain JSON without an envelope (discovery, JWKS, userinfo, token endpoint)."""
    return _json(body, status, headers)


def token_error(error_code, description=""):
    """An RFC 6749 error: 401 + ``WWW-Authenticate`` for invalid_client, else 400."""
    body = {"error": error_code}
    if description:
        body["error_description"] = description
    if error_code == "invalid_client":
        return _json(body, 401, {"WWW-Authenticate": 'Basic realm="OAuth2"'})
    return _json(body, 400)
