"""Admin > Security log, its CSV export, and ``GET /api/v1/audit/events`` (administrators).

A bound administrator sees only the events of their store's people (those the
user list shows them); filters: person (username), store, kind, date range.
Newest first, keyset-paginated on ``(created_at, id)``.
"""
import csv
import io
from datetime import date, datetime, time, timedelta

import sqlalchemy as sa
from flask import Response, g, jsonify, render_template, request, stream_with_context

from webapp.audit import KINDS
from webapp.audit.models import AuditEvent
from webapp.auth.decorators import admin_required
from webapp.core.bodies import InvalidFields
from webapp.extensions import db
from webapp.pagination import page_size, paginate
from webapp.stores import access, reports
from webapp.users.models import User

ORDER = [(AuditEvent.created_at, "desc"), (AuditEvent.id, "desc")]
#: Rows read per query while a CSV export streams.
EXPORT_BATCH = 1000
CSV_COLUMNS = ["time", "kind", "person", "actor", "store", "source", "ip", "user_agent", "detail"]


def visible_events():
    """The events the signed-in administrator may read (a ``select``)."""
    own = access.binding_of(g.user)
    query = sa.select(AuditEvent)
    if own.is_bound:
        people = reports.bound_users_query(own.store).with_only_columns(User.id)
        return query.where(AuditEvent.user_id.in_(people))
    if own.is_shut_out:
        return query.where(sa.false())
    return query


def _day(value, field):
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidFields({field: "must be a date such as 2026-12-07"}) from None


def read_filters(args):
    """``(filters, conditions)`` from the query string.

    :raises InvalidFields: a kind that does not exist or a date that is not one (naming the field).
    """
    filters = {name: (args.get(name) or "").strip()[:255] for name in ("person", "store", "kind", "since", "until")}
    conditions = []
    if filters["person"]:
        person = db.session.execute(sa.select(User.id).filter_by(username=filters["person"])).scalar_one_or_none()
        conditions.append(AuditEvent.user_id == person if person is not None else sa.false())
    if filters["store"]:
        own = access.binding_of(g.user)
        if own.is_bound and filters["store"] != own.store.name:
            # Another store's events are never theirs to see; nor is the name echoed back
            # (whether it exists is not theirs to learn either).
            filters["store"] = ""
            conditions.append(sa.false())
        else:
            conditions.append(AuditEvent.store == filters["store"])
    if filters["kind"]:
        if filters["kind"] not in KINDS:
            raise InvalidFields({"kind": f"must be one of: {', '.join(KINDS)}"})
        conditions.append(AuditEvent.kind == filters["kind"])
    if filters["since"]:
        conditions.append(AuditEvent.created_at >= datetime.combine(_day(filters["since"], "since"), time.min))
    if filters["until"]:
        end = datetime.combine(_day(filters["until"], "until"), time.min) + timedelta(days=1)
        conditions.append(AuditEvent.created_at < end)
    return filters, conditions


def _query(conditions):
    return visible_events().where(*conditions)


def event_payload(event):
    return {"id": event.id, "time": event.created_at.isoformat() + "Z", "kind": event.kind,
            "person": event.username or None, "actor": event.actor_name or None, "store": event.store or None,
            "source": event.source, "ip": event.ip, "user_agent": event.user_agent, "detail": event.detail}


@admin_required
def security_log():
    """The page: filters, a page of events, the export link."""
    error = None
    try:
        filters, conditions = read_filters(request.args)
    except InvalidFields as exc:
        error = exc.message
        filters, conditions = {name: request.args.get(name, "") for name in ("person", "store", "kind", "since",
                                                                              "until")}, [sa.false()]
    page = paginate(_query(conditions), order=ORDER, cursor=request.args.get("cursor"), limit=page_size())
    return render_template("useradmin/security_log.html", page=page, filters=filters, kinds=KINDS, error=error,
                           binding=access.binding_of(g.user)), (200 if error is None else 400)


def _csv_cell(value):
    text = "" if value is None else str(value)
    # A spreadsheet runs cells that start like a formula: keep them text.
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _csv_rows(conditions):
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    cursor = None
    while True:
        page = paginate(_query(conditions), order=ORDER, cursor=cursor, limit=EXPORT_BATCH)
        for event in page.items:
            writer.writerow([_csv_cell(v) for v in (
                event.created_at.isoformat() + "Z", event.kind, event.username, event.actor_name, event.store,
                event.source, event.ip, event.user_agent, _detail(event))])
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        if not page.has_next:
            return
        cursor = page.next_cursor


def _detail(event):
    return "; ".join(f"{key}={value}" for key, value in sorted((event.detail or {}).items()))


@admin_required
def export_security_log():
    """The filtered events as CSV, streamed a batch at a time."""
    _, conditions = read_filters(request.args)
    return Response(stream_with_context(_csv_rows(conditions)), mimetype="text/csv",
                    headers={"Content-Disposition": "attachment; filename=security-log.csv"})


@admin_required
def list_events():
    """``GET /api/v1/audit/events``: ``{"events": [...], "next_cursor"}``; 422 names a bad filter."""
    _, conditions = read_filters(request.args)
    page = paginate(_query(conditions), order=ORDER, cursor=request.args.get("cursor"), limit=page_size())
    return jsonify(events=[event_payload(event) for event in page.items], next_cursor=page.next_cursor)
