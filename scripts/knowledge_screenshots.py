"""Screenshots of the Knowledge pages (list, upload in progress, file, search), desktop and phone, light and dark.

    .venv/bin/python scripts/knowledge_screenshots.py OUTPUT_DIR

A throwaway SQLite database and file directory, a local administrator, files
added through the upload service and indexed by the job runner, then Playwright
driving Debian's Chromium (``/usr/bin/chromium`` or ``STOREHOUSE_CHROMIUM``).
A developer tool: nothing here runs in production.
"""
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.datasets.knowledge_files import make_docx, make_image_only_pdf, make_pdf  # noqa: E402
from bench.datasets.knowledge_recall import DOCUMENTS  # noqa: E402
from scripts.screenshots import CHROMIUM, CHROMIUM_ARGS, VIEWPORTS, LiveServer  # noqa: E402

PASSWORD = "screenshot-password"


def build(tmp):
    import flask_migrate
    import sqlalchemy as sa

    from config import TestingConfig
    from webapp import create_app
    from webapp.auth import service as auth
    from webapp.extensions import db
    from webapp.jobs.worker import Worker
    from webapp.knowledge import service
    from webapp.stores import service as stores

    settings = {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp}/shots.db", "TESTING": False,
                "SQLALCHEMY_ENGINE_OPTIONS": {"poolclass": sa.pool.NullPool},
                "KNOWLEDGE_FILES_DIR": f"{tmp}/files", "KNOWLEDGE_STORE_QUOTA_MB": 1024.0}
    app = create_app(type("ShotConfig", (TestingConfig,), settings))
    with app.app_context():
        flask_migrate.upgrade()
        admin = auth.create_local_user("mara", "mara@example.com", PASSWORD, "Mara Lindqvist", is_admin=True)
        store = stores.create_store("general", display_name="General")
        db.session.commit()

        def handbook(document):
            document.add_heading("Employee handbook", 1)
            document.add_paragraph("Welcome to the company. This handbook explains how we work together.")
            document.add_heading("Working hours", 2)
            document.add_paragraph("Core hours are from ten to four; the rest of the day is yours to arrange.")

        files = [(name, text.encode()) for name, text in DOCUMENTS.items()]
        files += [("Employee handbook 2026 (final, approved by the works council).docx", make_docx(handbook)),
                  ("Q3 board report.pdf", make_pdf([["Q3 board report", "", "Revenue grew by 12 percent."]])),
                  ("scanned-contract.pdf", make_image_only_pdf())]
        for name, data in files:
            service.add_file(store, admin, name, data)
        db.session.commit()
        Worker(app, poll_interval=0.01).run_until_idle()
        # One file still waiting, to show a live status.
        service.add_file(store, admin, "meeting-notes.txt", b"Notes of the Tuesday meeting about the new office.")
        db.session.commit()
    return app


def main(out_dir):
    from playwright.sync_api import sync_playwright

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        app = build(tmp)
        with LiveServer(app) as server, sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            for scheme in ("light", "dark"):
                for viewport in ("desktop", "phone"):
                    context = browser.new_context(viewport=VIEWPORTS[viewport], color_scheme=scheme)
                    page = context.new_page()
                    page.goto(server.url + "/auth/login")
                    page.get_by_label("Email").fill("mara@example.com")
                    page.get_by_label("Password").fill(PASSWORD)
                    page.get_by_role("button", name="Sign in").click()
                    page.get_by_text("Welcome back").wait_for()
                    suffix = f"{viewport}{'.dark' if scheme == 'dark' else ''}.png"

                    def shot(name, path=None, page=page, suffix=suffix):
                        if path:
                            page.goto(server.url + path)
                        page.screenshot(path=str(out / f"{name}.{suffix}"), full_page=True)

                    shot("01-knowledge-list", "/s/general/knowledge/")
                    # Upload in progress: the bar as the browser's upload events move it.
                    page.evaluate("""() => {
                      const p = document.querySelector('[data-upload-progress]'); p.hidden = false;
                      document.querySelector('[data-upload-bar]').style.width = '62%';
                      document.querySelector('[data-upload-percent]').textContent = '62%';
                      document.querySelector('[data-upload-label]').textContent = 'Uploading 2 files…';
                      document.querySelector('[data-dropzone]').classList.add('is-over');
                    }""")
                    page.screenshot(path=str(out / f"02-knowledge-uploading.{suffix}"), full_page=False)
                    page.goto(server.url + "/s/general/knowledge/")
                    page.get_by_role("link", name="Employee handbook 2026 (final, approved by the works council).docx", exact=True).click()
                    shot("03-file-ready")
                    page.goto(server.url + "/s/general/knowledge/")
                    page.get_by_role("link", name="scanned-contract.pdf", exact=True).click()
                    shot("04-file-no-text")
                    shot("05-search", "/s/general/knowledge/search/?q=How+many+vacation+days+do+I+get%3F")
                    shot("06-search-nothing", "/s/general/knowledge/search/?q=submarine")
                    shot("07-search-empty", "/s/general/knowledge/search/")
                    context.close()
            browser.close()


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "screenshots-knowledge")
