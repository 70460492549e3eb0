"""What every template can see: the product name, the version, sign-in state."""
from flask import current_app, g

from webapp.casdoor import get_casdoor
from webapp.stores.templating import store_context


def inject_globals():
    return {
        "app_name": current_app.config["APP_NAME"],
        "app_version": current_app.config["VERSION"],
        "current_user": g.get("user"),
        "signup_enabled": current_app.config["SIGNUP_ENABLED"],
        "casdoor_configured": get_casdoor() is not None,
        **store_context(),  # store_selector, admin_links
        "account_links": [("accounts.connected", "Connected accounts"), ("accounts.sessions", "Sessions")]
        if g.get("user") else [],
    }


def init_app(app):
    from webapp.pagination import first_page_url, next_page_url

    app.context_processor(inject_globals)
    app.jinja_env.globals.update(next_page_url=next_page_url, first_page_url=first_page_url)
