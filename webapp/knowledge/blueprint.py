"""Every URL of knowledge: pages under ``/s/<store>/knowledge/``, JSON under
``/api/v1/s/<store>/files/`` and ``/api/v1/s/<store>/search/``. Both go through the
tenancy chokepoint."""
from flask import Blueprint

from webapp.knowledge import api, views
from webapp.routing import moved
from webapp.stores import scoping

pages = Blueprint("knowledge", __name__, url_prefix="/s/<store>/knowledge")
scoping.init_scoped_blueprint(pages, work=True)
pages.add_url_rule("/", view_func=views.list_files)
pages.add_url_rule("/upload", view_func=views.upload_files, methods=["POST"])
pages.add_url_rule("/status/", view_func=views.file_statuses)
pages.add_url_rule("/files/<id:file_id>", view_func=views.show_file)
pages.add_url_rule("/files/<id:file_id>/download", view_func=views.download_file)
pages.add_url_rule("/files/<id:file_id>/reindex", view_func=views.reindex_file, methods=["POST"])
pages.add_url_rule("/files/<id:file_id>/delete", view_func=views.delete_file, methods=["GET", "POST"])
pages.add_url_rule("/search/", view_func=views.search)
pages.add_url_rule("/retrieval/", view_func=views.retrieval)
pages.add_url_rule("/retrieval/questions/", view_func=views.add_question, methods=["POST"])
pages.add_url_rule("/retrieval/questions/<id:question_id>/delete", view_func=views.delete_question,
                   methods=["POST"])
pages.add_url_rule("/retrieval/run", view_func=views.run_questions, methods=["POST"])

api_bp = Blueprint("knowledge_api", __name__, url_prefix="/api/v1/s/<store>")
scoping.init_scoped_blueprint(api_bp)
api_bp.add_url_rule("/files/", view_func=api.list_files)
api_bp.add_url_rule("/files/", view_func=api.upload_files, methods=["POST"])
api_bp.add_url_rule("/files/<id:file_id>", view_func=api.get_file)
api_bp.add_url_rule("/files/<id:file_id>", view_func=api.delete_file, methods=["DELETE"])
api_bp.add_url_rule("/files/<id:file_id>/reindex", view_func=api.reindex_file, methods=["POST"])
api_bp.add_url_rule("/search/", view_func=api.search_chunks)
api_bp.add_url_rule("/retrieval/questions/", view_func=api.list_questions)
api_bp.add_url_rule("/retrieval/questions/", view_func=api.create_question, methods=["POST"])
api_bp.add_url_rule("/retrieval/questions/<id:question_id>", view_func=api.delete_question, methods=["DELETE"])
api_bp.add_url_rule("/retrieval/runs/", view_func=api.list_runs)
api_bp.add_url_rule("/retrieval/runs/", view_func=api.create_run, methods=["POST"])

# Former addresses (before lists ended with "/").
moved(pages, "/status", ".file_statuses")
moved(pages, "/search", ".search")
moved(api_bp, "/search", ".search_chunks")
