"""Chunking: heading paths, the token cap, whole words, whole rows and lines, determinism.

Pure functions; documents come from the parser fed with fixtures made here.
"""
import re
import time

import pytest

from bench.datasets.knowledge_files import make_pdf, make_prose
from webapp.knowledge.blocks import Block, BlockKind, ParsedDocument
from webapp.knowledge.chunking import Chunk, chunk_document, estimate_tokens
from webapp.knowledge.parsing import parse

GUIDE = """# Guide

Storehouse keeps the files of a store.

## Install

### Linux

Run the installer. Then start the service.

```sh
storehouse serve --port 8080
```

### Windows

Double-click the installer.

## Empty section

# Reference

Options are listed below.

| option | meaning |
|--------|---------|
| --port | where to listen |
"""


def assert_well_formed(chunks, max_tokens, count=estimate_tokens):
    assert [chunk.ordinal for chunk in chunks] == list(range(len(chunks)))
    for chunk in chunks:
        # Not blank, nothing trailing; leading spaces only as a code line's indentation.
        assert chunk.text.strip() and chunk.text == chunk.text.rstrip() and chunk.text[0] != "\n"
        assert chunk.token_count == count(chunk.text) <= max_tokens


def words(text):
    return text.split()


def paragraph(text):
    return ParsedDocument("text", [Block(BlockKind.PARAGRAPH, text)])


def test_heading_paths_follow_the_outline():
    chunks = chunk_document(parse(GUIDE.encode(), "guide.md"))

    assert [(chunk.heading_path, chunk.text) for chunk in chunks] == [
        (["Guide"], "Storehouse keeps the files of a store."),
        (["Guide", "Install", "Linux"],
         "Run the installer. Then start the service.\n\nstorehouse serve --port 8080"),
        (["Guide", "Install", "Windows"], "Double-click the installer."),
        # A heading with nothing under it still reaches the index.
        (["Guide", "Empty section"], "Empty section"),
        (["Reference"], "Options are listed below.\n\noption: --port\nmeaning: where to listen"),
    ]
    assert_well_formed(chunks, 256)


def test_text_before_the_first_heading_has_an_empty_path():
    document = ParsedDocument("html", [Block(BlockKind.PARAGRAPH, "Preface."),
                                       Block(BlockKind.HEADING, "Part", 1),
                                       Block(BlockKind.PARAGRAPH, "Body.")])
    assert [(c.heading_path, c.text) for c in chunk_document(document)] == [([], "Preface."), (["Part"], "Body.")]


def test_a_heading_over_sub_headings_makes_no_chunk_of_its_own():
    document = ParsedDocument("markdown", [Block(BlockKind.HEADING, "Top", 1), Block(BlockKind.HEADING, "Sub", 2),
                                           Block(BlockKind.PARAGRAPH, "Text.")])
    assert [(c.heading_path, c.text) for c in chunk_document(document)] == [(["Top", "Sub"], "Text.")]


def test_an_overlong_heading_is_kept_as_text():
    shouting = "This whole page was wrapped in one heading " * 10
    document = ParsedDocument("html", [Block(BlockKind.HEADING, "Real", 1), Block(BlockKind.HEADING, shouting, 1)])
    chunks = chunk_document(document)
    assert [c.heading_path for c in chunks] == [["Real"]]
    assert chunks[0].text == shouting


def test_long_paragraph_is_split_at_sentences_within_the_cap():
    sentences = [f"Sentence number {n} says something about the store and its files." for n in range(200)]
    chunks = chunk_document(paragraph(" ".join(sentences)), max_tokens=100)

    assert len(chunks) > 10
    assert_well_formed(chunks, 100)
    for chunk in chunks:
        assert chunk.text.startswith("Sentence number") and chunk.text.endswith("files.")
    assert " ".join(chunk.text for chunk in chunks) == " ".join(sentences)


def test_chunks_are_about_equal_not_full_then_a_scrap():
    text = " ".join(f"Sentence {n} is short." for n in range(60))  # about 1.2 caps of 256
    sizes = [chunk.token_count for chunk in chunk_document(paragraph(text))]
    assert len(sizes) == 2 and abs(sizes[0] - sizes[1]) < 20


def test_one_megabyte_single_line_is_cut_between_words():
    line = " ".join(f"word{n % 997}" for n in range(150_000))  # about 1 MB, no sentence ends
    assert len(line) > 1_000_000
    chunks = chunk_document(parse(line.encode(), "dump.txt"), max_tokens=256)

    assert_well_formed(chunks, 256)
    assert all(chunk.token_count > 128 for chunk in chunks[:-2])  # full chunks, not one word each
    assert [w for chunk in chunks for w in words(chunk.text)] == words(line)


def test_a_word_longer_than_a_chunk_is_the_only_thing_cut_inside():
    blob = "QUJD" * 5000
    text = "Before the blob. " + blob + " After the blob."
    chunks = chunk_document(paragraph(text), max_tokens=64)

    assert_well_formed(chunks, 64)
    assert "".join(chunk.text for chunk in chunks).replace(" ", "") == text.replace(" ", "")
    assert chunks[0].text == "Before the blob." and chunks[-1].text.endswith("After the blob.")


def test_non_ascii_text_without_spaces():
    text = "東京は日本の首都です。" * 300
    chunks = chunk_document(paragraph(text), max_tokens=64)
    assert_well_formed(chunks, 64)
    assert "".join(chunk.text for chunk in chunks) == text
    assert all(chunk.text.endswith("。") for chunk in chunks)  # cut at sentence ends


def test_code_is_kept_whole_when_it_fits_and_split_by_lines_otherwise():
    small = "def f():\n    return 1\n\n\nprint(f())"
    lines = [f"    result_{n} = compute(value_{n}, factor={n})" for n in range(60)]
    document = ParsedDocument("markdown", [Block(BlockKind.CODE, small), Block(BlockKind.HEADING, "Big", 1),
                                           Block(BlockKind.CODE, "\n".join(lines))])
    chunks = chunk_document(document, max_tokens=80)

    assert chunks[0].text == small
    assert_well_formed(chunks, 80)
    body = [chunk.text for chunk in chunks[1:]]
    assert len(body) > 3
    assert [line for text in body for line in text.split("\n")] == lines  # whole lines, indentation kept


def test_table_rows_stay_whole_and_self_describing():
    rows = "\n".join(f"{n},Product {n},{n * 1.5:.2f}" for n in range(300))
    chunks = chunk_document(parse(f"id,name,price\n{rows}\n".encode(), "products.csv"), max_tokens=64)

    assert_well_formed(chunks, 64)
    for chunk in chunks:
        records = chunk.text.split("\n\n")
        assert all(re.fullmatch(r"id: \d+\nname: Product \d+\nprice: [\d.]+", record) for record in records)
    assert sum(len(chunk.text.split("\n\n")) for chunk in chunks) == 300


def test_pdf_chunks_carry_their_first_page():
    pages = [[("Chapter One", 18), ""] + [f"Page one sentence {n}." for n in range(3)],
             [f"Page two sentence {n}." for n in range(3)],
             [("Chapter Two", 18), "", "Page three text."]]
    chunks = chunk_document(parse(make_pdf(pages), "book.pdf"))

    assert [(c.heading_path, c.page) for c in chunks] == [(["Chapter One"], 1), (["Chapter Two"], 3)]
    assert "Page two sentence 2." in chunks[0].text
    # The page span: the first chunk runs over onto page 2, the second stays on page 3.
    assert [(c.page, c.page_end) for c in chunks] == [(1, 2), (3, 3)]


def test_no_empty_chunks_and_contiguous_ordinals_on_a_mixed_document():
    blocks = []
    for n in range(40):
        blocks.append(Block(BlockKind.HEADING, f"Section {n}", 1 + n % 3))
        blocks.append(Block(BlockKind.PARAGRAPH, make_prose(200 + 97 * n)))
        if n % 4 == 0:
            blocks.append(Block(BlockKind.CODE, "\n".join(f"line {k}" for k in range(n * 5 + 1))))
    chunks = chunk_document(ParsedDocument("markdown", blocks), max_tokens=128)
    assert_well_formed(chunks, 128)


def test_deterministic():
    document = parse(make_prose(200_000).encode(), "prose.txt")
    first = chunk_document(document, max_tokens=200, overlap_tokens=40)
    second = chunk_document(document, max_tokens=200, overlap_tokens=40)
    assert first == second and all(isinstance(chunk, Chunk) for chunk in first)


def test_overlap_repeats_whole_sentences_within_the_cap():
    sentences = [f"Fact {n} is recorded here." for n in range(100)]
    chunks = chunk_document(paragraph(" ".join(sentences)), max_tokens=60, overlap_tokens=20)

    assert_well_formed(chunks, 60)
    for before, after in zip(chunks, chunks[1:], strict=False):
        first_sentence = after.text.split(". ")[0] + "."
        assert first_sentence in before.text  # the next chunk starts inside the previous one
        assert after.text.startswith("Fact ")
    covered = {s for chunk in chunks for s in re.findall(r"Fact \d+ is recorded here\.", chunk.text)}
    assert covered == set(sentences)


def test_no_overlap_by_default_and_nothing_lost():
    text = make_prose(50_000)
    chunks = chunk_document(parse(text.encode(), "prose.txt"))
    assert [w for chunk in chunks for w in words(chunk.text)] == words(text)


def test_a_custom_counter_caps_the_chunks():
    def characters(text):  # not additive over joins, unlike the default
        return len(text)

    chunks = chunk_document(parse(GUIDE.encode() + make_prose(20_000).encode(), "guide.md"),
                            max_tokens=300, count_tokens=characters)
    assert_well_formed(chunks, 300, count=characters)


@pytest.mark.parametrize("max_tokens, overlap", [(4, 0), (100, -1), (100, 51)])
def test_bad_arguments(max_tokens, overlap):
    with pytest.raises(ValueError):
        chunk_document(paragraph("x"), max_tokens=max_tokens, overlap_tokens=overlap)


def test_estimate_tokens_pieces():
    assert estimate_tokens("") == 0
    assert estimate_tokens("Hello, world!") == 4           # Hello , world !
    assert estimate_tokens("configuration") == 3           # config|urati|on: long words cost more
    assert estimate_tokens("price: 134") == 6              # price : ␣1 3 4 (digits one by one)
    assert estimate_tokens("a\nb") == 3
    assert estimate_tokens("東京") == 4                     # two extra UTF-8 bytes per CJK character
    assert estimate_tokens("café") == 2                    # caf + one extra UTF-8 byte


@pytest.fixture(scope="module")
def bpe():
    """SmolLM2's own tokenizer (the local chat model's), as chat loads it."""
    from webapp.providers.errors import LocalModelUnavailable
    from webapp.providers.tokens import bundled_model_path, get_tokenizer

    try:
        return get_tokenizer(bundled_model_path()).count_text
    except LocalModelUnavailable as exc:
        pytest.skip(exc.message)


def test_estimate_errs_high_on_english_against_a_real_tokenizer(bpe):
    chunks = chunk_document(parse(GUIDE.encode() + make_prose(100_000).encode(), "guide.md"))
    ratios = sorted(chunk.token_count / bpe(chunk.text) for chunk in chunks if len(chunk.text) > 200)
    assert 1.0 <= ratios[len(ratios) // 2] <= 1.5
    assert ratios[0] >= 0.9


def test_chunks_capped_by_the_real_tokenizer(bpe):
    document = parse(GUIDE.encode() + make_prose(30_000).encode(), "guide.md")
    chunks = chunk_document(document, max_tokens=128, count_tokens=bpe)
    assert_well_formed(chunks, 128, count=bpe)


def test_throughput_of_five_megabytes_of_plain_text_is_printed(capsys):
    """Correctness at size; the figure is printed, not asserted (see bench/knowledge_indexing.py)."""
    data = make_prose(5_000_000).encode()
    started = time.perf_counter()
    chunks = chunk_document(parse(data, "big.txt"))
    elapsed = time.perf_counter() - started

    assert_well_formed(chunks, 256)
    assert sum(len(words(chunk.text)) for chunk in chunks) == len(data.split())
    with capsys.disabled():
        print(f"\n  parse+chunk of {len(data) / 1e6:.1f} MB plain text: {len(data) / 1e6 / elapsed:.1f} MB/s, "
              f"{len(chunks)} chunks")
