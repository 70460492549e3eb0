"""``GET /api/v1/billing/charges/``: your charges (administrators: everybody's), keyset paginated."""
from flask import current_app, g, jsonify, request
from sqlalchemy.orm import selectinload

from webapp.auth.decorators import login_required
from webapp.billing import ledger
from webapp.billing.models import STATES, Charge
from webapp.core.errors import StorehouseError
from webapp.extensions import db
from webapp.pagination import link_header, page_size, paginate


@login_required
def list_charges():
    """Charges newest first: ``{"items": [...], "next": cursor-or-null}``.

    ``?state=`` one of the charge states; ``?cursor=``, ``?limit=``. An
    administrator sees every user's charges (``?user=<id>`` narrows to one).
    """
    query = db.select(Charge).options(selectinload(Charge.user), selectinload(Charge.store))
    if g.user.is_effective_admin:
        query = query.where(ledger.admin_scope(g.user))
        user_id = request.args.get("user")
        if user_id is not None:
            if not user_id.isdigit() or not 0 < int(user_id) < 2**31:
                raise StorehouseError("user must be a user id.", error="invalid_user")
            query = query.where(Charge.user_id == int(user_id))
    else:
        query = query.where(Charge.user_id == g.user.id)
    state = request.args.get("state")
    if state is not None:
        if state not in STATES:
            raise StorehouseError(f"state must be one of {', '.join(STATES)}.", error="invalid_state")
        query = query.where(Charge.state == state)
    page = paginate(query, order=[(Charge.created_at, "desc"), (Charge.id, "desc")],
                    cursor=request.args.get("cursor"), limit=page_size())
    links = ledger.casdoor_links(current_app)
    return jsonify(items=[ledger.charge_payload(c, links) for c in page.items], next=page.next_cursor), \
        link_header(page)
