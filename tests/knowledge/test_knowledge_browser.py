"""Knowledge in a real browser: upload two files, watch the progress bar and the statuses
turn ready (polled live), search, open a result."""
import pytest
from playwright.sync_api import expect

from tests.support.browser import WORK_TIMEOUT, sign_in, wait_for_page
from webapp.jobs.worker import Worker

pytestmark = pytest.mark.e2e

# Watches the progress bar's value as the XHR reports upload progress.
RECORD_PROGRESS = """() => {
  window.progressSeen = [];
  const meter = document.querySelector('[data-testid="upload-progress"]');
  new MutationObserver(() => window.progressSeen.push(meter.getAttribute('aria-valuenow')))
    .observe(meter, {attributes: true, attributeFilter: ['aria-valuenow']});
}"""


def test_upload_two_files_watch_them_index_search_and_open_a_result(app, live_server, page, create_user,
                                                                      create_store, grant, tmp_path):
    # Full text only: this test watches the first stage over a large file (the vector stage has
    # its own browser test, tests/knowledge/test_retrieval_browser.py); embedding its ~700
    # chunks would keep the worker busy long after the test.
    store = create_store("research", display_name="Research", embeddings_off=True)
    sign_in(page, live_server, grant(create_user("uma"), store))
    page.get_by_role("link", name="Knowledge", exact=True).click()
    # Loaded: the upload script listens to the file input (without it, choosing files sends nothing).
    wait_for_page(page, "**/s/research/knowledge/")
    page.get_by_text("No files yet.").wait_for()

    handbook = tmp_path / "handbook.md"
    handbook.write_text("# Handbook\n\n## Parking\n\nThe parking garage opens at seven; the barrier reads your badge.\n"
                        + "\n\n".join(f"Filler paragraph {n} about nothing in particular." for n in range(20000)))
    notes = tmp_path / "notes.txt"
    notes.write_text("Meeting notes: the cafeteria serves lasagne on Thursdays.")
    page.evaluate(RECORD_PROGRESS)
    page.get_by_test_id("file-input").set_input_files([str(handbook), str(notes)])

    page.get_by_text("Uploaded", exact=True).wait_for(timeout=WORK_TIMEOUT)
    seen = page.evaluate("window.progressSeen")
    assert seen and seen[-1] == "100", seen
    rows = page.locator("tr[data-file-id]")
    assert rows.count() == 2
    # No worker yet: both wait in the queue, as the page shows.
    assert page.locator('[data-status="queued"]').count() == 2

    worker = Worker(app, poll_interval=0.05, name="e2e-worker")
    thread = worker.start_in_background()
    try:
        # The statuses the page polls for: indexing 20,000 paragraphs takes a while on a busy machine.
        expect(page.locator('tr[data-file-id] [data-status="ready"]')).to_have_count(2, timeout=WORK_TIMEOUT)
    finally:
        worker.stop.set()
        thread.join(10)
    assert page.locator('[data-status="ready"]').count() == 2
    assert page.locator("[data-chunks]").count() == 2

    page.get_by_label("Search this store's files").fill("parking garage")
    page.get_by_label("Search this store's files").press("Enter")
    first = page.get_by_test_id("result-link").first
    first.wait_for()
    assert first.inner_text() == "handbook.md"
    assert page.locator(".result-snippet mark").first.inner_text().lower() in ("parking", "garage", "parking garage")
    first.click()
    page.wait_for_url("**/knowledge/files/*#chunk-*")
    chunk_id = page.url.rpartition("#")[2]
    target = page.locator(f"#{chunk_id}")
    assert "parking garage opens at seven" in target.inner_text()
    assert "Handbook › Parking" in target.inner_text()
