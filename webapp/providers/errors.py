"""Model provider errors. Each message says what happened and what a person can do.

No message ever holds an API key or a stack trace: they are built here from the
provider's name, base URL and model, plus (for some) a short detail the server
sent, which the caller has already cleaned (see ``openai_compatible``).

``is_retryable`` tells the caller whether the same request may succeed later
unchanged; providers never retry by themselves.
"""
from webapp.core.errors import StorehouseError


class ProviderError(StorehouseError):
    """A model provider could not answer, or not completely."""

    status_code = 502
    error = "provider_error"
    is_retryable = False


def _server(name, base_url):
    return f"The model server '{name}' at {base_url}"


class ProviderUnreachable(ProviderError):
    status_code = 503
    error = "provider_unreachable"
    is_retryable = True

    def __init__(self, name, base_url):
        super().__init__(
            f"{_server(name, base_url)} cannot be reached (connection refused or host unreachable). "
            "Check that the server is running and that the base URL in Admin > Providers is right."
        )


class ProviderAuthenticationFailed(ProviderError):
    error = "provider_authentication_failed"

    def __init__(self, name, base_url, status=401):
        super().__init__(
            f"{_server(name, base_url)} refused the API key ({status}). "
            "Check the provider's API key in Admin > Providers."
        )


class ModelNotFound(ProviderError):
    error = "provider_model_not_found"

    def __init__(self, name, base_url, model):
        super().__init__(
            f"{_server(name, base_url)} does not know the model '{model}' (404). Check the model name "
            "and the base URL (it usually ends in /v1) in Admin > Providers."
        )


class ProviderRateLimited(ProviderError):
    status_code = 429
    error = "provider_rate_limited"
    is_retryable = True

    def __init__(self, name, base_url, retry_after=None):
        wait = f"{retry_after} s" if retry_after else "a minute"
        super().__init__(
            f"{_server(name, base_url)} is limiting requests (429). Wait {wait} and ask again; if it "
            "keeps happening, check the quota of the provider's account."
        )


class ProviderTimeout(ProviderError):
    status_code = 504
    error = "provider_timeout"
    is_retryable = True

    def __init__(self, name, base_url, timeout):
        super().__init__(
            f"{_server(name, base_url)} did not answer within {timeout:g} s. Ask again; if it keeps "
            "happening, check the server's load or raise the provider's timeout in Admin > Providers."
        )


class ProviderBadResponse(ProviderError):
    """A malformed or cut answer: the text received so far is kept, marked incomplete."""

    error = "provider_bad_response"
    is_retryable = True

    def __init__(self, name, base_url, what):
        super().__init__(
            f"{_server(name, base_url)} {what}, so the answer is incomplete. Ask again; if it keeps "
            "happening, check the server's logs."
        )


class ProviderRequestFailed(ProviderError):
    """Any other HTTP error status; 5xx are worth retrying, 4xx are not."""

    error = "provider_request_failed"

    def __init__(self, name, base_url, status, detail=""):
        self.is_retryable = status >= 500
        what = "had an internal error" if status >= 500 else "refused the request"
        detail = f": {detail}" if detail else ""
        advice = ("Ask again in a minute." if status >= 500
                  else "Check the provider's model and settings in Admin > Providers.")
        super().__init__(f"{_server(name, base_url)} {what} (HTTP {status}{detail}). {advice}")


class LocalModelUnavailable(ProviderError):
    """The local model cannot run here: its file or llama-cpp-python is missing, or it failed to load."""

    status_code = 503
    error = "local_model_unavailable"


class LocalModelBusy(ProviderError):
    status_code = 503
    error = "local_model_busy"
    is_retryable = True

    def __init__(self, name, waited):
        super().__init__(
            f"The local model '{name}' was busy answering other questions for {waited:g} s. "
            "Ask again in a moment; if this happens often, use an OpenAI-compatible provider for busy stores."
        )


class LocalModelFailed(ProviderError):
    """llama.cpp failed while generating (after the model loaded)."""

    error = "local_model_failed"

    def __init__(self, name, reason):
        super().__init__(
            f"The local model '{name}' stopped with an error while answering ({reason}). "
            "Ask again; if it keeps happening, check the server's logs."
        )


class PromptTooLong(ProviderError):
    status_code = 400
    error = "prompt_too_long"

    def __init__(self, name, prompt_tokens, context_length):
        super().__init__(
            f"The question with its sources and history takes {prompt_tokens} tokens, but the model "
            f"'{name}' reads at most {context_length} (its context length) and needs room to answer. "
            "Shorten the question or start a new chat."
        )
