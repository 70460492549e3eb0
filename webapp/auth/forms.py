from flask_wtf import FlaskForm
from wtforms import EmailField, HiddenField, PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length, Regexp

from webapp.core.forms import MaxLength, PlainText

#: A shape check only: deliverability is the mail server's business, and strict
#: validators reject real internal domains such as ``corp.local``.
EMAIL_SHAPE = Regexp(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", message="Enter an email address like name@example.com.")


class LoginForm(FlaskForm):
    # Length and plain text before the shape: a NUL byte must not reach the database lookup.
    email = EmailField("Email", validators=[DataRequired(), MaxLength(255), PlainText(), EMAIL_SHAPE])
    password = PasswordField("Password", validators=[DataRequired(), MaxLength(1024)])
    next = HiddenField()


class SignupForm(FlaskForm):
    username = StringField(
        "Username",
        validators=[
            DataRequired(),
            Length(min=3, max=64),
            Regexp(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$",
                   message="Use letters, digits, '.', '_' or '-', starting with a letter or digit."),
        ],
    )
    email = EmailField("Email", validators=[DataRequired(), MaxLength(255), PlainText(), EMAIL_SHAPE])
    display_name = StringField("Display name", validators=[MaxLength(255), PlainText()])
    password = PasswordField("Password", validators=[DataRequired(), Length(min=8, max=200)])
    confirm = PasswordField(
        "Repeat password", validators=[DataRequired(), EqualTo("password", message="The passwords differ.")]
    )
    next = HiddenField()
