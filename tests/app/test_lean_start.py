"""A job worker starts without the libraries only pages and the knowledge feature use (numpy,
markdown-it, nh3): its start-up is what charges queued at a deploy wait for. A web process
served by gunicorn loads the answer renderer before its first request instead. (Pygments is
not among them: Mako, under Flask-Migrate's alembic, loads it with the app.)"""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LAZY = ("numpy", "markdown_it", "nh3")


def _loaded(code):
    """The modules of ``LAZY`` loaded after running ``code`` in a fresh interpreter."""
    report = f"\nimport sys\nprint(' '.join(name for name in {LAZY!r} if name in sys.modules))"
    done = subprocess.run([sys.executable, "-c", code + report], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.split()


def test_the_app_and_the_job_worker_start_without_the_pages_libraries():
    assert _loaded("from webapp import create_app\nimport webapp.jobs.worker\ncreate_app()") == []


def test_a_gunicorn_web_process_loads_the_answer_renderer_before_its_first_request():
    loaded = _loaded("import runpy\nrunpy.run_path('gunicorn.conf.py')['post_worker_init'](None)")
    assert loaded == ["markdown_it", "nh3"]
