"""Background work of stores: keeping Casdoor Homepages in step with renames."""
import logging

from webapp.casdoor import get_casdoor
from webapp.casdoor.errors import CasdoorError, CasdoorUnavailable
from webapp.extensions import db
from webapp.jobs import PermanentFailure, RetryLater, job_handler
from webapp.stores import service
from webapp.stores.models import Store
from webapp.users.models import User

log = logging.getLogger("webapp.stores")


@job_handler("stores.set_casdoor_homepage", max_attempts=12, backoff_base=5, backoff_cap=900)
def set_casdoor_homepage(job):
    """Set a bound user's Homepage at Casdoor to their store's current name.

    The store's name is read when the job runs, so two quick renames end with
    the latest name. Until Casdoor confirms, the user stays bound through the
    store's former name (``StoreAlias``); once it does, the local copy follows
    and former names nobody uses any more are forgotten.
    """
    user = db.session.get(User, job.payload["user_id"])
    store = db.session.get(Store, job.payload["store_id"])
    if user is None or store is None:
        return  # deleted since: nothing left to keep in step
    if user.casdoor_homepage == store.name:
        service.prune_aliases(store)
        return
    casdoor = get_casdoor()
    if casdoor is None:
        raise PermanentFailure("Casdoor is not configured on this server (shadow mode): set the Homepage of "
                               f"{user.username} to '{store.name}' in Casdoor by hand.")
    try:
        casdoor.api.set_homepage(user.casdoor_name, store.name, owner=user.casdoor_org or None)
    except CasdoorUnavailable as exc:
        raise RetryLater(exc.message) from exc
    except CasdoorError as exc:  # refused, or the user is gone: retrying will not help
        raise PermanentFailure(f"{exc.message} {user.username} stays bound to '{store.name}' through its former "
                               "name; fix the account in Casdoor, then retry the job (flask jobs retry).") from exc
    user.casdoor_homepage = store.name
    db.session.flush()
    service.prune_aliases(store)
    log.info("Casdoor Homepage of %s is now %r", user.casdoor_name, store.name)
