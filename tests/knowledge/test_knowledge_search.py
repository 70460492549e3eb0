"""Search: ranked, confined to the store, safe with any query, snippets safe as HTML (both databases)."""

import pytest

from tests.support.database import counting_queries
from webapp.knowledge import search as search_module
from webapp.knowledge.search import MAX_K, SearchHit, query_terms, render_snippet, search


def test_exact_phrase_ranks_its_chunk_first(app, create_store, add_chunks):
    store = create_store("research")
    add_chunks(store, [
        ("Garden", "The red fox sleeps under the oak tree while the farmer mows."),
        ("Fences", "A fox crossed the road; the red paint on the fence was new. Quick brown cows."),
        ("Animals", "The quick brown fox jumps over the lazy dog near the river bank."),
        ("Weather", "Brown leaves fall quickly when the wind is quick and cold."),
    ])
    hits = search(store, "quick brown fox")
    assert hits and hits[0].text.startswith("The quick brown fox")
    assert [hit.score for hit in hits] == sorted((hit.score for hit in hits), reverse=True)
    assert all(isinstance(hit, SearchHit) for hit in hits)
    assert hits[0].heading == "Animals" and hits[0].file_name.startswith("file-")


def test_a_question_held_as_a_phrase_outranks_its_words_repeated(app, create_store, add_chunks):
    """The whole query as a phrase (stop words included) beats a chunk that repeats its words more often."""
    store = create_store("research")
    add_chunks(store, [
        ("Policy", "Password reset: a reset password expires; reset tokens change the password policy, "
                   "and every password reset is logged with the password owner."),
        ("Help", "How do I reset the password? Open Settings, then Security."),
        ("Other", "Reset the router when the password of the network is lost."),
    ])
    hits = search(store, "How do I reset the password")
    assert [hit.heading for hit in hits][:1] == ["Help"]
    assert {hit.heading for hit in hits} == {"Policy", "Help", "Other"}


def test_search_is_confined_to_the_store(app, create_store, add_chunks):
    a, b = create_store("alpha"), create_store("beta")
    add_chunks(a, [("", "Alpha's onboarding checklist mentions the zebra protocol.")])
    secret = add_chunks(b, [("Secret", "Beta's zebra protocol is confidential.")])
    hits = search(a, "zebra protocol")
    assert hits and all(hit.file_id != secret.id for hit in hits)
    assert {hit.text for hit in search(b, "zebra")} == {"Beta's zebra protocol is confidential."}
    assert search(a, "confidential") == []


@pytest.mark.parametrize("query", [
    "", "   ", "!!!", "\"", "\"unbalanced", "NEAR(", "a AND OR NOT", "fox*", "^fox", "col:fox", "(((", ")",
    "fox -dog", "fox | dog & !cat", "'; DROP TABLE knowledge_chunks; --", "\x00\x01\x02fox\x03", "fox\ud800",
    "<script>alert(1)</script>", "🦊 fox", "ｆｏｘ", "a" * 5000, " ".join(["fox"] * 500), "_", "__init__",
    "or", "OR fox", "\"\"", "fox:*", "fox <-> dog", "{heading text}: fox", None, 42,
])
def test_any_query_is_safe(app, create_store, add_chunks, query):
    store = create_store("research")
    add_chunks(store, [("Animals", "The quick brown fox jumps over the lazy dog.")])
    hits = search(store, query)
    assert isinstance(hits, list)


def test_words_without_letters_search_nothing(app, create_store, add_chunks, db):
    store = create_store("research")
    add_chunks(store, [("", "anything at all")])
    with counting_queries(db.engine) as statements:
        assert search(store, " ?!*") == []
    assert statements == []


def test_k_is_clamped(app, create_store, add_chunks):
    store = create_store("research")
    add_chunks(store, [("", f"llama number {i}") for i in range(MAX_K + 5)])
    assert len(search(store, "llama", k=3)) == 3
    assert len(search(store, "llama", k=10_000)) == MAX_K
    assert len(search(store, "llama", k=0)) == 1
    assert len(search(store, "llama", k="lots")) == search_module.DEFAULT_K


def test_snippet_marks_matches_and_escapes_everything_else(app, create_store, add_chunks):
    store = create_store("research")
    add_chunks(store, [("<b>Head</b>", "Payload <img src=x onerror=alert(1)> next to the walrus & friends.")])
    [hit] = search(store, "walrus")
    assert "<mark>walrus</mark>" in hit.snippet
    assert "<" not in str(hit.snippet).replace("<mark>", "").replace("</mark>", "")
    assert hit.heading == "<b>Head</b>"  # plain text: the template escapes it


def test_render_snippet_drops_stray_marks():
    assert render_snippet("a \x02<b>\x03 \x02 c \x03\x03 d\x02") == "a <mark>&lt;b&gt;</mark> <mark> c </mark> d"
    assert render_snippet("") == "" and render_snippet(None) == ""


def test_heading_path_is_joined(app, create_store, add_chunks):
    store = create_store("research")
    add_chunks(store, [("Install\nLinux", "Use the package manager for the ocelot tool.")])
    [hit] = search(store, "ocelot")
    assert hit.heading == "Install › Linux"


def test_stemming_and_stop_words(app, create_store, add_chunks):
    store = create_store("research")
    add_chunks(store, [("", "Installing printers on every floor"), ("", "The and of a to")])
    assert [hit.text for hit in search(store, "how do I install a printer")] == ["Installing printers on every floor"]


def test_query_terms():
    terms = query_terms("How do I reset the password? (password)")
    assert terms.words == ("reset", "password")
    assert terms.phrase == ("how", "do", "i", "reset", "the", "password", "password")
    assert query_terms("the who").words == ("the", "who")
    assert not query_terms("?!")


def test_one_statement_per_search(app, create_store, add_chunks, db):
    store = create_store("research")
    for n in range(5):
        add_chunks(store, [("", f"heron sighting {n}"), ("", f"heron nest {n}")])
    assert store.id  # loaded before counting (the commits above expired it)
    with counting_queries(db.engine) as statements:
        assert len(search(store, "heron", k=10)) == 10
    assert len(statements) == 1


def test_candidates_are_capped_per_word_and_rare_words_are_never_cut(app, create_store, add_chunks, monkeypatch):
    """Only ``CANDIDATES_PER_WORD`` chunks per word are ranked, so a common word cannot
    crowd out the chunk a rare word names; the store's other chunks stay out of reach."""
    monkeypatch.setattr(search_module, "CANDIDATES_PER_WORD", 3)
    store, other = create_store("research"), create_store("elsewhere")
    add_chunks(other, [("", "meeting osprey agenda")] * 5)
    add_chunks(store, [("", f"meeting notes {n}") for n in range(12)])
    add_chunks(store, [("", "the osprey meeting was short")])
    hits = search(store, "meeting osprey", k=10)
    assert hits[0].text == "the osprey meeting was short"
    # the osprey chunk (holding both words), then at most 3 more for "meeting"
    assert len(hits) <= 1 + 3
    assert all(hit.text != "meeting osprey agenda" for hit in hits)
    assert len(search(store, "meeting", k=10)) == 3
