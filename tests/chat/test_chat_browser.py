"""The chat workspace in a real browser: ask, watch the answer stream with its source, stop one,
regenerate another, see usage; markup from a model or a quoted file stays inert.

With ``CHAT_SCREENSHOTS=<dir>`` the pages are also saved there (desktop and phone width).
"""
import os
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.support.browser import WORK_TIMEOUT, sign_in, wait_for_page
from tests.support.chat import FACT, add_file, make_provider
from tests.support.model_servers import ScriptedServer, chunk, sse

pytestmark = pytest.mark.e2e
SHOTS = os.environ.get("CHAT_SCREENSHOTS")


def shot(page, name):
    if not SHOTS:
        return
    Path(SHOTS).mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(Path(SHOTS) / f"{name}.desktop.png"), full_page=False)
    page.set_viewport_size({"width": 375, "height": 812})
    # The shell's menu transition settles.
    page.wait_for_function("() => document.getAnimations().every(a => a.playState !== 'running')")
    page.screenshot(path=str(Path(SHOTS) / f"{name}.phone.png"), full_page=False)
    page.set_viewport_size({"width": 1280, "height": 800})


def ask(page, text):
    page.get_by_test_id("question").fill(text)
    page.get_by_test_id("send").click()


def test_upload_ask_stream_stop_regenerate_and_usage(app, live_server, page, db, create_user, create_store, grant,
                                                     tmp_path):
    from webapp.jobs.worker import Worker

    page.set_viewport_size({"width": 1280, "height": 800})
    store = create_store("research", display_name="Research")
    add_file(db, store, "counting.txt", "Counting practice: one, two, three, four, five, six, seven, eight.")
    # Room for a long answer to stop (see below).
    make_provider(db, max_tokens=600)
    user = create_user("asker", display_name="Ada Asker")
    grant(user, store)
    sign_in(page, live_server, user)

    # Upload the file the question is about, through the Knowledge page, and let it be indexed.
    page.get_by_role("link", name="Knowledge", exact=True).click()
    # Loaded: the upload script listens to the file input (without it, choosing a file sends nothing).
    wait_for_page(page, "**/s/research/knowledge/")
    upload = tmp_path / "lighthouse.md"
    upload.write_text(f"# History\n\n{FACT}\n")
    page.get_by_test_id("file-input").set_input_files([str(upload)])
    page.get_by_text("Uploaded", exact=True).wait_for(timeout=WORK_TIMEOUT)
    worker = Worker(app, poll_interval=0.05, name="e2e-chat-worker")
    thread = worker.start_in_background()
    try:
        expect(page.locator('tr[data-file-id] [data-status="ready"]')).to_have_count(2, timeout=WORK_TIMEOUT)
    finally:
        worker.stop.set()
        thread.join(10)

    page.get_by_test_id("nav-chat").click()
    page.get_by_test_id("composer").wait_for()
    wait_for_page(page)  # the chat's script sends the question (without it, Send only reloads the page)
    shot(page, "01-chat-empty")

    # Ask: the answer streams in (plain text), then is replaced by the rendering, with its source.
    ask(page, "Who built the Zephyrine lighthouse? Answer in one short sentence.")
    answer = page.get_by_test_id("answer").last
    answer.locator(".msg-streaming").wait_for(state="attached", timeout=WORK_TIMEOUT)
    page.get_by_test_id("stop").wait_for(state="visible")
    answer.locator(".msg-meta:not(:empty)").wait_for(timeout=WORK_TIMEOUT)
    assert answer.get_by_test_id("source-link").first.inner_text() == "lighthouse.md"
    assert "/s/research/knowledge/files/" in answer.get_by_test_id("source-link").first.get_attribute("href")
    assert "History" in answer.get_by_test_id("sources").inner_text()
    assert "tokens" in answer.get_by_test_id("answer-meta").inner_text()
    shot(page, "02-chat-answer")

    # Stop a long answer mid-stream: the partial text stays, marked.
    # A question the local model answers at length (measured: it writes until the 600-token cap,
    # about 4.5 s; asked to count, it wrote 16 tokens and finished before the click could land).
    ask(page, "Write a long essay with many paragraphs about counting practice and numbers.")
    long_answer = page.get_by_test_id("answer").last
    page.wait_for_function(
        "() => { const a = [...document.querySelectorAll('[data-testid=answer]')].pop();"
        " return a && a.querySelector('.msg-streaming') && a.querySelector('.msg-streaming').textContent.length > 15; }",
        timeout=WORK_TIMEOUT)
    page.get_by_test_id("stop").click()
    long_answer.get_by_test_id("answer-stopped").wait_for(timeout=WORK_TIMEOUT)
    assert long_answer.get_by_test_id("answer-body").inner_text().strip()
    shot(page, "03-chat-stopped")

    # Regenerate the last answer: a new one replaces it.
    page.get_by_test_id("regenerate").last.click()
    page.wait_for_function(
        "() => { const a = [...document.querySelectorAll('[data-testid=answer]')].pop();"
        " return a && a.querySelector('.msg-meta') && a.querySelector('.msg-meta').textContent.length > 0; }",
        timeout=WORK_TIMEOUT)
    assert page.get_by_test_id("answer").count() == 2

    # The page reloaded shows what was saved.
    page.reload()
    assert page.get_by_test_id("answer").count() == 2
    assert page.get_by_test_id("chat-list").locator("a").count() == 1

    # Usage counts the three answers.
    page.get_by_test_id("nav-usage").click()
    assert page.get_by_test_id("total-answers").inner_text() == "3"
    page.get_by_test_id("usage-chart").wait_for()
    shot(page, "04-usage")


def test_markup_from_a_model_or_a_file_is_inert(live_server, page, db, create_user, create_store, grant):
    page.set_viewport_size({"width": 1280, "height": 800})
    store = create_store("research")
    add_file(db, store, '<img src=x onerror="window.__xss=5">.txt',
             'Zephyrine notes <script>window.__xss=4</script> <img src=x onerror="window.__xss=6">',
             heading='<b onmouseover="window.__xss=7">Heading</b>')
    payload = ('Here: <img src=x onerror="window.__xss=1"> <script>window.__xss=3</script> '
               '[click me](javascript:window.__xss=2) [1] **bold**')
    with ScriptedServer(200, {"Content-Type": "text/event-stream"},
                        sse(chunk(payload[:30]), chunk(payload[30:]), chunk(None, "stop"), "[DONE]")) as server:
        make_provider(db, name="Scripted", kind="openai", base_url=server.url, model="m", max_tokens=50)
        user = create_user("asker")
        grant(user, store)
        sign_in(page, live_server, user)
        page.goto(live_server.url + "/s/research/chat/")
        ask(page, "Zephyrine notes?")
        answer = page.get_by_test_id("answer").last
        answer.locator(".msg-meta:not(:empty)").wait_for(timeout=WORK_TIMEOUT)
        body = answer.get_by_test_id("answer-body")
        assert body.locator("strong").inner_text() == "bold"
        assert body.locator("img, script").count() == 0
        assert body.locator("a[href^='javascript']").count() == 0
        assert "<img" in body.inner_text()  # shown as text
        assert answer.locator(".source img, .source script, .source b").count() == 0
        page.mouse.move(10, 10)
        page.reload()
        page.get_by_test_id("answer").last.wait_for()
        assert page.get_by_test_id("answer").last.locator("img, script").count() == 0
        shot(page, "05-chat-xss-inert")
    assert page.evaluate("window.__xss") is None


def test_admin_sets_up_a_provider_and_reads_usage(live_server, page, db, create_user, create_store):
    page.set_viewport_size({"width": 1280, "height": 800})
    create_store("research", display_name="Research")
    make_provider(db)
    admin = create_user("boss", display_name="Bea Boss", is_admin=True)
    sign_in(page, live_server, admin)
    page.goto(live_server.url + "/admin/providers/")
    page.get_by_test_id("add-provider").click()
    page.get_by_label("Name").fill("Research GPU")
    page.get_by_label("Kind").select_option("openai")
    page.get_by_label("Base URL").fill("http://127.0.0.1:9/v1")
    page.get_by_label("Model").fill("llama-3.1-8b-instruct")
    page.get_by_label("API key").fill("sk-browser-secret-42")
    page.get_by_label("Input price per million tokens").fill("0.15")
    page.get_by_label("Output price per million tokens").fill("0.60")
    shot(page, "06-provider-form")
    page.get_by_role("button", name="Add provider").click()
    page.get_by_test_id("provider-table").wait_for()
    assert "sk-browser-secret" not in page.content()
    shot(page, "07-providers")
    page.locator('tr[data-provider="Research GPU"]').get_by_role("link", name="Edit").click()
    assert page.get_by_label("API key", exact=True).input_value() == ""
    assert "leave blank to keep" in page.content()
    page.goto(live_server.url + "/s/research/usage/?scope=store&group=user")
    page.get_by_test_id("usage-chart").wait_for()
    shot(page, "08-usage-admin")
