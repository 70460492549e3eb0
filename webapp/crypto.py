"""Secrets at rest: values only the server may read back (a Casdoor id_token kept
for sign-out, a model provider's API key), encrypted with keys derived from
SECRET_KEY.

Rotation: put the new key in SECRET_KEY and the old one in SECRET_KEY_FALLBACKS.
Values encrypted under a fallback still decrypt; ``flask keys rotate``
re-encrypts the stored ones under the new key, after which the fallback can go.
Each feature declares how its stored secrets are re-encrypted with ``@rotation``
(the declaration runs when the feature's ``init_app`` loads that module).
"""
import base64

import click
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app
from flask.cli import AppGroup

from webapp.extensions import db


def _derive(secret, purpose):
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"storehouse-at-rest",
               info=purpose.encode()).derive(secret.encode())
    return Fernet(base64.urlsafe_b64encode(key))


def _keys(purpose):
    config = current_app.config
    secrets = [config["SECRET_KEY"], *reversed(config.get("SECRET_KEY_FALLBACKS", []))]
    return MultiFernet([_derive(secret, purpose) for secret in secrets])


def encrypt(text, purpose):
    """``text`` encrypted under the current SECRET_KEY for ``purpose`` (a label such as "session")."""
    return _keys(purpose).encrypt(text.encode()).decode()


def decrypt(token, purpose):
    """The text of ``token``, or None when no current or fallback key opens it."""
    if not token:
        return None
    try:
        return _keys(purpose).decrypt(token.encode()).decode()
    except (InvalidToken, ValueError):
        return None


def reencrypt(token, purpose):
    """``token`` under the current key (for ``flask keys rotate``); None if unreadable."""
    try:
        return _keys(purpose).rotate(token.encode()).decode()
    except (InvalidToken, ValueError):
        return None


#: ``(name, function)`` pairs: each function re-encrypts one kind of stored secret under
#: the current key, flushes, and returns ``(rotated, unreadable)`` counts.
_ROTATORS = []


def rotation(name):
    """Declare a function that re-encrypts a feature's stored secrets (``flask keys rotate``)."""
    def register(function):
        if all(existing != name for existing, _ in _ROTATORS):
            _ROTATORS.append((name, function))
        return function

    return register


def rotators():
    return list(_ROTATORS)


keys_cli = AppGroup("keys", help="Secrets encrypted at rest.")


@keys_cli.command("rotate")
def rotate_keys():
    """Re-encrypt every stored secret under the current SECRET_KEY (after moving the old
    key to SECRET_KEY_FALLBACKS); the fallback can go once this reports nothing unreadable."""
    problems = 0
    for name, rotate in rotators():
        rotated, unreadable = rotate()
        problems += unreadable
        click.echo(f"{name}: {rotated} re-encrypted" + (f", {unreadable} unreadable with any key" if unreadable else ""))
    db.session.commit()
    if problems:
        raise click.ClickException(f"{problems} value(s) could not be read with SECRET_KEY or its fallbacks; "
                                   "keep the fallbacks until you know why.")


def init_app(app):
    """``flask keys rotate`` (features declare what it re-encrypts with ``@rotation``)."""
    app.cli.add_command(keys_cli)
