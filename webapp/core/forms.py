"""Form validators whose messages use the field's label, shared by every form, and ``ConfirmForm``.

Forms validate every field before any service runs, and WTForms collects the
errors of all fields, so a person sees everything to fix at once, each message
next to its field and in the words of its label ("Knowledge chunks per answer
must be a whole number from 1 to 50", not "knowledge_count must be between 1
and 50"). The text rules are those of the JSON API (``webapp.core.text``).

    title = StringField("Title", filters=[strip], validators=[
        Required(), MaxLength(255), PlainText()])
    knowledge_count = WholeNumberField("Knowledge chunks per answer",
        validators=[NumberBetween(1, 50)])
"""
from flask_wtf import FlaskForm
from wtforms import IntegerField
from wtforms.validators import StopValidation, ValidationError

from webapp.core.text import text_problem


def strip(value):
    """Filter: drop surrounding spaces of one-line fields (None stays None)."""
    return value.strip() if isinstance(value, str) else value


def _label(field):
    return field.label.text


class Required:
    """The field must not be empty: "Enter <what>." (``what`` defaults to "a <label>")."""

    field_flags = {"required": True}

    def __init__(self, what=None):
        self.what = what

    def __call__(self, form, field):
        if field.data is None or (isinstance(field.data, str) and not field.data.strip()):
            field.errors[:] = []
            raise StopValidation(f"Enter {self.what or 'a ' + _label(field).lower()}.")


class MaxLength:
    """At most ``limit`` characters, saying how many were sent."""

    def __init__(self, limit):
        self.limit = limit
        self.field_flags = {"maxlength": limit}

    def __call__(self, form, field):
        if isinstance(field.data, str) and len(field.data) > self.limit:
            raise StopValidation(f"{_label(field)} has at most {self.limit:,} characters; "
                                 f"this one has {len(field.data):,}.")


class PlainText:
    """No control characters or invalid Unicode; one line unless ``multiline``."""

    def __init__(self, multiline=False):
        self.multiline = multiline

    def __call__(self, form, field):
        if isinstance(field.data, str):
            problem = text_problem(field.data, multiline=self.multiline)
            if problem:
                raise ValidationError(f"{_label(field)} {problem}.")


class WholeNumberField(IntegerField):
    """An ``IntegerField`` whose "not a number" message names the field.

    ``2.5``, ``abc`` and an empty box are refused (no rounding, no default);
    pair it with ``NumberBetween`` for the range.
    """

    def process_formdata(self, valuelist):
        if not valuelist or not valuelist[0].strip():
            self.data = None
            return
        try:
            self.data = int(valuelist[0].strip())
        except ValueError:
            self.data = None
            raise ValueError(f"{self.label.text} must be a whole number, such as 5.") from None


class NumberBetween:
    """A whole number from ``low`` to ``high``; the message says both."""

    def __init__(self, low, high):
        self.low, self.high = low, high
        self.field_flags = {"min": low, "max": high}

    def __call__(self, form, field):
        if field.process_errors:
            raise StopValidation()  # "must be a whole number" is already shown
        if field.data is None or not self.low <= field.data <= self.high:
            raise StopValidation(f"{_label(field)} must be a whole number from {self.low} to {self.high}.")


class ConfirmForm(FlaskForm):
    """A confirmation page's form: only the CSRF token."""
