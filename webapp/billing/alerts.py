"""Limit alerts: a threshold or a limit reached in a period, recorded once, sent once.

After an answer under limits settles (``service.settle``), and when a limit refuses an
answer (``service.reserve``), :func:`note` compares each limit's period spend with its
threshold and its amount. The first time in a period that a level is reached, a
``LimitAlert`` row is added (its unique key makes that once per limit, level and
period, however many answers race) and, when ``BILLING_ALERT_WEBHOOK_URL`` is set, a
``billing.limit_alert`` job that POSTs the event there; the job is retried like any
other (a non-2xx answer or no answer is retried with backoff; 4xx other than 408/429 fails
it for good). Everything here flushes; the caller commits.

The event (JSON)::

    {"event": "limit.threshold" | "limit.reached", "store": "research", "person": "lou" | null,
     "limit": {"subject": "store" | "per_person", "period": "day", "amount": "10.00000000",
               "currency": "USD"},
     "spent": "8.50000000", "period": {"name": "day", "start": "2026-03-10",
     "resets_at": "2026-03-11T00:00:00Z"}, "at": "2026-03-10T15:30:00Z", "id": 17}
"""
import logging
from datetime import timedelta

import requests
import sqlalchemy as sa
from flask import current_app
from sqlalchemy.exc import IntegrityError

from webapp.billing import limits
from webapp.billing.limits import period_of
from webapp.billing.models import PER_PERSON, STORE, LimitAlert, PersonLimit
from webapp.chat.rollup import day_start_utc, zone
from webapp.core.clock import utcnow
from webapp.database import savepoint
from webapp.extensions import db
from webapp.jobs import PermanentFailure, RetryLater, enqueue, job_handler
from webapp.stores.models import Store
from webapp.users.models import User

log = logging.getLogger("webapp.billing")

THRESHOLD, REACHED = "threshold", "limit"
WEBHOOK_JOB = "billing.limit_alert"
WEBHOOK_TIMEOUT = 10


def _levels(status, refused_subject):
    """The levels ``status`` has reached: reaching the limit passes the threshold too."""
    reached = status.at_limit or status.limit.subject == refused_subject
    if reached or status.over_threshold:
        yield THRESHOLD
    if reached:
        yield REACHED


def note(store_id, statuses, *, refused_subject=None, session=None):
    """Record the thresholds and limits reached among ``statuses`` (``limits.Status`` of one person in
    one store), once per limit, level and period, and queue their webhook events. Flush only.

    :param refused_subject: the limit ("store" / "per_person") that just refused an answer: it counts
        as reached even when what is left is above zero (but below the answer's bound).
    :returns: the new ``LimitAlert`` rows.
    """
    session = session or db.session
    wanted = []
    for status in statuses:
        for level in _levels(status, refused_subject):
            if (status, level) not in wanted:
                wanted.append((status, level))
    if not wanted:
        return []
    keys = {(s.limit.user_id or 0, s.limit.subject, s.period.first, level) for s, level in wanted}
    existing = set(session.execute(
        sa.select(LimitAlert.user_id, LimitAlert.subject, LimitAlert.period_start, LimitAlert.level)
        .where(LimitAlert.store_id == store_id,
               sa.tuple_(LimitAlert.user_id, LimitAlert.subject, LimitAlert.period_start, LimitAlert.level)
               .in_(list(keys)))).all())
    url = current_app.config.get("BILLING_ALERT_WEBHOOK_URL") or ""
    added = []
    for status, level in wanted:
        key = (status.limit.user_id or 0, status.limit.subject, status.period.first, level)
        if key in existing:
            continue
        alert = LimitAlert(store_id=store_id, user_id=key[0], subject=key[1], level=level,
                           period=status.period.name, period_start=status.period.first,
                           amount=status.limit.amount, spent=status.spent, currency=status.limit.currency,
                           created_at=utcnow())
        try:
            with savepoint():
                session.add(alert)
        except IntegrityError:
            continue  # a concurrent answer recorded it first: it sends the event
        added.append(alert)
        if url:
            enqueue(WEBHOOK_JOB, {"alert_id": alert.id}, dedupe_key=f"limit-alert:{alert.id}")
    return added


def reevaluate(store_id, session=None):
    """After an administrator set, changed or removed a limit of ``store_id``: make this period's alerts
    say who is over which limit now (flush only; the view commits).

    Adds what the new limits make reached (the store limit; everyone under the default per-person
    limit whose period spend passes it: ``limits.people_over_default``, from the rollup) and drops the
    alerts of the store limit and of the default that the new amounts no longer reach (a raised
    limit), so *Admin > Billing > Limits* is right at once and a level reached again under the new
    amount is sent again. People with their own limit keep theirs (it did not change).

    :returns: ``(added, dropped)`` counts.
    """
    session = session or db.session
    statuses = limits.current_status(store_id, session=session) + limits.people_over_default(store_id, session)
    reached = {(s.limit.user_id or 0, s.limit.subject, s.period.first, level)
               for s in statuses for level in _levels(s, None)}
    overridden = sa.select(PersonLimit.user_id).where(PersonLimit.store_id == store_id)
    standing = session.execute(
        sa.select(LimitAlert).where(LimitAlert.store_id == store_id, limits.current_alerts(),
                                    sa.or_(LimitAlert.subject == STORE,
                                           sa.and_(LimitAlert.subject == PER_PERSON,
                                                   LimitAlert.user_id.not_in(overridden))))).scalars().all()
    dropped = [alert for alert in standing
               if (alert.user_id, alert.subject, alert.period_start, alert.level) not in reached]
    if dropped:
        session.execute(sa.delete(LimitAlert).where(LimitAlert.id.in_([alert.id for alert in dropped])))
    added = note(store_id, statuses, session=session)
    return len(added), len(dropped)


def event_of(alert, store_name, username):
    """The JSON event of ``alert`` (see the module doc)."""
    period = period_of(alert.period, day_start_utc(alert.period_start) + timedelta(hours=12), zone())
    return {
        "id": alert.id,
        "event": "limit.threshold" if alert.level == THRESHOLD else "limit.reached",
        "store": store_name,
        "person": username,
        "limit": {"subject": alert.subject, "period": alert.period, "amount": format(alert.amount, "f"),
                  "currency": alert.currency},
        "spent": format(alert.spent, "f"),
        "period": {"name": alert.period, "start": alert.period_start.isoformat(),
                   "resets_at": period.resets_at.isoformat() + "Z"},
        "at": alert.created_at.isoformat() + "Z",
    }


@job_handler(WEBHOOK_JOB, max_attempts=10, lease_seconds=60, backoff_base=2.0, backoff_cap=600.0)
def send_alert(job):
    """POST one alert's event to ``BILLING_ALERT_WEBHOOK_URL`` (payload ``{"alert_id"}``)."""
    url = current_app.config.get("BILLING_ALERT_WEBHOOK_URL") or ""
    if not url:
        return  # switched off since: nothing to send
    alert = db.session.get(LimitAlert, job.payload["alert_id"])
    if alert is None:
        return  # its store was deleted
    store_name = db.session.execute(sa.select(Store.name).where(Store.id == alert.store_id)).scalar()
    username = (db.session.execute(sa.select(User.username).where(User.id == alert.user_id)).scalar()
                if alert.user_id else None)
    event = event_of(alert, store_name, username)
    try:
        response = requests.post(url, json=event, timeout=WEBHOOK_TIMEOUT,
                                 headers={"User-Agent": "Storehouse limit alerts"})
    except requests.RequestException as exc:
        raise RetryLater(f"The alert webhook did not answer: {type(exc).__name__}") from None
    if 200 <= response.status_code < 300:
        log.info("Limit alert %s sent (%s, store %s)", alert.id, event["event"], store_name)
        return
    if 400 <= response.status_code < 500 and response.status_code not in (408, 429):
        raise PermanentFailure(f"The alert webhook refused the event: HTTP {response.status_code}")
    raise RetryLater(f"The alert webhook answered HTTP {response.status_code}")
