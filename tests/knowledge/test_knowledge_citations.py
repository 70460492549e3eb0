"""Citations that open at the page: a PDF chunk's page span is stored at indexing, a source
says "file.pdf, p. 12", and its link opens the file page at the cited passage."""
import pytest

from bench.datasets.knowledge_files import make_pdf
from tests.support.knowledge import upload_files as upload
from webapp.chat.payloads import sources_payload
from webapp.chat.retrieval import retrieve
from webapp.knowledge.models import KnowledgeChunk

PAGES = [[("Handbook", 18), ""] + [f"The opening remarks, sentence {n}." for n in range(40)],
         [f"General rules continue, sentence {n}." for n in range(40)],
         [("Parking", 18), "", "The car park behind building C is reserved for visitors."]]


@pytest.fixture
def store(create_store):
    return create_store("research")


@pytest.fixture
def signed_in(client, login, create_user, grant, store):
    member = create_user("member")
    grant(member, store)
    login(client, member)
    return client


def test_a_pdf_source_names_its_page_and_opens_the_file_page_there(app, db, signed_in, store, run_jobs):
    file_id = upload(signed_in, [("handbook.pdf", make_pdf(PAGES))]).json["items"][0]["id"]
    run_jobs()
    chunks = db.session.execute(db.select(KnowledgeChunk).order_by(KnowledgeChunk.ordinal)).scalars().all()
    assert chunks[-1].page == chunks[-1].page_end == 3 and chunks[0].page == 1
    sources = retrieve(store, "car park for visitors", 3)
    assert sources[0].chunk_id == chunks[-1].id and (sources[0].page, sources[0].page_end) == (3, 3)
    stored = sources[0].stored()
    assert (stored["page"], stored["page_end"]) == (3, 3)
    with app.test_request_context("/"):
        payload = sources_payload([stored], store_name="research")[0]
    assert payload["page_label"] == ", p. 3"
    assert payload["url"] == f"/s/research/knowledge/files/{file_id}?chunk={chunks[-1].id}#chunk-{chunks[-1].id}"
    page = signed_in.get(payload["url"]).get_data(as_text=True)
    assert 'data-testid="cited-note"' in page and "on p. 3" in page
    assert f'id="chunk-{chunks[-1].id}" data-testid="cited-chunk"' in page
    # Another file's chunk (or nonsense) is ignored: the page starts at the top.
    assert 'data-testid="cited-note"' not in signed_in.get(f"/s/research/knowledge/files/{file_id}?chunk=999999")\
        .get_data(as_text=True)
    assert signed_in.get(f"/s/research/knowledge/files/{file_id}?chunk=x").status_code == 200
