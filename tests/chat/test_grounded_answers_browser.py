"""Honesty in the chat, in a real browser: the one-line notice while the tiny demo model answers
(with the way to Admin > Providers for an administrator), no notice for another model, and the
"cites no source" mark appearing live on an answer that cites none of its sources.

With ``STOREHOUSE_SCREENSHOTS=<dir>`` the pages are saved under ``<dir>/answers/``.
"""
import os
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.support.browser import WORK_TIMEOUT, sign_in, wait_for_page
from tests.support.chat import FACT, add_file, make_provider
from tests.support.model_servers import ScriptedServer, chunk, sse

pytestmark = pytest.mark.e2e
SCREENS = Path(os.environ["STOREHOUSE_SCREENSHOTS"]) / "answers" if os.environ.get("STOREHOUSE_SCREENSHOTS") else None


def shot(page, name):
    """Desktop and phone width, when screenshots are asked for."""
    if not SCREENS:
        return
    SCREENS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENS / f"{name}.desktop.png"))
    page.set_viewport_size({"width": 375, "height": 812})
    page.wait_for_function("() => document.getAnimations().every(a => a.playState !== 'running')")
    page.screenshot(path=str(SCREENS / f"{name}.phone.png"))
    page.set_viewport_size({"width": 1280, "height": 800})


def test_demo_model_notice_and_uncited_answers(live_server, page, db, create_user, create_store):
    page.set_viewport_size({"width": 1280, "height": 800})
    store = create_store("research", display_name="Research")
    add_file(db, store, "lighthouse.txt", FACT)
    make_provider(db)  # the built-in SmolLM2
    admin = create_user("boss", display_name="Bea Boss", is_admin=True)
    sign_in(page, live_server, admin)
    page.goto(live_server.url + "/s/research/chat/")
    wait_for_page(page)
    note = page.get_by_test_id("demo-model-note")
    expect(note).to_be_visible()
    expect(note).to_contain_text("SmolLM2-135M, a tiny demo model")
    shot(page, "01-demo-model-notice")
    note.get_by_test_id("demo-model-link").click()
    wait_for_page(page, "**/admin/providers/")
    page.get_by_test_id("provider-table").wait_for()

    # Another model answers: no notice; its answer without a citation is marked next to its sources.
    body = sse(chunk("The lighthouse was built by Ottilie Brandvik"), chunk(" in 1887."), chunk(None, "stop"),
               "[DONE]")
    with ScriptedServer(200, {"Content-Type": "text/event-stream"}, body) as server:
        make_provider(db, name="Gateway", kind="openai", base_url=server.url, model="m", max_tokens=40)
        page.goto(live_server.url + "/s/research/chat/")
        wait_for_page(page)
        expect(page.get_by_test_id("demo-model-note")).to_have_count(0)
        page.get_by_test_id("question").fill("Who built the Zephyrine lighthouse?")
        page.get_by_test_id("send").click()
        answer = page.get_by_test_id("answer").last
        answer.locator(".msg-meta:not(:empty)").wait_for(timeout=WORK_TIMEOUT)
        expect(answer.get_by_test_id("cites-nothing")).to_have_text("cites no source")
        expect(answer.get_by_test_id("sources")).to_contain_text("lighthouse.txt")
        shot(page, "02-cites-no-source-live")
        page.reload()
        wait_for_page(page)
        expect(page.get_by_test_id("answer").last.get_by_test_id("cites-nothing")).to_be_visible()
        shot(page, "03-cites-no-source-saved")
