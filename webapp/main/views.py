"""The front door: ``/`` (where a signed-in person lands) and ``/api/v1/handshake/``."""
from flask import current_app, g, jsonify, redirect, render_template, session, url_for

from webapp.extensions import db
from webapp.stores import access
from webapp.users.models import User


def index():
    """Signed-in people land in their store: the bound one, else the last used, else the default."""
    if g.user is None:
        return redirect(url_for("auth.login"))
    store = access.home_store(g.user, session.get("store"))
    if store is not None:
        return redirect(url_for("stores.show_store", store=store.name))
    admins = db.session.execute(db.select(User).where(User.is_admin.is_(True), User.is_active.is_(True))
                                .order_by(User.username).limit(3)).scalars().all()
    return render_template("stores/no_store.html", binding=access.binding_of(g.user),
                           kind=access.access_of(g.user).kind, admins=admins)


def handshake():
    """The running version, from the shipped VERSION file or BACKEND_VERSION."""
    return jsonify(version=current_app.config["VERSION"], name=current_app.config["APP_NAME"])
