"""An answer's text as safe HTML: Markdown rendered on the server, then sanitised.

markdown-it-py renders with raw HTML off (``<script>`` in an answer becomes
text), code blocks are highlighted by Pygments (class names only: the CSP
forbids inline styles), and nh3 then keeps only the tags and attributes
listed here, so neither a model's answer nor a quoted file can run script or
inject markup. Citations ``[n]`` that name one of the answer's sources become
links to that source; the others are dropped.

The three libraries are imported at the first answer rendered, not with the module:
a process that renders none (``flask jobs worker``) starts without them.
"""
import functools
import re

from markupsafe import Markup, escape

TAGS = {"p", "br", "hr", "strong", "em", "del", "s", "code", "pre", "blockquote", "ul", "ol", "li",
        "h1", "h2", "h3", "h4", "h5", "h6", "table", "thead", "tbody", "tr", "th", "td", "a", "span", "sup",
        "div"}
ATTRIBUTES = {"a": {"href", "title", "class"}, "code": {"class"}, "span": {"class"}, "pre": {"class"},
              "div": {"class"}, "sup": {"class"}, "ol": {"start"}, "th": {"style"}, "td": {"style"}}
# Private-use marks around a citation number, so that Markdown leaves them alone.
_OPEN, _CLOSE = "\ue010", "\ue011"
_CITATION = re.compile(r"\[(\d{1,3})\](?!\()")
_MARKED = re.compile(f"{_OPEN}(\\d+){_CLOSE}")


@functools.cache
def _formatter():
    from pygments.formatters import HtmlFormatter

    return HtmlFormatter(nowrap=True)


def _highlight(code, language, _attrs):
    from pygments import highlight
    from pygments.lexers import get_lexer_by_name
    from pygments.util import ClassNotFound

    try:
        lexer = get_lexer_by_name(language) if language else None
    except ClassNotFound:
        lexer = None
    if lexer is None:
        return ""  # markdown-it escapes the code itself
    return highlight(code, lexer, _formatter())


@functools.cache
def _markdown():
    """The one renderer of this process (built at its first use)."""
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False,
                                     "highlight": _highlight}).enable("table").enable("strikethrough")


def render_answer(text, source_count, anchor_prefix="src"):
    """``text`` as sanitised HTML (``Markup``); ``[n]`` for 1..``source_count`` link to ``#{prefix}-{n}``."""
    def mark(match):
        n = int(match.group(1))
        return f"{_OPEN}{n}{_CLOSE}" if 1 <= n <= source_count else ""

    import nh3

    html = _markdown().render(_CITATION.sub(mark, text or ""))
    html = _MARKED.sub(lambda m: (f'<sup class="cite"><a href="#{anchor_prefix}-{m.group(1)}" '
                                  f'class="cite-link">[{m.group(1)}]</a></sup>'), html)
    clean = nh3.clean(html, tags=TAGS, attributes=ATTRIBUTES, url_schemes={"http", "https", "mailto"},
                      link_rel="noopener noreferrer nofollow", filter_style_properties={"text-align"})
    return Markup(clean)


def warm_up():
    """Load the renderer now (markdown-it, Pygments, nh3: about 90 ms the first time), so the first
    answer a web process renders does not wait for it. gunicorn calls this in each web process
    before its first request (``post_worker_init``); job workers never do."""
    render_answer("*warm* [1]\n\n```python\npass\n```", 1)


def cites_a_source(text, source_count):
    """True when ``text`` cites one of its ``source_count`` sources as ``[n]`` (what becomes a link)."""
    return any(1 <= int(n) <= source_count for n in _CITATION.findall(text or ""))


def render_plain(text):
    """Escaped text (what the page shows while an answer streams)."""
    return escape(text or "")
