"""Store and document forms. Rules live in ``service``; forms only shape input."""
from flask_wtf import FlaskForm
from wtforms import BooleanField, IntegerField, StringField, TextAreaField
from wtforms.validators import InputRequired, Optional

from webapp.stores.models import NAME_MAX_LENGTH


class StoreSettingsForm(FlaskForm):
    display_name = StringField("Display name")
    description = TextAreaField("Description")
    welcome_text = TextAreaField("Welcome text")
    system_prompt = TextAreaField("System prompt")
    model_provider = StringField("Model provider", default="local")
    knowledge_count = IntegerField("Knowledge chunks per answer", default=5,
                                   validators=[InputRequired("Enter a whole number.")])
    memory_limit = IntegerField("Earlier messages remembered", default=10,
                                validators=[InputRequired("Enter a whole number.")])
    is_active = BooleanField("Active (people can use it)", default=True)

    def settings(self):
        from webapp.stores.service import SETTINGS

        return {name: getattr(self, name).data for name in SETTINGS}


class CreateStoreForm(StoreSettingsForm):
    name = StringField("Name", render_kw={"maxlength": NAME_MAX_LENGTH},
                       description="Used in addresses and matched exactly against Casdoor Homepages. "
                                   "Up to 100 characters, none of / ? : # & % = + ;")


class RenameStoreForm(FlaskForm):
    name = StringField("New name", render_kw={"maxlength": NAME_MAX_LENGTH})
    update_casdoor = BooleanField("Also update the Homepage of the bound users in Casdoor",
                                  validators=[Optional()])


class ConfirmForm(FlaskForm):
    """A confirmation page's form: only the CSRF token."""


class DocumentForm(FlaskForm):
    title = StringField("Title")
    body = TextAreaField("Text")
