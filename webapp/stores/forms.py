"""Store and document forms: every field checked at once, messages in the label's words.

Limits and the name rule come from ``webapp.stores.rules`` (shared with the
JSON schemas); services still check what needs the database (a name taken,
the default store), and views show those errors next to their field too.
"""
from flask_wtf import FlaskForm
from wtforms import BooleanField, StringField, TextAreaField
from wtforms.validators import Optional, StopValidation

from webapp.core.forms import MaxLength, NumberBetween, PlainText, Required, WholeNumberField, strip
from webapp.stores import rules
from webapp.stores.service import SETTINGS, name_conflict


class StoreNameRule:
    """The store name rule and uniqueness (former names included), for creating
    (``current`` None) or renaming a store.

    A store keeps its own name even when that name predates the rule.
    """

    def __init__(self, current=None):
        self.current = current

    def __call__(self, form, field):
        name = field.data or ""
        if self.current is not None and name == self.current.name:
            return
        problem = rules.name_problem(name)
        if problem:
            raise StopValidation(problem)
        conflict = name_conflict(name, current=self.current)
        if conflict is not None:
            raise StopValidation(conflict[0])


def _one_line(limit, *validators):
    return [*validators, MaxLength(limit), PlainText()]


def _many_lines(limit):
    return [MaxLength(limit), PlainText(multiline=True)]


class StoreSettingsForm(FlaskForm):
    display_name = StringField("Display name", filters=[strip],
                               validators=_one_line(rules.DISPLAY_NAME_MAX),
                               description=f"Shown instead of the name; at most {rules.DISPLAY_NAME_MAX} characters.")
    description = TextAreaField("Description", validators=_many_lines(rules.DESCRIPTION_MAX))
    welcome_text = TextAreaField("Welcome text", validators=_many_lines(rules.WELCOME_TEXT_MAX))
    system_prompt = TextAreaField("System prompt", validators=_many_lines(rules.SYSTEM_PROMPT_MAX))
    model_provider = StringField("Model provider", default="local", filters=[strip],
                                 validators=_one_line(rules.MODEL_PROVIDER_MAX,
                                                      Required("a model provider (local is the built-in model)")))
    knowledge_count = WholeNumberField("Knowledge chunks per answer", default=5,
                                       validators=[NumberBetween(*rules.KNOWLEDGE_COUNT_RANGE)])
    memory_limit = WholeNumberField("Earlier messages remembered", default=10,
                                    validators=[NumberBetween(*rules.MEMORY_LIMIT_RANGE)])
    is_active = BooleanField("Active (people can use it)", default=True)

    def settings(self):
        return {name: getattr(self, name).data for name in SETTINGS}


class EditStoreForm(StoreSettingsForm):
    """An existing store's settings, with the provider that embeds its knowledge."""

    #: Left empty: unchanged.
    embedding_provider = StringField("Embedding provider", filters=[strip],
                                     validators=_one_line(rules.MODEL_PROVIDER_MAX))


class CreateStoreForm(StoreSettingsForm):
    name = StringField("Name", filters=[strip], validators=[StoreNameRule()],
                       render_kw={"maxlength": rules.NAME_MAX_LENGTH},
                       description=f"Used in addresses and matched exactly against Casdoor Homepages: "
                                   f"{rules.NAME_RULE}.")


class RenameStoreForm(FlaskForm):
    name = StringField("New name", filters=[strip], render_kw={"maxlength": rules.NAME_MAX_LENGTH},
                       description=f"{rules.NAME_RULE[0].upper()}{rules.NAME_RULE[1:]}.")
    update_casdoor = BooleanField("Also update the Homepage of the bound users in Casdoor",
                                  validators=[Optional()])

    def __init__(self, *args, store, **kwargs):
        super().__init__(*args, **kwargs)
        self.store = store

    def validate_name(self, field):
        StoreNameRule(current=self.store)(self, field)


class DocumentForm(FlaskForm):
    title = StringField("Title", filters=[strip], validators=_one_line(rules.TITLE_MAX, Required()))
    body = TextAreaField("Text", validators=_many_lines(rules.BODY_MAX))
