"""Forms of the spending-limit pages (the same rules as the API's ``LimitBody``, in the label's words)."""
from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectChoice, SelectField, StringField
from wtforms.validators import StopValidation

from webapp.billing.models import PERIODS
from webapp.billing.schemas import LimitBody
from webapp.core.forms import MaxLength, NumberBetween, WholeNumberField, strip
from webapp.providers.service import CURRENCIES

PERIOD_LABELS = {"day": "Per day", "week": "Per week (from Monday)", "month": "Per month"}


class ExactAmount:
    """An amount of money: digits with at most 8 decimals, at least 0 (never rounded)."""

    def __call__(self, form, field):
        if not form.enabled.data:
            field.errors[:] = []
            raise StopValidation()
        try:
            field.data = LimitBody.model_validate({"period": "day", "amount": field.data or "", "currency": "USD"},
                                                  strict=False).amount
        except ValueError:
            raise StopValidation(f"{field.label.text} is an amount such as 25.00: digits, at most 8 decimals, "
                                 "not below 0.") from None


class LimitForm(FlaskForm):
    """One limit: on or off, period, amount, currency, alert threshold."""

    enabled = BooleanField("Set a limit")
    period = SelectField("Period", choices=[SelectChoice(p, PERIOD_LABELS[p]) for p in PERIODS], default="month")
    amount = StringField("Amount", filters=[strip], validators=[MaxLength(30), ExactAmount()],
                         description="Exact, e.g. 25.00")
    currency = SelectField("Currency", choices=[SelectChoice(c, c) for c in CURRENCIES], default="USD")
    alert_at = WholeNumberField("Warn at (% used)", default=80, validators=[NumberBetween(1, 100)])

    def values(self):
        """The limit's values, or None when the limit is switched off."""
        if not self.enabled.data:
            return None
        return {"period": self.period.data, "amount": self.amount.data, "currency": self.currency.data,
                "alert_at": self.alert_at.data}

    def fill(self, row):
        """Show ``row`` (a limit, or None) in the form (GET)."""
        self.enabled.data = row is not None
        if row is not None:
            self.period.data, self.currency.data, self.alert_at.data = row.period, row.currency, row.alert_at
            self.amount.data = format(row.amount.normalize(), "f") if row.amount else "0"
