"""Settings of one's own account: connected accounts (the Casdoor link), a local password, sessions.

URLs in ``blueprint.py``; ``views`` holds the pages.
"""
from webapp.navigation import nav_item


def init_app(app):
    """Register the pages and the account menu's entries (Sign out is drawn by the shell itself)."""
    from webapp.accounts.blueprint import bp

    app.register_blueprint(bp)
    nav_item(app, "account", "accounts.connected", "Connected accounts", "link", order=10, store_scoped=False)
    nav_item(app, "account", "accounts.sessions", "Sessions", "devices", order=20, store_scoped=False)
