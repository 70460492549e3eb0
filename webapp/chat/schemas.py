"""JSON bodies of the chat API, checked strictly by ``parse_body``."""
from webapp.chat.answering import QUESTION_MAX, TITLE_MAX
from webapp.core.bodies import Body, line, text


class CreateChat(Body):
    title: line(TITLE_MAX, min_length=0) = ""


class UpdateChat(Body):
    title: line(TITLE_MAX)


class Ask(Body):
    text: text(QUESTION_MAX)


class Resend(Body):
    text: text(QUESTION_MAX)
