from flask import g, redirect, render_template, session, url_for

from webapp.main import bp
from webapp.stores import scoping


@bp.route("/")
def index():
    """Signed-in people land in their store: the bound one, else the last used, else the default."""
    if g.user is None:
        return redirect(url_for("auth.login"))
    store = scoping.home_store(g.user, session.get("store"))
    if store is not None:
        return redirect(url_for("stores.show_store", store=store.name))
    return render_template("stores/no_store.html", binding=scoping.binding_of(g.user))
