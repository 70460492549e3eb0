"""What every template can see: the product name, the version, sign-in state, the
shell's navigation, and the filters the avatar and store tiles use.

Features add their own: stores the store selector and ``shell_store`` (the store
the sidebar's store entries point to), Casdoor whether single sign-on is on.
"""
import re
import zlib

from flask import current_app, g, request

from webapp.core.money import display
from webapp.navigation import SECTIONS, resolve_navigation
from webapp.pagination import first_page_url, next_page_url

#: How many background colours ``.tint-0`` ... ``.tint-N`` app.css defines for avatars and tiles.
TINTS = 8


def inject_globals():
    return {
        "app_name": current_app.config["APP_NAME"],
        "app_version": current_app.config["VERSION"],
        "current_user": g.get("user"),
        "signup_enabled": current_app.config["SIGNUP_ENABLED"],
        "nav_headings": SECTIONS,
    }


def navigation_for(store):
    """The sidebar's entries for the signed-in user, store entries pointing at ``store``
    (``base.html`` calls it once per page with ``shell_store``)."""
    return resolve_navigation(current_app, g.get("user"), store, request.endpoint)


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
    app.context_processor(inject_globals)
    app.jinja_env.globals.update(next_page_url=next_page_url, first_page_url=first_page_url,
                                 navigation_for=navigation_for)
    app.add_template_filter(display, "money")
    app.add_template_filter(when)
    app.add_template_filter(initials)
    app.add_template_filter(tint)
