"""What parsing hands to chunking: a document as an ordered list of blocks.

A block is the smallest unit whose text belongs together: a heading, a
paragraph (a list item is a paragraph starting with ``- ``), a code block, or
one table row. Blocks keep document order, which is what lets the chunker keep
a heading path ("Install > Linux") for every chunk. Nothing here knows about
files, databases or Flask.
"""
from dataclasses import dataclass, field
from enum import StrEnum


class BlockKind(StrEnum):
    HEADING = "heading"
    PARAGRAPH = "paragraph"
    #: Preformatted text: line breaks and indentation matter; split by lines only.
    CODE = "code"
    #: One row of a table, already self-describing ("column: value" lines when
    #: the table has a header row), so a row read alone still makes sense.
    TABLE_ROW = "table_row"


@dataclass(frozen=True, slots=True)
class Block:
    kind: BlockKind
    #: Never empty; whitespace-normalised except in code blocks.
    text: str
    #: Heading level, 1 (top) to 6; 0 for other blocks.
    level: int = 0
    #: 1-based page the block starts on, for formats that have pages (PDF).
    page: int | None = None


@dataclass(slots=True)
class ParsedDocument:
    #: The detected kind: "pdf", "docx", "html", "markdown", "csv" or "text".
    kind: str
    blocks: list[Block]
    #: Number of pages, for PDFs.
    page_count: int | None = None
    #: Things a person may want to know that did not stop parsing
    #: ("page 7 could not be read and was skipped").
    warnings: list[str] = field(default_factory=list)

    @property
    def text_length(self):
        return sum(len(block.text) for block in self.blocks)


def table_row(header, cells):
    """A TABLE_ROW block for ``cells``, or None when they are all empty.

    With a ``header`` each line reads "name: value" (unnamed or extra columns
    are "column N"; empty values are left out), so a row quoted alone still
    says what its values are. Without one, the cells are joined by " | ".
    """
    if header:
        names = [name or f"column {i}" for i, name in enumerate(header, start=1)]
        names += [f"column {i}" for i in range(len(names) + 1, len(cells) + 1)]
        text = "\n".join(f"{name}: {value}" for name, value in zip(names, cells, strict=False) if value)
    else:
        text = " | ".join(cell for cell in cells if cell)
    return Block(BlockKind.TABLE_ROW, text) if text else None
