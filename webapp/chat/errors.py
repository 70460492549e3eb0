"""Chat errors: why an answer may not start."""
from webapp.core.errors import StorehouseError


class AnswerRefused(StorehouseError):
    """The answer may not start (billing: the balance is too low). Raised by
    ``webapp.chat.charging.before_answer`` before the model runs; the chat shows
    ``message`` and keeps only the question."""

    status_code = 402
    error = "answer_refused"

    def __init__(self, message):
        super().__init__(message)
