"""The local ledger against Casdoor's transactions of this application.

Three kinds of difference, amounts compared to the last (8th) decimal:

* **missing**: a charge Casdoor should hold (delivered, or still pending,
  refused or failed) with no Casdoor transaction under its key;
* **extra**: a Casdoor transaction of this application under no key we know
  (another client's, or made by hand);
* **mismatched**: both sides hold the key, but user, amount or currency differ.

Pending charges that are already at Casdoor are not differences: delivery
adopts them. ``requeue`` sends the missing ones again (pending, with a
delivery job; delivery looks the key up first, so a charge that lands
meanwhile is adopted, not sent twice).
"""
from dataclasses import dataclass, field

import sqlalchemy as sa

from webapp.billing import service
from webapp.billing.models import DELIVERED, FAILED, LOCAL_ONLY, PENDING, REFUSED, Charge, ReconcileRun
from webapp.core.clock import utcnow
from webapp.extensions import db

#: Differences named in a run's report (the counts are always complete).
REPORT_LINES = 50
CHUNK = 1000


@dataclass
class Outcome:
    checked: int = 0
    missing: list = field(default_factory=list)
    extra: list = field(default_factory=list)
    mismatched: list = field(default_factory=list)
    requeued: int = 0

    @property
    def is_clean(self):
        return not (self.missing or self.extra or self.mismatched)

    def lines(self):
        out = [f"missing   charge {c.id} key {c.key} {c.amount} {c.currency} ({c.state})" for c in self.missing]
        out += [f"extra     Casdoor {t.name} key {t.key or '-'} {t.user} {t.amount} {t.currency}" for t in self.extra]
        out += [f"mismatch  charge {c.id} key {c.key}: here {c.casdoor_user} {c.amount} {c.currency}, "
                f"Casdoor {t.user} {t.amount} {t.currency}" for c, t in self.mismatched]
        return out


def reconcile(client, *, since=None, requeue=False):
    """Compare, record a ``ReconcileRun`` and, with ``requeue``, queue the missing charges (flushes).

    :raises CasdoorUnavailable: Casdoor stopped answering midway (nothing is recorded).
    """
    remote = {}
    extra = []
    for transaction in client.iter_transactions(since):
        if transaction.key:
            remote[transaction.key] = transaction
        else:
            extra.append(transaction)
    outcome = Outcome(extra=extra)
    known = set()
    query = sa.select(Charge).where(Charge.state != LOCAL_ONLY).order_by(Charge.id)
    if since is not None:
        query = query.where(Charge.answered_at >= since)
    last_id = 0
    while True:
        chunk = db.session.execute(query.where(Charge.id > last_id).limit(CHUNK)).scalars().all()
        if not chunk:
            break
        for charge in chunk:
            outcome.checked += 1
            known.add(charge.key)
            found = remote.get(charge.key)
            if found is None:
                if charge.state in (DELIVERED, PENDING, FAILED) or (charge.state == REFUSED and charge.casdoor_name):
                    if charge.state != PENDING or charge.attempts:
                        outcome.missing.append(charge)
                continue
            if (found.user, found.amount, found.currency) != (charge.casdoor_user, charge.amount, charge.currency):
                outcome.mismatched.append((charge, found))
        last_id = chunk[-1].id
    # Keys Casdoor holds that the ledger (in this window) does not: extra, unless a charge
    # outside the window has them.
    unknown = [key for key in remote if key not in known]
    for start in range(0, len(unknown), CHUNK):
        keys = unknown[start:start + CHUNK]
        have = set(db.session.execute(sa.select(Charge.key).where(Charge.key.in_(keys))).scalars())
        outcome.extra.extend(remote[key] for key in keys if key not in have)
    if requeue:
        for charge in outcome.missing:
            if charge.state != REFUSED:
                service.requeue(charge)
                outcome.requeued += 1
    lines = outcome.lines()
    db.session.add(ReconcileRun(
        started_at=utcnow(), since=since, checked=outcome.checked, missing=len(outcome.missing),
        extra=len(outcome.extra), mismatched=len(outcome.mismatched), requeued=outcome.requeued,
        report="\n".join(lines[:REPORT_LINES]) + (f"\n... and {len(lines) - REPORT_LINES} more"
                                                  if len(lines) > REPORT_LINES else "")))
    db.session.flush()
    return outcome


def last_run():
    return db.session.execute(sa.select(ReconcileRun).order_by(ReconcileRun.id.desc()).limit(1)).scalar_one_or_none()


def health(now=None, scope=None):
    """Delivery health in two queries: pending count, oldest pending, failed and refused counts."""
    now = now or utcnow()
    # Only the states that need attention: each an index range (delivered charges are the bulk).
    by_state = dict(db.session.execute(sa.select(Charge.state, sa.func.count())
                                       .where(Charge.state.in_([PENDING, FAILED, REFUSED]),
                                              scope if scope is not None else sa.true())
                                       .group_by(Charge.state)).all())
    oldest = db.session.execute(sa.select(sa.func.min(Charge.created_at))
                                .where(Charge.state == PENDING, scope if scope is not None else sa.true())).scalar()
    return {"pending": by_state.get(PENDING, 0), "oldest_pending_at": oldest,
            "oldest_pending_seconds": int((now - oldest).total_seconds()) if oldest else 0,
            "by_state": by_state}
