"""Forms of account administration: a local account made by an administrator, a store granted."""
from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField, StringField
from wtforms.validators import Length, Optional, Regexp, StopValidation

from webapp.core.forms import MaxLength, PlainText, Required, strip
from webapp.extensions import db
from webapp.stores.models import Store


class StoreByNameField(StringField):
    """A store named by its exact name (as in its URL); ``.store`` is the row once validated."""

    store = None


class ExistingStore:
    """The named store exists (one indexed lookup); sets ``field.store``."""

    def __call__(self, form, field):
        name = field.data or ""
        store = db.session.execute(db.select(Store).where(Store.name == name)).scalar_one_or_none()
        if store is None:
            raise StopValidation(f"There is no store named '{name[:64]}'. Type its name exactly as in its address "
                                 "(/s/<name>/).")
        field.store = store


class CreateAccountForm(FlaskForm):
    """A local account made by an administrator (sign-up is off by default)."""

    username = StringField("Username", filters=[strip], validators=[
        Required("a username"), MaxLength(64), PlainText(),
        Regexp(r"^[A-Za-z0-9][A-Za-z0-9_.-]{2,}$",
               message="Use at least 3 letters, digits, '.', '_' or '-', starting with a letter or digit.")])
    email = StringField("Email", filters=[strip], validators=[
        Required("an email address"), MaxLength(255), PlainText(),
        Regexp(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", message="Enter an email address like name@example.com.")])
    display_name = StringField("Display name", filters=[strip], validators=[Optional(), MaxLength(255), PlainText()])
    password = PasswordField("Password", validators=[
        Required("a password"), Length(min=8, max=200, message="Use 8 to 200 characters.")])
    store = StoreByNameField("Store", filters=[strip], validators=[Optional(), MaxLength(100),
                                                                   PlainText(), ExistingStore()])
    is_admin = BooleanField("Administrator")


class GrantStoreForm(FlaskForm):
    store = StoreByNameField("Store", filters=[strip], validators=[
        Required("the name of a store"), MaxLength(100), PlainText(), ExistingStore()])
