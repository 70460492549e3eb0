from flask import Blueprint

from webapp.navigation import nav_item

bp = Blueprint("accounts", __name__, url_prefix="/settings")


@bp.record_once
def _register_navigation(state):
    """The account menu's entries (Sign out is drawn by the shell itself)."""
    nav_item(state.app, "account", "accounts.connected", "Connected accounts", "link", order=10,
             store_scoped=False)
    nav_item(state.app, "account", "accounts.sessions", "Sessions", "devices", order=20, store_scoped=False)


from webapp.accounts import views  # noqa: E402,F401
