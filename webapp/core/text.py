"""What a text field accepts beyond its length, for JSON bodies and forms alike.

Text people type is stored and shown back, so it must be valid Unicode without
control characters: PostgreSQL refuses NUL in text (a 500 when it reaches the
database), a lone surrogate from ``"\\ud800"`` in JSON cannot even be encoded
to UTF-8, and invisible control characters make a name or title look like
another. Multi-line fields (descriptions, prompts, document bodies) may hold
tabs and line breaks; one-line fields (names, titles) may not, nor the
invisible bidirectional overrides that can make a name display reversed.

``text_problem`` returns the problem as a predicate ("cannot contain ..."), so
that both ``webapp.core.bodies`` ("title: cannot contain ...") and the form
validators of ``webapp.core.forms`` ("Title cannot contain ...") can put their
field's name in front of it.
"""
import re

_SURROGATE = re.compile("[\ud800-\udfff]")
#: C0 and C1 control characters and DEL, except tab, line feed and carriage return.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x84\x86-\x9f]")
#: Line breaks, tab and the bidirectional embedding/override/isolate controls.
_NOT_ON_ONE_LINE = re.compile("[\t\n\r\x85\u2028\u2029]")
_BIDI_CONTROL = re.compile("[\u202a-\u202e\u2066-\u2069]")


#: Also pydantic's own words for it are replaced by these (``webapp.core.bodies``).
NOT_UNICODE = "is not valid Unicode text (it contains an unpaired surrogate such as \\ud800)"


def unicode_problem(value):
    """``NOT_UNICODE`` when ``value`` cannot be encoded as UTF-8 (for secrets, which may hold anything else)."""
    return NOT_UNICODE if _SURROGATE.search(value) else None


def text_problem(value, *, multiline=False):
    """Why ``value`` cannot be kept as typed text, or None when it can.

    :param multiline: tabs and line breaks allowed (bodies, descriptions, prompts).
    """
    if _SURROGATE.search(value):
        return NOT_UNICODE
    found = _CONTROL.search(value)
    if found:
        return f"cannot contain control characters (found U+{ord(found.group()):04X})"
    if multiline:
        return None
    found = _NOT_ON_ONE_LINE.search(value)
    if found:
        return "must be on one line (no tabs or line breaks)"
    found = _BIDI_CONTROL.search(value)
    if found:
        return f"cannot contain invisible text-direction characters (found U+{ord(found.group()):04X})"
    return None
