"""What every template can see: the product name, the version, sign-in state, the
shell's navigation, and the filters the avatar and store tiles use."""
import re
import zlib

from flask import current_app, g, request

from webapp.casdoor import get_casdoor
from webapp.navigation import SECTIONS, resolve_navigation
from webapp.stores.templating import store_context

#: How many background colours ``.tint-0`` ... ``.tint-N`` app.css defines for avatars and tiles.
TINTS = 8


def inject_globals():
    user = g.get("user")
    stores = store_context()  # store_selector, shell_store
    return {
        "app_name": current_app.config["APP_NAME"],
        "app_version": current_app.config["VERSION"],
        "current_user": user,
        "signup_enabled": current_app.config["SIGNUP_ENABLED"],
        "casdoor_configured": get_casdoor() is not None,
        **stores,
        "navigation": resolve_navigation(current_app, user, stores["shell_store"], request.endpoint),
        "nav_headings": SECTIONS,
    }


def initials(name):
    """Up to two letters for an avatar: "Erin Evans" -> "EE", "alice-local" -> "AL", "bob" -> "B"."""
    words = [word for word in re.split(r"[\s._@-]+", name or "") if word]
    if not words:
        return "?"
    letters = words[0][0] + (words[1][0] if len(words) > 1 else "")
    return letters.upper()


def tint(name):
    """A stable colour index for ``name`` (the same name always gets the same colour)."""
    return zlib.crc32((name or "").encode("utf-8")) % TINTS


def when(value):
    """A UTC timestamp for people: "7 Mar 2025, 14:05" (the same on every platform)."""
    return f"{value.day} {value:%b %Y, %H:%M}" if value else ""


def init_app(app):
    from webapp.pagination import first_page_url, next_page_url

    app.context_processor(inject_globals)
    app.jinja_env.globals.update(next_page_url=next_page_url, first_page_url=first_page_url)
    app.add_template_filter(when)
    app.add_template_filter(initials)
    app.add_template_filter(tint)
