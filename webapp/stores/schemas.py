"""JSON bodies of the stores API (``webapp.stores.api``), checked by ``parse_body``.

Limits and the name rule come from ``webapp.stores.rules``, shared with the
forms. Optional fields default to None, which pydantic does not validate: a
field left out is "not sent" (see ``provided``), while an explicit ``null`` is
refused like any other wrong type. Business rules that need the database (a
name taken, the default store) stay in ``webapp.stores.service``.
"""
from typing import Annotated

from pydantic import AfterValidator, Field, StringConstraints, ValidationInfo

from webapp.core.bodies import Body, line, text
from webapp.stores import rules


def _store_name(value, info: ValidationInfo):
    """The name rule, except for a name the store already has (``context={"current_name": ...}``):
    stores named before the rule keep working through PATCH bodies that repeat their name."""
    if value == (info.context or {}).get("current_name"):
        return value
    problem = rules.name_problem(value)
    if problem:
        raise ValueError(problem)
    return value


#: Stripped, then the rule (the 1,000-character cap keeps absurd input out of the rule's message).
StoreName = Annotated[str, StringConstraints(strip_whitespace=True, max_length=1000), AfterValidator(_store_name)]


class StoreSettings(Body):
    """The settings any store editor may change."""

    display_name: line(rules.DISPLAY_NAME_MAX, min_length=0) = None
    description: text(rules.DESCRIPTION_MAX) = None
    welcome_text: text(rules.WELCOME_TEXT_MAX) = None
    system_prompt: text(rules.SYSTEM_PROMPT_MAX) = None
    model_provider: line(rules.MODEL_PROVIDER_MAX) = None
    knowledge_count: Annotated[int, Field(ge=rules.KNOWLEDGE_COUNT_RANGE[0], le=rules.KNOWLEDGE_COUNT_RANGE[1])] = None
    memory_limit: Annotated[int, Field(ge=rules.MEMORY_LIMIT_RANGE[0], le=rules.MEMORY_LIMIT_RANGE[1])] = None

    def settings(self):
        """``{setting: value}`` of the settings the client sent."""
        return {name: getattr(self, name) for name in StoreSettings.model_fields if name in self.model_fields_set}


class CreateStore(StoreSettings):
    """``POST /api/v1/stores/``."""

    name: StoreName
    is_active: bool = True


class UpdateStore(StoreSettings):
    """``PATCH /api/v1/s/<store>/``: every field optional; validate with ``context={"current_name": ...}``."""

    name: StoreName = None
    is_active: bool = None
    is_default: bool = None
    #: On a rename, also update the bound users' Homepage at Casdoor (background jobs).
    update_casdoor: bool = False
    #: The embedding provider's name, or "none" for full-text search only.
    embedding_provider: line(rules.MODEL_PROVIDER_MAX) = None


class CreateDocument(Body):
    """``POST /api/v1/s/<store>/documents/``."""

    title: line(rules.TITLE_MAX)
    body: text(rules.BODY_MAX) = ""


class UpdateDocument(Body):
    """``PATCH /api/v1/s/<store>/documents/<id>``: send the fields to change."""

    title: line(rules.TITLE_MAX) = None
    body: text(rules.BODY_MAX) = None
