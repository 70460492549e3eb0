"""What the model reads from the store's knowledge: the one call into knowledge search.

``retrieve(store, question, k)`` returns the top ``k`` chunks of ``store`` only
(``webapp.knowledge.search`` is confined to one store), numbered 1..k. The same
numbers are used in the prompt (``[1]``, ``[2]`` ...) and in the UI, so a
citation always points at the source shown under that number.
"""
from dataclasses import dataclass

from webapp.knowledge.search import search


@dataclass(frozen=True)
class Source:
    """A numbered source of an answer, as stored in ``Message.sources``."""

    n: int
    file_id: int
    file_name: str
    chunk_id: int
    heading: str
    #: The chunk's text: what the model reads.
    text: str
    #: HTML-escaped text with ``<mark>`` around matches only (safe to render as is).
    snippet: str
    #: 1-based pages of a PDF source ("handbook.pdf, p. 12"), else None.
    page: int | None = None
    page_end: int | None = None

    def stored(self):
        """The JSON kept with the answer (the full text stays in the knowledge tables)."""
        return {"n": self.n, "file_id": self.file_id, "file_name": self.file_name, "chunk_id": self.chunk_id,
                "heading": self.heading, "snippet": self.snippet, "page": self.page, "page_end": self.page_end}


def retrieve(store, question, k):
    """The ``k`` best chunks of ``store`` for ``question``, as ``Source`` numbered from 1."""
    if k < 1 or not question.strip():
        return []
    hits = search(store, question, k=k)
    return [Source(n=i, file_id=hit.file_id, file_name=hit.file_name, chunk_id=hit.chunk_id,
                   heading=hit.heading or "", text=hit.text, snippet=str(hit.snippet), page=hit.page,
                   page_end=hit.page_end)
            for i, hit in enumerate(hits[:k], start=1)]
