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


def upload_files(client, files, store="research"):
    """POST ``[(name, bytes), ...]`` to the store's files API as multipart field ``file``, with the
    session's CSRF token (encoded in memory, as ``tests/knowledge/test_knowledge_files.upload``)."""
    import io

    from werkzeug.datastructures import FileStorage, MultiDict
    from werkzeug.test import encode_multipart

    from tests.support.client import csrf_token

    data = MultiDict([("file", FileStorage(io.BytesIO(content), filename=name)) for name, content in files])
    boundary, body = encode_multipart(data)
    return client.post(f"/api/v1/s/{store}/files/", data=body,
                       headers={"X-CSRFToken": csrf_token(client), "Accept": "application/json"},
                       content_type=f"multipart/form-data; boundary={boundary}")
