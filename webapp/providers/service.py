"""Model provider rows: create, change, delete, the default, a store's choice.

Services flush and never commit; callers (views, the CLI) commit.

**The default.** A store answers with its own provider (``stores.provider_id``)
or else the default provider. When no provider exists at all, the first answer
(or ``flask chat init-provider``) creates "Local": SmolLM2-135M-Instruct run in
this process by llama.cpp, price zero, made the default
(``ensure_default_provider``). Deleting the default leaves none until another
is chosen or the next answer creates Local again.

**The API key** is write-only: stored encrypted (``webapp.crypto``, purpose
``provider-api-key``), decrypted only into a ``ProviderConfig`` (whose repr
leaves it out) for the model call, never rendered, logged or returned.
"""
from decimal import Decimal, InvalidOperation

from webapp import crypto
from webapp.core import money
from webapp.core.errors import StorehouseError
from webapp.extensions import db
from webapp.providers.interface import ProviderConfig
from webapp.providers.models import Provider
from webapp.providers.tokens import BUNDLED_MODEL

KEY_PURPOSE = "provider-api-key"
LOCAL_NAME = "Local"
#: Column limits, shared by the forms and the JSON schemas.
NAME_MAX, URL_MAX, MODEL_MAX, KEY_MAX = 100, 500, 200, 2000
CONTEXT_RANGE = (256, 1_000_000)
MAX_TOKENS_RANGE = (1, 100_000)
TIMEOUT_RANGE = (1, 600)
#: Prices per million tokens: 0 to 10 million with at most 8 decimals (Numeric(18, 8)).
PRICE_MAX = Decimal("10000000")
CURRENCIES = ("USD", "EUR", "CNY", "GBP", "JPY")
#: Fields an administrator sets (the key apart).
FIELDS = ("name", "kind", "base_url", "model", "context_length", "max_tokens", "timeout",
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
    kind = values.get("kind", current.kind if current else "local")
    if kind not in ("local", "openai"):
        raise ProviderSettingsError("Kind is 'local' or 'openai'.", field="kind", status_code=422)
    base_url = values.get("base_url", current.base_url if current else "")
    model = values.get("model", current.model if current else "")
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
    provider = Provider(**{k: v for k, v in values.items() if k in FIELDS})
    if api_key:
        provider.api_key_encrypted = crypto.encrypt(api_key, KEY_PURPOSE)
    db.session.add(provider)
    db.session.flush()
    if make_default or default_provider() is None:
        set_default(provider)
    return provider


def update_provider(provider, values, api_key=None, clear_api_key=False):
    """Change ``values``; ``api_key`` None or "" keeps the stored key unless ``clear_api_key``."""
    values = dict(values)
    _check(values, current=provider)
    for key, value in values.items():
        if key in FIELDS:
            setattr(provider, key, value)
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


def set_default(provider):
    db.session.execute(db.update(Provider).where(Provider.is_default.is_(True), Provider.id != provider.id)
                       .values(is_default=False))
    db.session.flush()
    provider.is_default = True
    db.session.flush()


def default_provider():
    return db.session.execute(db.select(Provider).filter(Provider.is_default.is_(True))).scalar_one_or_none()


def ensure_default_provider():
    """The default provider, creating "Local" (SmolLM2 in-process, price zero) when none exists."""
    provider = default_provider()
    if provider is not None:
        return provider
    existing = db.session.execute(db.select(Provider).filter(Provider.name == LOCAL_NAME)).scalar_one_or_none()
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
        if provider is not None:
            return provider
    if store.model_provider and store.model_provider.lower() not in ("local", "default"):
        # Chosen by name on the store's settings page.
        provider = find_provider(store.model_provider)
        if provider is not None:
            return provider
    return default_provider()


def runs_demo_model(provider):
    """True when ``provider`` answers with the built-in tiny model (SmolLM2-135M in this process);
    None stands for the Local provider the first answer creates."""
    if provider is None:
        return True
    return provider.kind == "local" and (provider.model or "").strip().lower() in ("", BUNDLED_MODEL.lower())


def find_provider(name_or_id):
    """A provider by name (ignoring case) or by id given as digits, or None."""
    query = db.select(Provider).filter(db.func.lower(Provider.name) == str(name_or_id).lower())
    provider = db.session.execute(query).scalar_one_or_none()
    if provider is None and str(name_or_id).isdigit():
        provider = db.session.get(Provider, int(name_or_id))
    return provider


def assign_store_provider(store, name):
    """Point ``store`` at the provider named ``name``.

    "local" (the built-in model's word) with no provider of that name means the
    default provider (``provider_id`` NULL); any other unknown name is refused.

    :raises ProviderSettingsError: (422, field ``model_provider``) no such provider.
    """
    provider = find_provider(name)
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
        "id": provider.id, "name": provider.name, "kind": provider.kind, "base_url": provider.base_url,
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
