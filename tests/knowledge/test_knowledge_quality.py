"""Retrieval quality (Recall@5 on our own fixture), ranking sanity, and XSS payloads kept inert."""
import pytest

from bench.datasets.knowledge_recall import DOCUMENTS, QUESTIONS
from tests.support.knowledge import add_indexed_file
from webapp.knowledge.search import search

#: Gate for Recall@5 (see the test's docstring for what was measured).
MIN_RECALL_AT_5 = 0.90


def recall_at(k, store, files):
    found, missed = 0, []
    for question, document, phrase in QUESTIONS:
        hits = search(store, question, k=k)
        if any(hit.file_id == files[document].id and phrase.lower() in hit.text.lower() for hit in hits):
            found += 1
        else:
            missed.append(question)
    return found / len(QUESTIONS), missed


def test_recall_at_5_on_our_fixture(app, create_store):
    """Recall@5 over bench/datasets/knowledge_recall.py (8 documents, 32 questions in people's words).

    Measured: 30/32 = 0.938 on SQLite (FTS5 bm25) and 30/32 = 0.938 on PostgreSQL
    (ts_rank_cd). The two misses are paraphrases full text cannot bridge: "doctor's
    note" (the text says "doctor's certificate", and "doctor" alone matches the
    sick-leave passage's neighbours first) and "leftover vacation" (the text says
    "unused days ... carried over"). Gated slightly below, at 0.90.
    """
    store = create_store("handbook")
    files = {name: add_indexed_file(app, store, name, text.encode()) for name, text in DOCUMENTS.items()}
    assert {file.status for file in files.values()} == {"ready"}
    recall, missed = recall_at(5, store, files)
    print(f"Recall@5 = {recall:.3f}; missed: {missed}")
    assert recall >= MIN_RECALL_AT_5, missed


def test_exact_phrase_ranks_its_chunk_first_through_the_whole_pipeline(app, create_store):
    store = create_store("ranking")
    text = "\n\n".join([
        "# Notes",
        "The red panda climbs trees. The giant panda eats bamboo all day long in the forest.",
        "A panda is red or giant; bamboo forests are their home; giant trees grow red leaves.",
        "Giant red pandas? No: the red panda is small, and giant pandas are bears that like bamboo.",
    ] * 1)
    add_indexed_file(app, store, "pandas.md", text.encode())
    other = add_indexed_file(app, store, "exact.md", b"# Exact\n\nZoo keepers say the giant panda eats bamboo.")
    hits = search(store, "giant panda eats bamboo")
    assert hits[0].file_id == other.id or "giant panda eats bamboo" in hits[0].text


XSS_NAME = '<img src=x onerror=alert(1)>"\'.md'
XSS_TEXT = ('# <script>alert("heading")</script>\n\n'
            'The quokka smiles. <script>alert("body")</script> <b onmouseover="alert(1)">bold</b> '
            '"><svg onload=alert(2)>\n')


@pytest.mark.parametrize("path", [
    "/s/research/knowledge/",
    "/s/research/knowledge/files/{id}",
    "/s/research/knowledge/files/{id}/delete",
    "/s/research/knowledge/search/?q=quokka",
    "/s/research/knowledge/search/?q=%3Cscript%3Ealert(1)%3C/script%3E+quokka",
])
def test_xss_payloads_in_names_and_contents_are_inert(app, client, login, create_user, create_store, path):
    store = create_store("research")
    user = create_user("uploader")
    file = add_indexed_file(app, store, XSS_NAME, XSS_TEXT.encode(), user=user)
    assert file.status == "ready", file.reason
    login(client, create_user("admin", is_admin=True))
    page = client.get(path.format(id=file.id)).get_data(as_text=True)
    for raw in ("<script>alert", "<img src=x", "<svg onload", "<b onmouseover"):
        assert raw not in page, (path, raw)
    # What was shown, was shown as text.
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    if "files/{id}" in path and not path.endswith("delete"):
        assert "&lt;script&gt;alert(&#34;body&#34;)&lt;/script&gt;" in page


def test_xss_in_search_api_snippets(app, client, login, create_user, create_store):
    store = create_store("research")
    add_indexed_file(app, store, XSS_NAME, XSS_TEXT.encode())
    login(client, create_user("admin", is_admin=True))
    [result] = client.get("/api/v1/s/research/search/?q=quokka").json["results"]
    markup = result["snippet"].replace("<mark>", "").replace("</mark>", "")
    assert "<" not in markup and "quokka" in result["snippet"].lower()
    assert result["file_name"] == XSS_NAME  # plain text in JSON; escaping is the renderer's job


def test_search_in_one_store_never_returns_anothers_chunk(app, client, login, create_user, create_store, grant):
    a, b = create_store("alpha"), create_store("beta")
    add_indexed_file(app, a, "a.txt", b"Alpha's kiwi harvest report.")
    secret = add_indexed_file(app, b, "b.txt", b"Beta's kiwi secret recipe.")
    user = create_user("alphauser")
    grant(user, a)
    login(client, user)
    results = client.get("/api/v1/s/alpha/search/?q=kiwi+secret+recipe&k=50").json["results"]
    assert results and all(r["file_id"] != secret.id for r in results)
    assert client.get("/api/v1/s/beta/search/?q=kiwi").status_code == 404
    page = client.get("/s/alpha/knowledge/search/?q=kiwi+recipe").get_data(as_text=True)
    assert "<mark>kiwi</mark>" in page and "Beta" not in page
