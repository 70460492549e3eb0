"""Chat benchmarks (issue 11), measured on this machine in one run.

1. ``model``    the local model (SmolLM2-135M in-process): time to first token and
                tokens per second of a short grounded answer.
2. ``overhead`` the chat path's own work, the model excluded: retrieval over a
                store of 100,000 chunks, the prompt within the token budget (the
                model's tokenizer included), saving the question and the answer
                row, then the final answer with its usage and price, in a chat of
                1,000 messages. Target p99 <= 30 ms.
3. ``usage``    the usage page's aggregates (totals, by day, by user, by
                provider) over 1,000,000 answer rows on PostgreSQL. Target <= 150 ms.

    python bench/chat.py [model] [overhead] [usage] [--db sqlite|postgresql] [--runs N]

PostgreSQL: a schema of its own in ``postgresql://postgres@127.0.0.1:5432/test``, dropped at the end.
"""
import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import flask_migrate  # noqa: E402
import sqlalchemy as sa  # noqa: E402

from config import TestingConfig  # noqa: E402
from webapp import create_app  # noqa: E402

PG_URL = os.environ.get("BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
WORDS = ("lighthouse harbour engine copper valve turbine ledger invoice payroll badge laptop onboarding travel "
         "policy security handbook server backup network printer contract supplier warehouse forklift pallet "
         "shipment customs tariff invoice refund warranty repair manual sensor battery charger cable antenna "
         "satellite orbit rocket telescope galaxy nebula comet asteroid glacier volcano canyon river delta").split()


def vocabulary(size=20_000, seed=11):
    """Made-up words (pronounceable, 4-9 letters) for a corpus with a real vocabulary's spread."""
    import random

    rng = random.Random(seed)
    consonants, vowels = "bcdfghklmnprstvz", "aeiou"
    words = set(WORDS)
    while len(words) < size:
        words.add("".join(rng.choice(consonants) + rng.choice(vowels) for _ in range(rng.randint(2, 4))))
    return sorted(words)


def zipf_text(rng, vocab, n):
    """``n`` words drawn with Zipf-like frequencies (rank r has weight 1/r), as natural text has."""
    return " ".join(vocab[min(int(rng.paretovariate(1.0)) - 1, len(vocab) - 1) * 7 % len(vocab)] for _ in range(n))


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def make_app(kind):
    if kind == "sqlite":
        path = Path(tempfile.mkdtemp()) / "chat-bench.db"
        url, cleanup = f"sqlite:///{path}", lambda: None
    else:
        schema = f"chat_bench_{os.getpid()}"
        admin = sa.create_engine(PG_URL, poolclass=sa.pool.NullPool)
        with admin.begin() as connection:
            connection.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        url = f"{PG_URL}?options=-csearch_path%3D{schema}"

        def cleanup():
            with admin.begin() as connection:
                connection.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    config = type("ChatBench", (TestingConfig,), {"TESTING": False, "SQLALCHEMY_DATABASE_URI": url,
                                                  "LOG_LEVEL": "WARNING", "JOBS_IN_PROCESS": False})
    app = create_app(config)
    with app.app_context():
        flask_migrate.upgrade()
    return app, cleanup


def bench_model(runs):
    from webapp.providers.interface import Delta, Finish, ProviderConfig
    from webapp.providers.runtimes import get_provider

    provider = get_provider(ProviderConfig(kind="local", name="Local", model="SmolLM2-135M-Instruct", max_tokens=64,
                                           temperature=0.0))
    # A grounded prompt as the chat builds it: five sources of about 80 words each.
    from webapp.chat.prompt import system_text
    from webapp.chat.retrieval import Source

    rng = __import__("random").Random(3)
    sources = [Source(n, n, f"file-{n}.md", n, "Section", " ".join(rng.choice(WORDS) for _ in range(80)), "")
               for n in range(1, 6)]
    messages = [{"role": "system", "content": system_text("", sources)},
                {"role": "user", "content": "Tell me about the Zephyrine lighthouse in three sentences."}]
    list(provider.stream(messages, max_tokens=4))  # load the model once
    ttfts, rates = [], []
    for i in range(runs):
        # A different first word each time: llama.cpp would reuse a cached identical prefix.
        varied = [{"role": "system", "content": f"{WORDS[i]}. " + messages[0]["content"]}, messages[1]]
        started = time.perf_counter()
        first = None
        for event in provider.stream(varied):
            if isinstance(event, Delta) and first is None:
                first = time.perf_counter()
            if isinstance(event, Finish):
                done = time.perf_counter()
                tokens = event.usage.completion_tokens
        ttfts.append((first - started) * 1000)
        rates.append((tokens - 1) / (done - first) if done > first else 0)
    prompt_tokens = provider.count_tokens(messages)
    print(f"local model ({prompt_tokens}-token prompt): time to first token p50 {statistics.median(ttfts):.0f} ms, p99 {percentile(ttfts, 99):.0f} ms; "
          f"{statistics.median(rates):.1f} tokens/s (median of {runs} answers of up to 64 tokens)")


def seed_store(db, store, user, chunks, messages):
    from webapp.chat.models import Chat, Message
    from webapp.knowledge.models import KnowledgeChunk, KnowledgeFile

    rng = __import__("random").Random(7)
    vocab = vocabulary()
    files = []
    for f in range(100):
        files.append({"store_id": store.id, "name": f"file-{f}.md", "content_type": "text/markdown", "size": 1000,
                      "sha256": f"{f:064d}", "storage_key": f"{f:064d}", "status": "ready", "progress": 100,
                      "chunk_count": chunks // 100, "text_chars": 1000, "error": None, "reason": None})
    db.session.execute(sa.insert(KnowledgeFile), files)
    file_ids = db.session.execute(sa.select(KnowledgeFile.id).order_by(KnowledgeFile.id)).scalars().all()
    batch = []
    for i in range(chunks):
        text = zipf_text(rng, vocab, 60) + " " + " ".join(rng.choice(vocab) for _ in range(20))
        batch.append({"store_id": store.id, "file_id": file_ids[i % 100], "ordinal": i // 100, "heading": "Section",
                      "text": text, "token_count": 80})
        if len(batch) == 5000:
            db.session.execute(sa.insert(KnowledgeChunk), batch)
            batch = []
    if batch:
        db.session.execute(sa.insert(KnowledgeChunk), batch)
    chat = Chat(store_id=store.id, user_id=user.id, title="Long chat")
    db.session.add(chat)
    db.session.flush()
    db.session.execute(sa.insert(Message), [
        {"store_id": store.id, "chat_id": chat.id, "user_id": user.id, "role": "user" if i % 2 == 0 else "assistant",
         "text": " ".join(rng.choice(WORDS) for _ in range(30)), "sources": [], "status": "complete", "error": "",
         "provider_name": "", "model": "", "prompt_tokens": 0, "completion_tokens": 0, "usage_estimated": False,
         "price": 0, "currency": "USD"} for i in range(messages)])
    db.session.commit()
    return chat


def bench_overhead(kind, runs):
    from webapp.chat import answering
    from webapp.chat.answering import _Run, _save
    from webapp.extensions import db
    from webapp.providers.interface import COMPLETE, Finish, Usage
    from webapp.stores import service as store_service
    from webapp.users import service as accounts

    app, cleanup = make_app(kind)
    try:
        with app.app_context():
            store = store_service.create_store("bench", knowledge_count=5, memory_limit=10)
            user = accounts.create_local_user("bencher", "bench@example.com", "bench-password-1", "")
            db.session.commit()
            started = time.perf_counter()
            chat = seed_store(db, store, user, 100_000, 1_000)
            vocab = vocabulary()
            if kind == "postgresql":
                db.session.execute(sa.text("ANALYZE"))
                db.session.commit()
            print(f"[{kind}] seeded 100,000 chunks and 1,000 messages in {time.perf_counter() - started:.1f} s")
            from webapp.providers.service import ensure_default_provider
            ensure_default_provider()
            db.session.commit()
            timings, parts = [], {"prepare": [], "save": []}
            for i in range(runs + 5):
                question = f"How does the {vocab[(i * 37) % len(vocab)]} affect {vocab[(i * 101) % len(vocab)]} and {vocab[(i * 13) % len(vocab)]}?"
                t0 = time.perf_counter()
                prepared = answering.prepare(store, user, chat, question)
                db.session.commit()
                t1 = time.perf_counter()
                run = _Run()
                run.parts = ["An answer of a few words [1]."]
                run.finish = Finish(COMPLETE, Usage(900, 40))
                prepared.answer = db.session.get(type(prepared.answer), prepared.answer_id)
                prepared.provider = db.session.get(type(prepared.provider), prepared.provider_id)
                _save(prepared, run)
                db.session.commit()
                t2 = time.perf_counter()
                if i >= 5:  # warm-up excluded
                    timings.append((t2 - t0) * 1000)
                    parts["prepare"].append((t1 - t0) * 1000)
                    parts["save"].append((t2 - t1) * 1000)
            print(f"[{kind}] chat path without the model ({runs} answers): p50 {statistics.median(timings):.1f} ms, "
                  f"p99 {percentile(timings, 99):.1f} ms (retrieval + prompt + question/answer rows "
                  f"p50 {statistics.median(parts['prepare']):.1f} ms; final answer + charge "
                  f"p50 {statistics.median(parts['save']):.1f} ms)")
            db.session.remove()
            db.engine.dispose()
    finally:
        cleanup()


def bench_usage(runs, rows=1_000_000):
    import subprocess
    from datetime import date, datetime, timedelta

    from webapp.chat import usage
    from webapp.extensions import db
    from webapp.stores import service as store_service
    from webapp.users import service as accounts

    app, cleanup = make_app("postgresql")
    try:
        with app.app_context():
            stores = [store_service.create_store(f"s{i}") for i in range(10)]
            users = [accounts.create_local_user(f"u{i}", f"u{i}@example.com", "bench-password-1", "")
                     for i in range(50)]
            db.session.commit()
            chat_ids = []
            for i, user in enumerate(users):
                chat_ids.append(db.session.execute(sa.text(
                    "INSERT INTO chats (store_id, user_id, title, created_at, updated_at) "
                    "VALUES (:s, :u, 'c', now(), now()) RETURNING id"), {"s": stores[i % 10].id, "u": user.id}).scalar())
            db.session.commit()
            started = time.perf_counter()
            # One row per answer over the last 90 days, spread over 50 users in 10 stores and 3 providers.
            db.session.execute(sa.text("""
                INSERT INTO messages (store_id, chat_id, user_id, role, text, sources, status, error, provider_name,
                                      model, prompt_tokens, completion_tokens, usage_estimated, price, currency,
                                      created_at)
                SELECT c.store_id, c.id, c.user_id, 'assistant', '', '[]', 'complete', '',
                       (ARRAY['Local','Gateway','Research GPU'])[1 + g % 3], 'm', 500 + g % 900, 20 + g % 300,
                       false, ((500 + g % 900) * 0.15 + (20 + g % 300) * 0.60) / 1000000, 'USD',
                       now() - (g % 7776000) * interval '1 second'
                FROM generate_series(1, :n) AS g
                JOIN chats c ON c.id = (SELECT min(id) FROM chats) + g % 50
            """), {"n": rows})
            db.session.commit()
            # What autovacuum does after a bulk load: statistics and the visibility map (index-only scans).
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                connection.execute(sa.text("VACUUM ANALYZE messages"))
            print(f"[postgresql] inserted {rows:,} answer rows in {time.perf_counter() - started:.1f} s")
            # The answers arrived in bulk, past the seam that keeps the usage rollup: build it as
            # `flask usage verify --repair` would (days in UTC, the default BILLING_TIMEZONE), in SQL.
            started = time.perf_counter()
            db.session.execute(sa.text("""
                INSERT INTO usage_days (store_id, user_id, provider, currency, day, answers, prompt_tokens,
                                        completion_tokens, cost)
                SELECT store_id, user_id, provider_name, currency, created_at::date, count(*), sum(prompt_tokens),
                       sum(completion_tokens), sum(price)
                FROM messages WHERE role = 'assistant' AND status <> 'streaming'
                GROUP BY store_id, user_id, provider_name, currency, created_at::date
            """))
            db.session.commit()
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                connection.execute(sa.text("VACUUM ANALYZE usage_days"))
            rollup_rows = db.session.execute(sa.text("SELECT count(*) FROM usage_days")).scalar()
            print(f"[postgresql] rollup: {rollup_rows:,} rows (store x person x provider x day) built in "
                  f"{time.perf_counter() - started:.1f} s")
            admin = users[0]
            last = date.today()
            first = last - timedelta(days=29)
            store = stores[0]
            all_ids = [s.id for s in stores]
            cases = {
                "one store, 30 days, by day": lambda: usage.grouped("day", "store", store, admin, first, last),
                "one store, 30 days, by user": lambda: usage.grouped("user", "store", store, admin, first, last),
                "one store, 30 days, totals": lambda: usage.totals("store", store, admin, first, last),
                "one user, 30 days, by day": lambda: usage.grouped("day", "mine", store, admin, first, last),
                "all stores, 30 days, by provider": lambda: usage.grouped("provider", "all", store, admin, first, last,
                                                                          all_ids),
                "all stores, 90 days, by store": lambda: usage.grouped("store", "all", store, admin,
                                                                       last - timedelta(days=89), last, all_ids),
            }
            # The baseline, in the same run: the same totals read from the answers themselves (as the
            # usage page did before the rollup).
            since = datetime.combine(last - timedelta(days=89), datetime.min.time())
            cases["baseline: all stores, 90 days, by store, from the answers"] = lambda: db.session.execute(sa.text(
                "SELECT s.name, m.currency, count(*), sum(m.prompt_tokens), sum(m.completion_tokens), sum(m.price) "
                "FROM messages m JOIN stores s ON s.id = m.store_id WHERE m.role = 'assistant' "
                "AND m.created_at >= :since AND m.store_id = ANY(:ids) GROUP BY s.name, m.currency"),
                {"since": since, "ids": all_ids}).all()
            print("load:", subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())
            for name, case in cases.items():
                case()
                times = []
                for _ in range(runs):
                    t0 = time.perf_counter()
                    case()
                    times.append((time.perf_counter() - t0) * 1000)
                print(f"[postgresql] usage over {rows:,} answers, {name}: p50 {statistics.median(times):.0f} ms, "
                      f"max {max(times):.0f} ms")
            db.session.remove()
            db.engine.dispose()
    finally:
        cleanup()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", nargs="*", default=["model", "overhead", "usage"])
    parser.add_argument("--db", default="sqlite,postgresql")
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()
    if "model" in args.what:
        bench_model(min(args.runs, 10))
    if "overhead" in args.what:
        for kind in args.db.split(","):
            bench_overhead(kind, args.runs)
    if "usage" in args.what:
        bench_usage(min(args.runs, 20))


if __name__ == "__main__":
    main()
