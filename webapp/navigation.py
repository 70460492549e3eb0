"""The page shell's navigation: a registry features add their entries to.

Each app holds its own registry in ``app.extensions["navigation"]`` (tests
build many apps, so a module-level list would leak entries between them). A
feature registers its entries in its ``init_app``::

    nav_item(app, "store", "stores.list_documents", "Documents", "files", order=20)

and ``base.html`` draws them without knowing the feature exists. Entries
whose endpoint is not registered in ``app.view_functions`` are skipped, so a
feature may declare an entry before (or without) its pages landing.

Sections are drawn in the order of ``SECTIONS``; ``account`` entries go to the
account menu at the foot of the sidebar rather than to the list.
"""
from dataclasses import dataclass

from flask import url_for

#: section -> heading shown above its entries (None: no heading).
SECTIONS = {"store": None, "admin": "Admin", "account": None}


@dataclass(frozen=True)
class NavItem:
    section: str
    endpoint: str
    label: str
    #: Name of an icon of ``templates/_macros/icons.html``.
    icon: str
    order: int = 100
    #: Shown to administrators only.
    admin_only: bool = False
    #: The URL takes ``<store>``: drawn only while the shell has a store to point it at.
    store_scoped: bool = True
    #: Further endpoints that count as this entry's page (a document under "Documents").
    also_current: tuple = ()
    #: ``data-testid`` of the link, for tests that find it.
    testid: str = ""


@dataclass(frozen=True)
class NavLink:
    """An entry resolved for one request: what the template draws."""

    label: str
    icon: str
    url: str
    is_current: bool
    testid: str


def nav_item(app, section, endpoint, label, icon, order=100, admin_only=False, store_scoped=True,
             also_current=(), testid=""):
    """Register a navigation entry on ``app``.

    :param section: one of ``SECTIONS``.
    :param endpoint: the page's endpoint; the entry is skipped while it is not registered.
    :param also_current: endpoints under this entry (marked as the current page too).
    :raises ValueError: an unknown section, or the endpoint registered twice in it.
    """
    if section not in SECTIONS:
        raise ValueError(f"Unknown navigation section {section!r}; use one of {', '.join(SECTIONS)}.")
    items = app.extensions.setdefault("navigation", [])
    if any(item.section == section and item.endpoint == endpoint for item in items):
        raise ValueError(f"{endpoint!r} is already in the {section!r} navigation.")
    items.append(NavItem(section, endpoint, label, icon, order, admin_only, store_scoped,
                         tuple(also_current), testid))


def resolve_navigation(app, user, store, endpoint):
    """The entries ``user`` sees, by section, as ``NavLink``; one request's view.

    :param store: the store that store-scoped entries point to, or None (they are left out).
    :param endpoint: the current request's endpoint (marks the current page).
    :returns: ``{section: [NavLink, ...]}`` with every section of ``SECTIONS``, possibly empty.
    """
    sections = {name: [] for name in SECTIONS}
    if user is None:
        return sections
    items = sorted(app.extensions.get("navigation", []), key=lambda item: (item.order, item.label))
    for item in items:
        if item.endpoint not in app.view_functions:
            continue
        if item.admin_only and not user.is_effective_admin:
            continue
        if item.store_scoped and store is None:
            continue
        url = url_for(item.endpoint, store=store.name) if item.store_scoped else url_for(item.endpoint)
        is_current = endpoint == item.endpoint or endpoint in item.also_current
        sections[item.section].append(NavLink(item.label, item.icon, url, is_current, item.testid))
    return sections
