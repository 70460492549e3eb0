"""A store's retrieval test bench: test questions, and runs that measure how well search answers them.

A test question names the file (or one passage of it) that should answer it.
``run_questions`` searches every question three ways (full text alone, vectors
alone, both fused: ``webapp.knowledge.search`` modes) and records, per ranking:

* **Recall@5**: the share of questions whose file (or passage) is among the first 5 hits;
* **MRR@10**: the mean of 1/rank of the first hit that is it, within 10 (0 beyond).

A run keeps the metrics and each question's ranks, so a store's history shows
whether a new file, a model change or a setting made retrieval better or worse.
Services flush; the page, the API and ``flask knowledge eval`` commit.
"""
import sqlalchemy as sa
from sqlalchemy.orm import joinedload

from webapp.core.errors import StorehouseError
from webapp.extensions import db
from webapp.knowledge.models import KnowledgeChunk, KnowledgeFile, RetrievalQuestion, RetrievalRun
from webapp.knowledge.search import MODES, search

RECALL_AT, MRR_AT = 5, 10
#: Questions per store (a run searches each three times, in one request).
MAX_QUESTIONS = 200
QUESTION_MAX_CHARS = 1000


class QuestionRefused(StorehouseError):
    """A test question was refused; ``field`` names the input."""

    status_code = 422
    error = "invalid_question"

    def __init__(self, message, *, field):
        super().__init__(message)
        self.field = field

    def payload(self):
        return {"fields": {self.field: self.message}}


def add_question(store, user, question, file_id, chunk_id=None):
    """Save a test question of ``store`` answered by its file ``file_id`` (an id, or a file name), or by
    its passage ``chunk_id``. Flushes.

    :raises QuestionRefused: empty or long question, a file or passage not of this store, too many questions.
    """
    question = (question or "").strip()
    if not question:
        raise QuestionRefused("Write the question.", field="question")
    if len(question) > QUESTION_MAX_CHARS:
        raise QuestionRefused(f"A question has at most {QUESTION_MAX_CHARS} characters.", field="question")
    file = None
    if isinstance(file_id, int):
        file = db.session.execute(KnowledgeFile.query_for(store).where(KnowledgeFile.id == file_id)) \
            .scalar_one_or_none()
    elif isinstance(file_id, str) and file_id.strip():
        # By name (the API's "file"): the newest file of that name.
        file = db.session.execute(KnowledgeFile.query_for(store).where(KnowledgeFile.name == file_id.strip())
                                  .order_by(KnowledgeFile.id.desc()).limit(1)).scalar_one_or_none()
    if file is None:
        raise QuestionRefused("Choose a file of this store.", field="file_id")
    if chunk_id is not None:
        chunk = db.session.get(KnowledgeChunk, chunk_id) if isinstance(chunk_id, int) else None
        if chunk is None or chunk.file_id != file.id or chunk.store_id != store.id:
            raise QuestionRefused("That passage is not part of the chosen file.", field="chunk_id")
    count = db.session.execute(sa.select(sa.func.count()).select_from(RetrievalQuestion)
                               .where(RetrievalQuestion.store_id == store.id)).scalar_one()
    if count >= MAX_QUESTIONS:
        raise QuestionRefused(f"A store has at most {MAX_QUESTIONS} test questions; delete some first.",
                              field="question")
    row = RetrievalQuestion(store_id=store.id, question=question, file_id=file.id, chunk_id=chunk_id,
                            created_by_id=user.id if user else None)
    db.session.add(row)
    db.session.flush()
    return row


def delete_question(question):
    db.session.delete(question)
    db.session.flush()


def questions_of(store):
    """The store's test questions, oldest first, each with its file loaded in the same statement."""
    return db.session.execute(
        RetrievalQuestion.query_for(store).options(joinedload(RetrievalQuestion.file))
        .order_by(RetrievalQuestion.created_at, RetrievalQuestion.id).limit(MAX_QUESTIONS)
    ).scalars().all()


def _rank(hits, question):
    for rank, hit in enumerate(hits, start=1):
        if (hit.chunk_id == question.chunk_id) if question.chunk_id else (hit.file_id == question.file_id):
            return rank
    return None


def measure(store, questions):
    """``(metrics, results)`` of ``questions`` in ``store`` (see the module docstring). Reads only."""
    results, totals = [], {mode: {"found": 0, "reciprocal": 0.0} for mode in MODES}
    for question in questions:
        ranks = {}
        for mode in MODES:
            rank = _rank(search(store, question.question, k=MRR_AT, mode=mode), question)
            ranks[mode] = rank
            if rank is not None:
                totals[mode]["found"] += rank <= RECALL_AT
                totals[mode]["reciprocal"] += 1 / rank
        results.append({"question_id": question.id, "question": question.question, "ranks": ranks})
    count = max(len(questions), 1)
    metrics = {mode: {"recall_at_5": round(totals[mode]["found"] / count, 4),
                      "mrr_at_10": round(totals[mode]["reciprocal"] / count, 4)} for mode in MODES}
    return metrics, results


def run_questions(store, user=None):
    """Run every test question of ``store`` and keep the run (flushes). Returns the ``RetrievalRun``.

    :raises QuestionRefused: the store has no test questions.
    """
    questions = questions_of(store)
    if not questions:
        raise QuestionRefused("Add test questions first.", field="question")
    metrics, results = measure(store, questions)
    run = RetrievalRun(store_id=store.id, question_count=len(questions), metrics=metrics, results=results,
                       vector_key=store.vector_key, created_by_id=user.id if user else None)
    db.session.add(run)
    db.session.flush()
    return run


def recent_runs(store, limit=20):
    return db.session.execute(
        RetrievalRun.query_for(store).order_by(RetrievalRun.created_at.desc(), RetrievalRun.id.desc()).limit(limit)
    ).scalars().all()


def question_payload(question):
    return {"id": question.id, "question": question.question, "file_id": question.file_id,
            "chunk_id": question.chunk_id, "created_at": question.created_at.isoformat() + "Z"}


def run_payload(run):
    return {"id": run.id, "question_count": run.question_count, "metrics": run.metrics, "results": run.results,
            "vector_key": run.vector_key, "created_at": run.created_at.isoformat() + "Z"}
