from flask import Blueprint

bp = Blueprint("auth", __name__, url_prefix="/auth")

from webapp.auth import views  # noqa: E402,F401


def init_app(app):
    """Casdoor sign-in when Casdoor is configured: the OAuth client and the Bearer loader."""
    from webapp.auth.bearer import load_bearer_user
    from webapp.auth.oidc import register_client

    loaders = app.extensions.setdefault("storehouse_bearer_loaders", [])
    casdoor = app.extensions.get("casdoor")
    if casdoor is not None:
        casdoor.oauth = register_client(app, casdoor.settings, casdoor.verifier)
        loaders.append(load_bearer_user)
