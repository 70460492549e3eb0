"""Retrieval in a real browser: the Knowledge page shows both indexing stages (chunks, then
vectors), a paraphrase is found by meaning, and a PDF result opens the file page at its page."""
import os
from pathlib import Path

import pytest
from playwright.sync_api import expect

from bench.datasets.knowledge_files import make_pdf
from tests.support.browser import WORK_TIMEOUT, sign_in, wait_for_page
from webapp.jobs.worker import Worker
from webapp.knowledge.embedding import EMBED_JOB
from webapp.knowledge.jobs import INDEX_JOB

pytestmark = pytest.mark.e2e

#: Set STOREHOUSE_SCREENSHOTS=DIR to keep screenshots of the pages this test visits.
SCREENS = Path(os.environ["STOREHOUSE_SCREENSHOTS"]) / "retrieval" if os.environ.get("STOREHOUSE_SCREENSHOTS") \
    else None

PAGES = [[("Handbook", 18), ""] + [f"The opening remarks, sentence {n}." for n in range(40)],
         [f"General rules continue, sentence {n}." for n in range(40)],
         [("Parking", 18), "", "The car park behind building C is reserved for visitors and for colleagues "
          "with a disability badge."]]


def shot(page, name):
    if SCREENS is not None:
        SCREENS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENS / f"{name}.png"), full_page=True)


def run(app, kind):
    """Run the due jobs of ``kind`` now, in a worker thread of the live app, and wait for them."""
    worker = Worker(app, poll_interval=0.05, kinds=[kind], name=f"e2e-{kind}")
    thread = worker.start_in_background()
    return worker, thread


def test_knowledge_page_shows_both_stages_and_a_pdf_result_opens_at_its_page(app, live_server, page, create_user,
                                                                            create_store, grant, tmp_path):
    store = create_store("research", display_name="Research", embeddings_off=False)
    sign_in(page, live_server, grant(create_user("uma"), store))
    page.get_by_role("link", name="Knowledge", exact=True).click()
    wait_for_page(page, "**/s/research/knowledge/")
    handbook = tmp_path / "handbook.pdf"
    handbook.write_bytes(make_pdf(PAGES))
    page.get_by_test_id("file-input").set_input_files([str(handbook)])
    page.get_by_text("Uploaded", exact=True).wait_for(timeout=WORK_TIMEOUT)

    # Stage one: chunks written, searchable by full text; the vectors wait.
    worker, thread = run(app, INDEX_JOB)
    try:
        expect(page.locator('tr[data-file-id] [data-status="ready"]')).to_have_count(1, timeout=WORK_TIMEOUT)
        expect(page.locator('tr[data-file-id] [data-vectors="queued"]')).to_have_count(1, timeout=WORK_TIMEOUT)
    finally:
        worker.stop.set()
        thread.join(30)
    shot(page, "knowledge-stage-1")

    # Stage two: the page keeps polling until the vectors are ready too.
    worker, thread = run(app, EMBED_JOB)
    try:
        expect(page.locator('tr[data-file-id] [data-vectors="ready"]')).to_have_count(1, timeout=WORK_TIMEOUT)
    finally:
        worker.stop.set()
        thread.join(30)
    shot(page, "knowledge-stage-2")

    # Worded unlike the passage ("automobile"): found by meaning, cited with its page.
    page.get_by_label("Search this store's files").fill("Where can visitors put their automobile?")
    page.get_by_label("Search this store's files").press("Enter")
    first = page.get_by_test_id("result-link").first
    first.wait_for()
    assert first.inner_text() == "handbook.pdf, p. 3"
    assert "meaning" in page.get_by_test_id("found-by").first.inner_text()
    shot(page, "search-by-meaning")
    first.click()
    page.wait_for_url("**/knowledge/files/*#chunk-*")
    expect(page.get_by_test_id("cited-note")).to_contain_text("on p. 3")
    cited = page.get_by_test_id("cited-chunk")
    expect(cited).to_contain_text("car park behind building C")
    assert cited.is_visible()
    shot(page, "file-at-cited-page")


def test_retrieval_page_adds_a_question_and_runs_it(app, live_server, page, create_user, create_store):
    from tests.support.knowledge import add_indexed_file

    store = create_store("research", display_name="Research", embeddings_off=False)
    add_indexed_file(app, store, "nutrition.txt",
                     b"Adults need about 0.8 grams of protein per kilogram of body weight each day.")
    add_indexed_file(app, store, "travel.txt", b"The night train to Vienna leaves platform nine at 22:40.")
    sign_in(page, live_server, create_user("boss", is_admin=True))
    page.goto(f"{live_server.url}/s/research/knowledge/")
    page.get_by_test_id("retrieval-link").click()
    wait_for_page(page, "**/s/research/knowledge/retrieval/")
    page.get_by_label("Question").fill("How much meat should a grown-up eat?")
    page.get_by_label("The file that answers it").select_option(label="nutrition.txt")
    page.get_by_role("button", name="Add the question").click()
    page.get_by_text("Test question added.").wait_for()
    page.get_by_test_id("run-questions").click()
    page.get_by_text("Ran 1 test question.").wait_for(timeout=WORK_TIMEOUT)
    # Side by side: the paraphrase shares no word with its passage.
    expect(page.locator('[data-metric="fulltext-recall"]')).to_have_text("0.00")
    expect(page.locator('[data-metric="hybrid-recall"]')).to_have_text("1.00")
    shot(page, "retrieval-page")
