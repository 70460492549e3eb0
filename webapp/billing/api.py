"""``GET /api/v1/billing/charges/``: your charges (administrators: everybody's), keyset paginated.
``GET|PUT|DELETE /api/v1/s/<store>/limits`` and ``…/limits/people/<user_id>``: a store's spending
limits, for administrators of the store (a bound administrator: their store only)."""
import logging

from flask import current_app, g, jsonify, request
from sqlalchemy.orm import selectinload
from werkzeug.exceptions import NotFound

from webapp.auth.decorators import admin_required, login_required
from webapp.billing import alerts, ledger, limits
from webapp.billing.models import PER_PERSON, STATES, STORE, Charge, PersonLimit
from webapp.billing.schemas import LimitBody, StoreLimitsBody
from webapp.core.bodies import parse_body, provided
from webapp.core.errors import StorehouseError
from webapp.extensions import db
from webapp.pagination import link_header, page_size, paginate
from webapp.stores.access import store_editor_required
from webapp.users.models import User

log = logging.getLogger("webapp.billing")


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


# -- spending limits of a store: /api/v1/s/<store>/limits ---------------------------------------


def _store_limits_payload(store):
    found = limits.store_limits(store.id)
    return {"store": limits.limit_payload(found[STORE]), "per_person": limits.limit_payload(found[PER_PERSON])}


@admin_required
@store_editor_required
def get_limits():
    """``{"store": limit | null, "per_person": limit | null}``; a limit is ``{"period", "amount",
    "currency", "alert_at"}`` (the amount an exact decimal string)."""
    return jsonify(_store_limits_payload(g.store))


@admin_required
@store_editor_required
def put_limits():
    """Set (an object) or remove (null) the store limit and the default per person; a field left
    out stays. The body is checked by ``StoreLimitsBody`` (422 naming each bad field)."""
    data = parse_body(StoreLimitsBody)
    sent = provided(data)
    for subject in (STORE, PER_PERSON):
        if subject in sent:
            value = getattr(data, subject)
            limits.set_store_limit(g.store.id, subject, value.values() if value is not None else None)
    alerts.reevaluate(g.store.id)  # who is over the new limits, at once
    db.session.commit()
    log.info("%s set the limits of store %s: %s", g.user.username, g.store.name, ", ".join(sorted(sent)) or "none")
    return jsonify(_store_limits_payload(g.store))


@admin_required
@store_editor_required
def delete_limits():
    """Remove the store limit and the default per person (people's own limits stay)."""
    for subject in (STORE, PER_PERSON):
        limits.set_store_limit(g.store.id, subject, None)
    alerts.reevaluate(g.store.id)
    db.session.commit()
    log.info("%s removed the limits of store %s", g.user.username, g.store.name)
    return jsonify(_store_limits_payload(g.store))


def _person(user_id):
    person = db.session.get(User, user_id)
    if person is None:
        raise NotFound("There is no such person.")
    return person


def _person_payload(store, person):
    override = db.session.get(PersonLimit, (store.id, person.id))
    default = limits.store_limits(store.id)[PER_PERSON]
    return {"user": {"id": person.id, "username": person.username},
            "limit": limits.limit_payload(override), "default": limits.limit_payload(default),
            "status": [s.payload() for s in limits.status_for(store.id, person.id)]}


@admin_required
@store_editor_required
def get_person_limit(user_id):
    """``{"user", "limit": this person's own limit | null, "default": the store's default per person |
    null, "status": [what applies to them now: spent, left, resets_at]}``."""
    return jsonify(_person_payload(g.store, _person(user_id)))


@admin_required
@store_editor_required
def put_person_limit(user_id):
    """Set this person's own limit in the store (in place of the default); body ``LimitBody``."""
    person = _person(user_id)
    data = parse_body(LimitBody)
    limits.set_person_limit(g.store.id, person.id, data.values())
    alerts.note(g.store.id, limits.current_status(g.store.id, person.id))
    db.session.commit()
    log.info("%s set the limit of %s in store %s", g.user.username, person.username, g.store.name)
    return jsonify(_person_payload(g.store, person))


@admin_required
@store_editor_required
def delete_person_limit(user_id):
    """Remove this person's own limit in the store: the store's default applies again."""
    person = _person(user_id)
    limits.set_person_limit(g.store.id, person.id, None)
    alerts.note(g.store.id, limits.current_status(g.store.id, person.id))  # the default applies again
    db.session.commit()
    log.info("%s removed the limit of %s in store %s", g.user.username, person.username, g.store.name)
    return jsonify(_person_payload(g.store, person))
