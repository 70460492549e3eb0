from flask import g, redirect, render_template, request, session, url_for

from webapp.auth.decorators import login_required
from webapp.extensions import db
from webapp.main import bp
from webapp.pagination import page_size, paginate, search_prefix, starts_with
from webapp.stores import access
from webapp.stores.models import Store
from webapp.users.models import User


@bp.route("/")
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


@bp.get("/stores/")
@login_required
def choose_store():
    """Every store the user may use, searchable by name prefix, a page at a time."""
    query = access.accessible_stores_query(g.user)
    prefix = search_prefix()
    if prefix:
        query = query.where(db.or_(starts_with(Store.name, prefix), starts_with(Store.name, prefix.lower())))
    page = paginate(query, order=[(Store.name, "asc"), (Store.id, "asc")], cursor=request.args.get("cursor"),
                    limit=page_size(default=50, maximum=100))
    return render_template("stores/choose.html", page=page, q=prefix)
