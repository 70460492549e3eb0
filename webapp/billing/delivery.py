"""Delivering a charge to Casdoor exactly once: the ``billing.deliver_charge`` job.

Casdoor has no idempotency key (it names transactions itself), so delivery is
*check, then send*:

* the first attempt sends at once; any later one (a retry, a job taken over
  from a worker that died, a requeued charge) first looks the key up
  (``TransactionsClient.find``: ``subtype``, exact match) and adopts the
  transaction it finds instead of sending again;
* a send that ended without an answer (timeout, HTTP 5xx, connection dropped)
  may still be recorded by Casdoor after we gave up, so the lookup that
  follows waits longer than the Casdoor timeout (``ambiguous_at``);
* "Insufficient balance" at charge time: Casdoor inserted the row before it
  refused, so the row is looked up and named, the charge is recorded as
  ``refused`` and the user flagged overdrawn; it is never retried blindly;
* refusals retrying cannot change (unknown user, a refused field) are
  ``failed`` with Casdoor's reason for administrators, never retried forever;
* everything else (Casdoor unreachable) is retried with the job backoff and
  jitter, and after ``max_attempts`` the charge is ``failed`` with the reason
  (``flask billing reconcile --requeue`` sends it again, checking first).

The charges of one claimed batch are loaded in one statement and their outcomes
committed together (``commit_per_batch``: one savepoint per charge, one commit per
batch): a charge that fails is rolled back and retried alone, and a worker killed
before the commit leaves its charges to the next try, which looks them up first
(the try was not recorded) and adopts what Casdoor already holds.

Several workers never send one charge twice: a job is held by one worker under
a lease (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, a lease on SQLite), and the
handler renews the lease before it sends, so a worker that fell behind its
lease stops instead of sending what another worker now holds.
"""
import logging
import random
import threading
import time
from datetime import timedelta

import requests
import sqlalchemy as sa
from flask import current_app

from webapp.billing import service
from webapp.billing.client import TransactionDraft
from webapp.billing.errors import BillingRejected, InsufficientBalance
from webapp.billing.models import FAILED, LOCAL_ONLY, PENDING, REFUSED, Charge
from webapp.casdoor.errors import CasdoorError, CasdoorUnavailable
from webapp.core.clock import utcnow
from webapp.extensions import db
from webapp.jobs import PermanentFailure, RetryLater, job_handler
from webapp.jobs.jobqueue import backoff_delay

log = logging.getLogger("webapp.billing")

#: A lookup after an unanswered send waits this much longer than the Casdoor timeout.
AMBIGUITY_MARGIN = 1.0
#: Retries back off 1 s, 2 s, 4 s ... up to BACKOFF_CAP (with jitter): short enough that a
#: backlog drains within a minute of Casdoor coming back, and MAX_ATTEMPTS at that pace
#: keeps trying for about three hours before a charge is failed for an administrator.
BACKOFF_CAP = 20.0
MAX_ATTEMPTS = 600


def draft_for(charge, category):
    return TransactionDraft(key=charge.key, user=charge.casdoor_user, amount=charge.amount,
                            currency=charge.currency, created_at=charge.answered_at, chat=charge.chat_label,
                            provider=charge.provider, domain=charge.domain, category=category,
                            detail=charge.detail)


def load_charges(jobs):
    """Load the charges of a claimed batch in one statement and return them (each handler then
    finds its own in the session instead of reading it)."""
    ids = [job.payload.get("charge_id") for job in jobs]
    return db.session.execute(sa.select(Charge).where(Charge.id.in_([i for i in ids if i is not None]))
                              ).scalars().all()


@job_handler(service.DELIVER_JOB, max_attempts=MAX_ATTEMPTS, lease_seconds=60, backoff_base=1.0,
             backoff_cap=BACKOFF_CAP, commit_per_batch=True, prepare=load_charges)
def deliver_charge(job):
    """Deliver one charge (payload ``{"charge_id"}``); flushes, the job runner commits."""
    if not _lease_is_fresh(job) and not job.heartbeat():
        return  # another worker holds this job now
    charge = db.session.get(Charge, job.payload["charge_id"])
    if charge is None or charge.state != PENDING:
        return
    client = service.transactions_client()
    if client is None:
        charge.state = LOCAL_ONLY
        charge.reason = "Casdoor is not configured: recorded here only."
        return
    # A try of this job that recorded nothing (its worker died, maybe mid-send) counts as
    # ambiguous; tries recorded as "never reached Casdoor" (connection refused) do not.
    unrecorded = job.attempt - 1 - charge.tries_recorded
    charge.tries_recorded = job.attempt
    timeout = client.casdoor.settings.timeout
    now = utcnow()
    if charge.ambiguous_at is not None:
        ready = charge.ambiguous_at + timedelta(seconds=timeout + AMBIGUITY_MARGIN)
        if now < ready:
            # Casdoor may still be working on the send we stopped waiting for.
            raise RetryLater("Waiting for Casdoor to finish the last attempt before looking it up.",
                             delay=(ready - now).total_seconds() + random.uniform(0, 0.5))
    if unrecorded > 0 or charge.ambiguous_at is not None:
        try:
            found = client.find(charge.key)
        except CasdoorError as exc:
            _retry(job, charge, f"Could not look the charge up at Casdoor: {exc.message}")
        if found is not None:
            _adopt(charge, found)
            return
        charge.ambiguous_at = None
    try:
        charge.attempts += 1
        name = client.add(draft_for(charge, current_app.config["BILLING_CATEGORY"]))
    except CasdoorUnavailable as exc:
        if never_reached(exc):
            charge.attempts -= 1
            _retry(job, charge, exc.message)
        _unanswered(job, charge, exc, timeout)
    except InsufficientBalance as exc:
        _refused(client, charge, exc)
        return
    except BillingRejected as exc:
        _failed(client, charge, exc)
    except CasdoorError as exc:
        # An answer that is not Casdoor's, or a refused read: configuration, not the charge.
        _retry(job, charge, f"Casdoor answered unexpectedly: {exc.message}")
    else:
        service.mark_delivered(charge, name)


#: When this process first ran a job of each claim (jobs of one claim share its lease token).
_claims_seen = {}
_claims_lock = threading.Lock()


def _lease_is_fresh(job):
    """True while the claim is young enough that its lease cannot have lapsed before this
    charge is sent (a third of the lease has not passed since the claim's first job started).
    Older claims renew the lease (one write) before sending, so a worker that fell behind
    its lease never sends what another worker took over."""
    now = time.monotonic()
    with _claims_lock:
        first = _claims_seen.setdefault(job.token, now)
        if len(_claims_seen) > 1000:
            for token, seen in list(_claims_seen.items()):
                if now - seen > job.spec.lease_seconds:
                    del _claims_seen[token]
    return now - first < job.spec.lease_seconds / 3


def never_reached(exc):
    """True when the request certainly never reached Casdoor (no connection was made), so
    nothing can have been recorded: no wait and no lookup are needed before the next try."""
    cause = exc.__context__
    if isinstance(cause, requests.ConnectTimeout):
        return True
    return (isinstance(cause, requests.ConnectionError) and not isinstance(cause, requests.Timeout)
            and "NewConnectionError" in repr(cause.args))


def _adopt(charge, found):
    if (found.user, found.amount, found.currency) != (charge.casdoor_user, charge.amount, charge.currency):
        charge.state = FAILED
        charge.casdoor_name = found.name
        charge.reason = (f"Casdoor holds a different transaction under this key ({found.user}, {found.amount} "
                         f"{found.currency}); check it in Casdoor.")
        raise PermanentFailure(charge.reason)
    log.info("Charge %s was already at Casdoor as %s; adopted", charge.id, found.name)
    service.mark_delivered(charge, found.name)


def _unanswered(job, charge, exc, timeout):
    charge.ambiguous_at = utcnow()
    delay = max(timeout + AMBIGUITY_MARGIN, 0.0) + random.uniform(0, 1.0)
    _retry(job, charge, exc.message, minimum=delay)


def _retry(job, charge, reason, minimum=0.0):
    if job.attempt >= job.max_attempts:
        charge.state = FAILED
        charge.reason = (f"Gave up after {job.attempt} attempts: {reason} Send it again with "
                         "`flask billing reconcile --requeue` once Casdoor is back.")
        charge.next_attempt_at = None
        raise PermanentFailure(charge.reason)
    delay = max(backoff_delay(job.spec, job.attempt), minimum)
    charge.reason = reason
    charge.next_attempt_at = utcnow() + timedelta(seconds=delay)
    raise RetryLater(reason, delay=delay)


def _lookup_left_row(client, charge):
    """The row a refused add left at Casdoor, named on the charge if Casdoor says."""
    try:
        found = client.find(charge.key)
    except CasdoorError as exc:
        log.warning("Charge %s: could not look up the row Casdoor left: %s", charge.id, exc)
        return
    if found is not None:
        charge.casdoor_name = found.name


def _refused(client, charge, exc):
    if exc.may_be_recorded:
        _lookup_left_row(client, charge)
    charge.state = REFUSED
    charge.next_attempt_at = None
    charge.reason = f"Casdoor refused the charge for lack of balance: {exc.casdoor_message or exc.message}"
    service.flag_overdrawn(charge.user_id, charge.reason)
    log.warning("Charge %s refused by Casdoor: %s", charge.id, charge.reason)


def _failed(client, charge, exc):
    if exc.may_be_recorded:
        _lookup_left_row(client, charge)
    charge.state = FAILED
    charge.next_attempt_at = None
    charge.reason = exc.message
    raise PermanentFailure(f"Charge {charge.id}: {exc.message}")
