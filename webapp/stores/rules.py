"""What store and document fields accept: the name rule and every field's limits.

One table read by the JSON schemas (``webapp.stores.schemas``) and the forms
(``webapp.stores.forms``), so the API and the pages refuse the same things.

**Store names.** A name is a URL segment (``/s/<name>/``) and must equal,
character for character, the Casdoor Homepage of the people bound to the
store. Casdoor's Homepage is free text of up to 100 characters (Casdoor checks
nothing else), so the narrower rule is ours: 1 to 64 ASCII letters, digits,
``-``, ``_`` and ``.``, starting with a letter or digit. Such a name needs no
escaping in an address, cannot be ``.`` or ``..``, cannot differ from what an
administrator typed into Casdoor by an invisible space or by a differently
composed accent (``é`` as one or as two code points) or look like another
name in another alphabet, and fits every layout. Names are unique ignoring
case. Stores created before the rule keep their names until renamed.
"""
import re

#: The longest store name the rule allows (the column holds the 100 of older names).
NAME_MAX_LENGTH = 64
NAME_ALLOWED = re.compile(r"[A-Za-z0-9._-]")
NAME_RULE = ("1 to 64 characters: letters (a-z, A-Z), digits, '-', '_' and '.', "
             "starting with a letter or digit")

#: Longest one-line texts, in characters.
DISPLAY_NAME_MAX = 100
MODEL_PROVIDER_MAX = 100
TITLE_MAX = 255
#: Longest multi-line texts, in characters. A document body of 100,000 characters
#: (about 40 printed pages) fits MAX_CONTENT_LENGTH (2 MB) even fully escaped.
DESCRIPTION_MAX = 2_000
WELCOME_TEXT_MAX = 5_000
SYSTEM_PROMPT_MAX = 20_000
BODY_MAX = 100_000

#: (lowest, highest) of the whole-number settings.
KNOWLEDGE_COUNT_RANGE = (1, 50)
MEMORY_LIMIT_RANGE = (0, 100)


def _shown(ch):
    return "a space" if ch == " " else f"'{ch}'" if ch.isprintable() else f"U+{ord(ch):04X}"


def name_problem(name):
    """Why ``name`` (already stripped) breaks the store name rule, as a sentence; None when it fits."""
    if not name:
        return "Enter a store name."
    if len(name) > NAME_MAX_LENGTH:
        return (f"A store name has at most {NAME_MAX_LENGTH} characters; this one has {len(name)}. "
                f"Names are {NAME_RULE}.")
    bad = []
    for ch in name:
        if not NAME_ALLOWED.fullmatch(ch) and _shown(ch) not in bad:
            bad.append(_shown(ch))
    if bad:
        return (f"A store name cannot contain {', '.join(bad[:5])}. Names are {NAME_RULE}: they appear in "
                "addresses and must match Casdoor Homepages exactly.")
    if not name[0].isalnum():
        return f"A store name must start with a letter or digit. Names are {NAME_RULE}."
    return None
