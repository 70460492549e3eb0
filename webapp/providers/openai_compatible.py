"""The OpenAI-compatible provider: OpenAI, Azure-style gateways, Ollama, vLLM, LiteLLM, llama.cpp's server.

Chat Completions through the official ``openai`` SDK, streamed with
``stream_options={"include_usage": True}`` (the final chunk then carries the
server's usage) or in one piece for ``complete``. Servers that ignore
``stream_options`` exist (llama-cpp-python's server sends no usage in streams):
then the usage is estimated offline (``webapp.providers.tokens``) and flagged.

Every call has the provider's timeout (connect and each read), and the SDK
never retries (``max_retries=0``): the caller decides. SDK exceptions become
``ProviderError`` subclasses whose messages name the server, never the key.
"""
import json
import logging
import re

import openai

from webapp.providers.errors import (
    ModelNotFound,
    ProviderAuthenticationFailed,
    ProviderBadResponse,
    ProviderError,
    ProviderRateLimited,
    ProviderRequestFailed,
    ProviderTimeout,
    ProviderUnreachable,
)
from webapp.providers.interface import (
    COMPLETE,
    ERROR,
    LENGTH,
    NO_USAGE,
    STOPPED,
    ChatProvider,
    Completion,
    Delta,
    Finish,
    Usage,
    check_messages,
    never_stop,
)
from webapp.providers.process_cache import ProcessCache
from webapp.providers.tokens import estimate_prompt_tokens, estimate_text_tokens

log = logging.getLogger("webapp.providers.openai_compatible")

#: Longest server detail quoted in an error message.
DETAIL_LIMIT = 200

_clients = ProcessCache(close=lambda client: client.close())


class Malformed(Exception):
    """A reply that parsed as JSON but is not what Chat Completions sends."""


# The SDK builds its response objects without validation, so a stray reply
# shows up as odd attribute types; these two check the few fields we read.

def _chunk_parts(chunk):
    """``(text, finish_reason, usage)`` of a stream chunk. :raises Malformed:"""
    choices = getattr(chunk, "choices", None)
    usage = getattr(chunk, "usage", None)
    if not isinstance(choices, list):
        raise Malformed
    if not choices:  # the final usage chunk, or Azure's content-filter preamble
        return None, None, usage
    return _choice_parts(choices[0], "delta") + (usage,)


def _completion_parts(response):
    """``(text, finish_reason, usage)`` of a whole completion. :raises Malformed:"""
    choices = getattr(response, "choices", None)
    if not isinstance(choices, list) or not choices:
        raise Malformed
    text, finish_reason = _choice_parts(choices[0], "message")
    return text or "", finish_reason, getattr(response, "usage", None)


def _choice_parts(choice, holder):
    text = getattr(getattr(choice, holder, None), "content", None)
    finish_reason = getattr(choice, "finish_reason", None)
    if not isinstance(text, (str, type(None))) or not isinstance(finish_reason, (str, type(None))):
        raise Malformed
    return text, finish_reason


def _build_client(base_url, api_key, timeout):
    # Servers without keys (llama.cpp, Ollama) ignore the header; the SDK insists on one.
    return openai.OpenAI(base_url=base_url, api_key=api_key or "no-key", timeout=timeout, max_retries=0)


class OpenAICompatibleProvider(ChatProvider):
    tokens_are_exact = False

    def _client(self):
        config = self.config
        # One client (and connection pool) per server and key, per process.
        return _clients.get((config.base_url, config.api_key, config.timeout),
                            lambda: _build_client(config.base_url, config.api_key, config.timeout))

    def _request(self, messages, max_tokens):
        request = {
            "model": self.config.model,
            "messages": [{"role": m["role"], "content": m["content"]} for m in messages],
            # max_tokens, not max_completion_tokens: the one every compatible server knows.
            "max_tokens": self.answer_budget(max_tokens),
        }
        if self.config.temperature is not None:
            request["temperature"] = self.config.temperature
        return request

    def count_tokens(self, messages):
        """An estimate: the server's tokenizer is not known here (see ``tokens.estimate_prompt_tokens``)."""
        check_messages(messages)
        return estimate_prompt_tokens(messages)

    def stream(self, messages, *, max_tokens=None, should_stop=never_stop):
        check_messages(messages)
        request = self._request(messages, max_tokens)
        if should_stop():
            yield Finish(STOPPED, NO_USAGE)
            return
        parts = []
        reported = None  # the usage the server sent, if it did
        finish_reason = None
        accepted = stopped = False
        error = None
        try:
            stream = self._client().chat.completions.create(
                **request, stream=True, stream_options={"include_usage": True})
            # The server answered 200: from here on the prompt counts as consumed.
            accepted = True
            with stream:
                for chunk in stream:
                    text, chunk_finish, chunk_usage = _chunk_parts(chunk)
                    reported = chunk_usage or reported
                    finish_reason = chunk_finish or finish_reason
                    if text:
                        parts.append(text)
                        yield Delta(text)
                    if should_stop():
                        # Leaving the with-block closes the connection; the server stops generating.
                        stopped = True
                        break
        except openai.APIConnectionError as exc:
            if finish_reason is not None:
                # Cut after the last word (before the usage chunk or [DONE]): the answer is whole.
                log.info("Provider %r closed the stream after the answer's end", self.config.name)
            else:
                error = self._error(exc, accepted)
        except openai.OpenAIError as exc:
            error = self._error(exc, accepted)
        except (json.JSONDecodeError, Malformed):
            error = ProviderBadResponse(self.config.name, self.config.base_url,
                                        "sent a malformed answer (a part that is not a chat completion chunk)")
        if error is None and not stopped:
            if finish_reason is None:
                error = ProviderBadResponse(self.config.name, self.config.base_url,
                                            "ended the answer without finishing it")
            else:
                error = self._finish_error(finish_reason)
        text = "".join(parts)
        if error is not None:
            log.warning("Provider %r: %s (%d characters received)", self.config.name, error.error, len(text))
            reason = ERROR
        elif stopped:
            reason = STOPPED
        else:
            reason = LENGTH if finish_reason == "length" else COMPLETE
        yield Finish(reason, self._usage(messages, text, reported, accepted), error)

    def complete(self, messages, *, max_tokens=None):
        """One non-streamed request (the server's usage, when it reports one, is exact)."""
        check_messages(messages)
        request = self._request(messages, max_tokens)
        try:
            response = self._client().chat.completions.create(**request)
            text, finish_reason, reported = _completion_parts(response)
        except openai.OpenAIError as exc:
            error = self._error(exc, accepted=False)
            log.warning("Provider %r: %s", self.config.name, error.error)
            return Completion("", Finish(ERROR, NO_USAGE, error))
        except (json.JSONDecodeError, Malformed):
            error = ProviderBadResponse(self.config.name, self.config.base_url,
                                        "sent something that is not a chat completion")
            log.warning("Provider %r: %s", self.config.name, error.error)
            # It answered 200, so it may have worked on the prompt.
            return Completion("", Finish(ERROR, self._usage(messages, "", None, True), error))
        usage = self._usage(messages, text, reported, True)
        error = self._finish_error(finish_reason)
        if error is not None:
            return Completion(text, Finish(ERROR, usage, error))
        return Completion(text, Finish(LENGTH if finish_reason == "length" else COMPLETE, usage))

    # -- usage and errors --------------------------------------------------

    def _usage(self, messages, text, reported, accepted):
        if reported is not None and isinstance(getattr(reported, "prompt_tokens", None), int) \
                and isinstance(getattr(reported, "completion_tokens", None), int):
            return Usage(reported.prompt_tokens, reported.completion_tokens)
        if not accepted:
            return NO_USAGE
        return Usage(estimate_prompt_tokens(messages), estimate_text_tokens(text), estimated=True)

    def _finish_error(self, finish_reason):
        if finish_reason == "content_filter":
            return ProviderError(
                f"The model server '{self.config.name}' at {self.config.base_url} withheld the rest of "
                "the answer (its content filter). Rephrase the question.", error="provider_content_filter")
        return None

    def _error(self, exc, accepted):
        """The ``ProviderError`` for an SDK exception; ``accepted``: the server had answered 200."""
        name, base_url = self.config.name, self.config.base_url
        if isinstance(exc, openai.APITimeoutError):
            return ProviderTimeout(name, base_url, self.config.timeout)
        if isinstance(exc, openai.APIConnectionError):
            if accepted:
                return ProviderBadResponse(name, base_url, "closed the connection in the middle of the answer")
            return ProviderUnreachable(name, base_url)
        if isinstance(exc, (openai.AuthenticationError, openai.PermissionDeniedError)):
            # No server detail: OpenAI's 401 message quotes part of the key.
            return ProviderAuthenticationFailed(name, base_url, exc.status_code)
        if isinstance(exc, openai.NotFoundError):
            return ModelNotFound(name, base_url, self.config.model)
        if isinstance(exc, openai.RateLimitError):
            retry_after = exc.response.headers.get("retry-after", "")
            return ProviderRateLimited(name, base_url, int(retry_after) if retry_after.isdigit() else None)
        if isinstance(exc, openai.APIStatusError):
            return ProviderRequestFailed(name, base_url, exc.status_code, self._detail(exc.body))
        if isinstance(exc, openai.APIResponseValidationError):
            return ProviderBadResponse(name, base_url, "sent something that is not a chat completion")
        if isinstance(exc, openai.APIError):
            # An error event inside a stream.
            detail = self._detail(exc.body) or "no detail"
            return ProviderBadResponse(name, base_url, f"reported an error in the middle of the answer ({detail})")
        return ProviderError(f"The model server '{name}' at {base_url} could not be used "
                             f"({type(exc).__name__}). Check the provider in Admin > Providers.")

    def _detail(self, body):
        """A short, single-line, key-free excerpt of what the server said about an error."""
        if isinstance(body, dict):
            body = body.get("message") or body.get("detail") or body.get("error") or ""
        if not isinstance(body, str):
            body = json.dumps(body) if body else ""
        detail = re.sub(r"\s+", " ", body).strip()
        if self.config.api_key and len(self.config.api_key) >= 4:
            detail = detail.replace(self.config.api_key, "[api key]")
        if len(detail) > DETAIL_LIMIT:
            detail = detail[:DETAIL_LIMIT - 1] + "…"
        return detail
