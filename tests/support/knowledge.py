"""Knowledge files for tests that need some: added and indexed the way an upload is."""
from webapp.extensions import db


def add_indexed_file(app, store, name, data, user=None):
    """Add ``data`` as file ``name`` of ``store`` through the upload service, run the
    indexing job, and return the file (ready, unless its content says otherwise)."""
    from webapp.jobs.worker import Worker
    from webapp.knowledge import service
    from webapp.knowledge.models import KnowledgeFile

    file, _ = service.add_file(store, user, name, data)
    db.session.commit()
    file_id = file.id
    Worker(app, poll_interval=0.01).run_until_idle()
    db.session.expire_all()
    return db.session.get(KnowledgeFile, file_id)
