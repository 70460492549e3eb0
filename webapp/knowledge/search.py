"""Ranked search over one store's chunks: ``search(store, query, k) -> [SearchHit]``.

**Hybrid.** ``search`` fuses two rankings by reciprocal rank fusion: the
database's full-text ranking (``fulltext_search``, below) and the vector ranking
(``vector_search``: the query embedded by the store's embedding provider,
scored against the store's chunk vectors by ``webapp.knowledge.vectors``). A
chunk's fused score is ``sum(weight / (RRF_K + rank))`` over the rankings that
found it (weights ``SEARCH_FULLTEXT_WEIGHT`` and ``SEARCH_VECTOR_WEIGHT``), and
each hit says which rankings found it (``found_by``). It falls back to whichever
side exists: full text alone while a store has no complete vectors of its
current model (no embedding provider, vectors still being made, the embedder
unreachable for the query), vectors alone for a query whose words match nothing.

**"No matching knowledge" still means something.** A vector ranking always has
a nearest chunk, so a vector match counts only at a cosine similarity of at
least ``VECTOR_SIMILARITY_FLOOR``. e5 similarities are compressed (unrelated
texts score ~0.75), so the floor is measured, on bench/datasets/retrieval_fixture.py
with multilingual-e5-small q4: its 37 questions score 0.79-0.93 (median 0.86)
with the passage that answers them, its 5 questions about nothing in it at most
0.809 with any passage. 0.81 keeps all five out and costs the vector side 2 of
the 37 answers (which full text may still find). A question below the floor
that shares no word with the store gives ``[]``, as before.

The full-text contract (``fulltext_search``; the hybrid keeps it):

- **Confined to the store**: every hit's chunk has ``store_id == store.id``.
- **Ranked** by the database's own scoring: FTS5 ``bm25()`` on SQLite,
  ``ts_rank_cd`` on PostgreSQL; ``score`` is higher-is-better on both (bm25 is
  negated), comparable only within one result list. The exact phrase outranks
  its words on both: on SQLite bm25 scores the words, and a chunk holding the
  whole query as a phrase gains what bm25 would give the phrase (its document
  count estimated, see ``_sqlite_search``).
- **Any text is a query**: the user's words are reduced to plain terms and
  rebuilt into a match expression of our own (the whole query as a phrase,
  OR each significant word), so operators, quotes, brackets or control
  characters typed by a user are never syntax; a query with no words gives
  ``[]`` without touching the database.
- **Snippets are safe HTML**: the database marks matched terms with control
  characters, then the text is HTML-escaped and only those marks become
  ``<mark>`` elements. ``snippet`` may be rendered with ``|safe``; ``text``
  and every other field are plain text.
- **Bounded work**: only a capped candidate set is ranked, never every chunk
  that shares a word with the query (see :func:`search` and ``CANDIDATES_PER_WORD``).
- ``k`` is clamped to ``1..MAX_K``. One query per search.
"""
import concurrent.futures
import dataclasses
import functools
import html
import logging
import re
from dataclasses import dataclass

import sqlalchemy as sa
from flask import current_app
from markupsafe import Markup

from webapp.extensions import db
from webapp.knowledge import vectors
from webapp.knowledge.fulltext import FTS_TABLE, PG_CONFIG
from webapp.knowledge.models import HEADING_SEPARATOR, KnowledgeChunk, KnowledgeFile
from webapp.providers.embeddings import get_embedder
from webapp.providers.errors import ProviderError
from webapp.providers.service import config_for, embedding_provider_for_store, vector_key

log = logging.getLogger("webapp.knowledge")

#: Most hits one search returns (the API's ``k`` and chat's ``knowledge_count`` are clamped to it).
MAX_K = 50
DEFAULT_K = 5
#: Longer queries are cut: past this, words add cost and no precision.
MAX_QUERY_CHARS = 1_000
MAX_TERMS = 16
#: The whole query is also searched as a phrase when it has this many words or fewer.
MAX_PHRASE_WORDS = 12
#: Candidates taken for each significant word (and for all of them together)
#: before ranking. A word in fewer chunks than this gives all of them, so rare
#: words (the informative ones) are never cut; a common word gives an arbitrary
#: capped subset. 100 by measurement (bench/knowledge_search.py, 100,000 chunks):
#: PostgreSQL's slowest searches took ~45 ms at 200, ~25 ms at 100, ~21 ms at 50.
CANDIDATES_PER_WORD = 100
#: Only the first significant words of a query select candidates (all of them still rank).
MAX_CANDIDATE_WORDS = 8
#: How a heading path is shown in a hit.
HEADING_JOINER = " › "
#: Reciprocal rank fusion's constant (the usual 60: a rank-1 hit of one ranking is worth
#: little more than a rank-5 one, so agreement between rankings decides).
RRF_K = 60
#: Hits taken from each ranking before fusing.
FUSION_DEPTH = 30
#: Seconds a search waits for the query's embedding before it uses full text alone.
QUERY_EMBED_TIMEOUT = 5.0
#: The rankings a hit can be found by.
FULLTEXT, VECTORS = "fulltext", "vectors"
#: ``search(mode=...)``: both fused, or one ranking alone (the retrieval test bench compares them).
MODES = ("hybrid", FULLTEXT, VECTORS)
#: Characters of a chunk shown as the snippet of a hit found by vectors alone.
VECTOR_SNIPPET_CHARS = 240

# Marks the database puts around matched terms (never in stored text: the
# indexer strips C0 controls from chunks, and stray ones are dropped below).
_START, _STOP = "\x02", "\x03"
_MARKED = re.compile(f"{_START}([^{_START}{_STOP}]*){_STOP}")
_STRAY_MARKS = re.compile(f"[{_START}{_STOP}]")
# Letters and digits of any script; "_" and punctuation separate words, as in
# both databases' tokenizers.
_WORD = re.compile(r"[^\W_]+")

#: Words too common to select anything; left out of the OR terms (the phrase
#: keeps them). PostgreSQL's ``english`` configuration drops these itself;
#: on SQLite they would match nearly every chunk and cost a full scan's ranking.
STOP_WORDS = frozenset("""
a about above after again against all am an and any are as at be because been before being below
between both but by can could did do does doing down during each few for from further had has have
having he her here hers herself him himself his how i if in into is it its itself just me more most
my myself no nor not now of off on once only or other our ours ourselves out over own same she should
so some such than that the their theirs them themselves then there these they this those through to
too under until up very was we were what when where which while who whom why will with would you
your yours yourself yourselves
""".split())


@dataclass(frozen=True, slots=True)
class SearchHit:
    file_id: int
    #: The file's display name (plain text: escape it like any user text).
    file_name: str
    chunk_id: int
    #: Heading path joined by " › " ("" before the first heading).
    heading: str
    #: The chunk's whole text (plain text).
    text: str
    #: A short extract with matched terms in ``<mark>``; safe HTML (see the module docstring).
    snippet: Markup
    #: Higher is better; comparable within one result list only.
    score: float
    #: 1-based pages the chunk spans (PDF), else None.
    page: int | None = None
    page_end: int | None = None
    #: The rankings that found it: ("fulltext",), ("vectors",) or both.
    found_by: tuple = ()

    @property
    def page_label(self):
        """"p. 12" or "pp. 12–13" for a PDF chunk, else ""."""
        if not self.page:
            return ""
        return f"pp. {self.page}–{self.page_end}" if self.page_end and self.page_end != self.page \
            else f"p. {self.page}"


@dataclass(frozen=True)
class Terms:
    """A query reduced to words: ``phrase`` (all words, in order) and ``words`` (the significant ones)."""

    phrase: tuple
    words: tuple

    def __bool__(self):
        return bool(self.words)


def query_terms(query):
    """The words of ``query`` (lower-cased, de-duplicated, capped); never raises on any string."""
    if not isinstance(query, str):
        return Terms((), ())
    everything = [word.lower() for word in _WORD.findall(query[:MAX_QUERY_CHARS])]
    significant = list(dict.fromkeys(word for word in everything if word not in STOP_WORDS))
    # A query of stop words only ("the who") still searches for them.
    words = tuple((significant or list(dict.fromkeys(everything)))[:MAX_TERMS])
    phrase = tuple(everything) if 2 <= len(everything) <= MAX_PHRASE_WORDS else ()
    return Terms(phrase, words)


def fts5_expression(terms):
    """An FTS5 MATCH expression: each word a quoted string (so no word is an operator), OR-ed."""
    parts = []
    if terms.phrase:
        parts.append('"' + " ".join(terms.phrase) + '"')
    parts.extend(f'"{word}"' for word in terms.words)
    return " OR ".join(parts)


def websearch_expression(terms):
    """A ``websearch_to_tsquery`` string: each word, OR-ed (it never raises on any string)."""
    # "or" as a word would be read as the operator; it is a stop word anyway.
    return " or ".join(word for word in terms.words if word != "or")


def search(store, query, k=DEFAULT_K, *, mode="hybrid"):
    """The ``k`` chunks of ``store`` that best answer ``query``, best first (see the module docstring).

    :param query: anything a person typed; a query with no words gives ``[]``.
    :param k: clamped to ``1..MAX_K``.
    :param mode: "hybrid" (both rankings fused), "fulltext" or "vectors" (one alone).
    :returns: a list of :class:`SearchHit` with ``found_by`` set. Reads only.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
    if not query_terms(query):
        return []
    k = clamp_k(k)
    depth = max(k, FUSION_DEPTH)
    # The full-text side ranks `depth` chunks but marks snippets only for the k that win:
    # a snippet re-reads its chunk's text (PostgreSQL's ts_headline, FTS5's snippet), the
    # dearest part of the statement, and most of the depth never reaches the answer.
    # Full text alone (no usable vectors) stays one statement, snippets included.
    if mode == "hybrid" and (pending := _vector_search_aside(store, query, depth)) is not None:
        text_hits = fulltext_search(store, query, depth, snippets=False)
        nearest = pending.result()
    else:
        nearest = vector_search(store, query, depth) if mode != FULLTEXT else None
        if nearest is None:
            return [] if mode == VECTORS else [dataclasses.replace(hit, found_by=(FULLTEXT,))
                                                for hit in fulltext_search(store, query, k)]
        text_hits = fulltext_search(store, query, depth, snippets=False) if mode != VECTORS else []
    if nearest is None:
        return _with_snippets(store, query, [dataclasses.replace(hit, found_by=(FULLTEXT,)) for hit in text_hits[:k]])
    config = current_app.config
    weights = {FULLTEXT: config["SEARCH_FULLTEXT_WEIGHT"], VECTORS: config["SEARCH_VECTOR_WEIGHT"]}
    scores, found = {}, {}
    for name, ranking in ((FULLTEXT, [hit.chunk_id for hit in text_hits]), (VECTORS, [c for c, _ in nearest])):
        if not weights[name]:
            continue
        for rank, chunk_id in enumerate(ranking, start=1):
            scores[chunk_id] = scores.get(chunk_id, 0.0) + weights[name] / (RRF_K + rank)
            found.setdefault(chunk_id, []).append(name)
    winners = sorted(scores, key=lambda chunk_id: (-scores[chunk_id], chunk_id))[:k]
    by_id = {hit.chunk_id: hit for hit in text_hits}
    missing = [chunk_id for chunk_id in winners if chunk_id not in by_id]
    by_id.update(_vector_only_hits(store, missing))
    return _with_snippets(store, query, [
        dataclasses.replace(by_id[chunk_id], score=scores[chunk_id], found_by=tuple(found[chunk_id]))
        for chunk_id in winners if chunk_id in by_id])


def _with_snippets(store, query, hits):
    """``hits`` with the full-text snippet of each one found by full text (one statement for all)."""
    wanted = [hit.chunk_id for hit in hits if FULLTEXT in hit.found_by]
    if not wanted:
        return hits
    marked = fulltext_snippets(store, query, wanted)
    return [dataclasses.replace(hit, snippet=marked[hit.chunk_id]) if hit.chunk_id in marked else hit
            for hit in hits]


def fulltext_snippets(store, query, chunk_ids):
    """``{chunk_id: snippet}`` for ``chunk_ids`` of ``store``, matched terms in ``<mark>`` (safe HTML).

    One statement; it reads only those chunks (a rowid lookup each). A chunk the query's
    words do not match (or another store's) is left out.
    """
    terms = query_terms(query)
    if not terms or not chunk_ids:
        return {}
    params = {"store_id": store.id, "ids": list(chunk_ids)}
    if db.engine.dialect.name == "postgresql":
        params.update(query=websearch_expression(terms), options=_HEADLINE_OPTIONS)
        statement = _POSTGRESQL_SNIPPETS
    else:
        params.update(words=fts5_expression(Terms((), terms.words)))
        statement = _SQLITE_SNIPPETS
    rows = db.session.execute(statement, params)
    return {row.chunk_id: render_snippet(row.snippet) for row in rows}


def vector_search(store, query, k):
    """``[(chunk_id, similarity)]``: the ``k`` nearest chunks at or above the similarity floor, or
    None when the store's vectors cannot be used now (none, incomplete, the embedder failing)."""
    provider, key = _usable_vectors(store)
    if key is None:
        return None
    return _nearest(store.id, _query_embedder(provider), query, k, current_app.config["VECTOR_SIMILARITY_FLOOR"],
                    lambda vector, k: vectors.index.nearest(store, key, vector, k))


def _vector_search_aside(store, query, k):
    """``vector_search`` started in another thread (a Future), or None when it must run here.

    The query's embedding and the matrix product hold no GIL (ctypes, or the network, and
    BLAS), nor does SQLite's or psycopg's statement, so a hybrid search costs about the
    slower of its two rankings instead of their sum. Only when the store's matrix is
    already cached: loading it reads the database, which stays in the request's thread.
    """
    provider, key = _usable_vectors(store)
    scorer = vectors.index.cached(store, key) if key is not None else None
    if scorer is None:
        return None
    embedder = _query_embedder(provider)
    app = current_app._get_current_object()
    floor, store_id = app.config["VECTOR_SIMILARITY_FLOOR"], store.id  # read here: no ORM in that thread

    def run():
        with app.app_context():  # the embedder reads its settings from the app
            return _nearest(store_id, embedder, query, k, floor, scorer)

    return _aside().submit(run)


@functools.cache
def _aside():
    # A few threads per process: on two cores more would only queue for the CPU. A search
    # whose vector side finds them all busy waits behind the others' vector work.
    return concurrent.futures.ThreadPoolExecutor(max_workers=4, thread_name_prefix="vector-search")


def _usable_vectors(store):
    """``(provider, key)`` when the store's vectors of its current model are complete, else ``(None, None)``."""
    if store.vector_key is None or store.embeddings_off:
        return None, None  # no complete vectors (checked first: it costs no query)
    provider = embedding_provider_for_store(store, create=False)
    if provider is None:
        return None, None
    key = vector_key(provider)
    if store.vector_key != key:
        return None, None  # its vectors of this model are not complete yet
    return provider, key


def _query_embedder(provider):
    config = config_for(provider)
    return get_embedder(dataclasses.replace(config, timeout=min(config.timeout, QUERY_EMBED_TIMEOUT)))


def _nearest(store_id, embedder, query, k, floor, score):
    try:
        query_vector = embedder.query(query)
    except ProviderError as exc:
        log.warning("Store %s searches by full text only: the query could not be embedded (%s)", store_id,
                    exc.message)
        return None
    return [(chunk_id, similarity) for chunk_id, similarity in score(query_vector, k) if similarity >= floor]


def _vector_only_hits(store, chunk_ids):
    """Hits for chunks found by vectors alone (no full-text snippet: the text's start, escaped)."""
    if not chunk_ids:
        return {}
    rows = db.session.execute(
        sa.select(KnowledgeChunk.id, KnowledgeChunk.file_id, KnowledgeFile.name, KnowledgeChunk.heading,
                  KnowledgeChunk.text, KnowledgeChunk.page, KnowledgeChunk.page_end)
        .join(KnowledgeFile, KnowledgeFile.id == KnowledgeChunk.file_id)
        .where(KnowledgeChunk.id.in_(chunk_ids), KnowledgeChunk.store_id == store.id)
    ).all()
    hits = {}
    for row in rows:
        text = row.text
        snippet = html.escape(text[:VECTOR_SNIPPET_CHARS]) + ("…" if len(text) > VECTOR_SNIPPET_CHARS else "")
        hits[row.id] = SearchHit(
            file_id=row.file_id, file_name=row.name, chunk_id=row.id,
            heading=HEADING_JOINER.join(row.heading.split(HEADING_SEPARATOR)) if row.heading else "",
            text=text, snippet=Markup(snippet), score=0.0, page=row.page, page_end=row.page_end)
    return hits


def fulltext_search(store, query, k=DEFAULT_K, *, snippets=True):
    """The ``k`` chunks of ``store`` that best match ``query`` by full text, best first.

    :param query: anything a person typed; an empty or word-less query gives ``[]``.
    :param k: clamped to ``1..MAX_K`` (non-integers count as ``DEFAULT_K``).
    :param snippets: False leaves every hit's ``snippet`` empty (``search`` marks only its
        winners', with :func:`fulltext_snippets`).
    :returns: a list of :class:`SearchHit`. Reads only; one SQL statement.

    The statement ranks a bounded candidate set, not every matching chunk: the
    union of the chunks matching all candidate words and, for each candidate
    word, the chunks matching it, each part capped at ``CANDIDATES_PER_WORD``
    (so at most ``(MAX_CANDIDATE_WORDS + 1) * CANDIDATES_PER_WORD`` rows are
    scored). A chunk holding the exact phrase holds all the words, so it is a
    candidate unless more than the cap hold them all (then each of them still
    has its words' chances). Snippets/headlines are made for the ``k`` winners only.
    """
    terms = query_terms(query)
    if not terms:
        return []
    k = clamp_k(k)
    words = terms.words[:MAX_CANDIDATE_WORDS]
    params = {"store_id": store.id, "k": k, "cap": CANDIDATES_PER_WORD}
    params.update((f"w{n}", word) for n, word in enumerate(words))
    if db.engine.dialect.name == "postgresql":
        params.update(query=websearch_expression(terms), phrase=" ".join(terms.phrase), all=" ".join(words),
                      options=_HEADLINE_OPTIONS)
        rows = db.session.execute(_postgresql_search(len(words), snippets), params)
    else:
        params.update(words=fts5_expression(Terms((), terms.words)), phrase=fts5_expression(Terms(terms.phrase, ())),
                      all=" AND ".join(f'"{word}"' for word in words))
        rows = db.session.execute(_sqlite_search(len(words), bool(terms.phrase), snippets), params)
    return [
        SearchHit(
            file_id=row.file_id, file_name=row.file_name, chunk_id=row.chunk_id,
            heading=HEADING_JOINER.join(row.heading.split(HEADING_SEPARATOR)) if row.heading else "",
            text=row.text, snippet=render_snippet(row.snippet), score=float(row.score),
            page=row.page, page_end=row.page_end,
        )
        for row in rows
    ]


def clamp_k(k):
    try:
        k = int(k)
    except (TypeError, ValueError, OverflowError):
        return DEFAULT_K
    return max(1, min(k, MAX_K))


def render_snippet(marked):
    """Text with ``_START``/``_STOP`` marks to safe HTML: everything escaped, marks to ``<mark>``."""
    out, position = [], 0
    for match in _MARKED.finditer(marked or ""):
        out.append(html.escape(_STRAY_MARKS.sub("", marked[position:match.start()])))
        out.append(f"<mark>{html.escape(match.group(1))}</mark>")
        position = match.end()
    out.append(html.escape(_STRAY_MARKS.sub("", (marked or "")[position:])))
    return Markup("".join(out).strip())


#: A chunk's text with the matched terms marked (FTS5; the rows must come from a MATCH).
_FTS5_SNIPPET = f"snippet({FTS_TABLE}, 1, char(2), char(3), '…', 32)"


@functools.lru_cache(maxsize=4 * MAX_CANDIDATE_WORDS)
def _sqlite_search(word_count, phrase, snippets=True):
    # Each part is its own subquery so that its LIMIT applies to it alone; the
    # CROSS JOIN makes FTS5 drive (walk the word's doclist in rowid order and
    # stop at the cap) rather than visit every chunk of the store. Every walk
    # starts at the store's first chunk and ends at its last (span: two index
    # lookups), so the chunks of stores indexed before or after it are skipped
    # by FTS5's seek rather than walked.
    parts = [f"""SELECT id FROM (
            SELECT c.id FROM {FTS_TABLE} CROSS JOIN knowledge_chunks AS c ON c.id = {FTS_TABLE}.rowid
            WHERE {FTS_TABLE} MATCH :w{n} AND {FTS_TABLE}.rowid BETWEEN (SELECT lo FROM span) AND (SELECT hi FROM span)
              AND c.store_id = :store_id LIMIT :cap)"""
             for n in range(word_count)]
    candidates = "\n        UNION ".join(["SELECT id FROM all_words"] + parts)
    # The whole-query phrase is not part of any walk: a phrase of common words
    # ("what is the ...") costs FTS5 a position check in nearly every chunk,
    # once to find the candidates among its matches and once more for bm25's
    # count of its documents (measured: half of the slowest searches), and a
    # rowid lookup with it reopens every word's doclist (tens of ms each).
    # Instead the phrase is walked only over the stretch of rowids where the
    # chunks holding all the words were found (all_words: the first of them in
    # the store's rowid order, so a stretch its own walk already covered), and
    # each holder gains what bm25 gives one occurrence of a phrase held by n of
    # N chunks: log((N - n + 0.5) / (n + 0.5)). N is the store's rowid span and
    # n is estimated from the walked stretch (its holders, scaled up to that
    # span): exact when the stretch is the whole store, and it keeps a phrase
    # held by thousands of chunks worth little, as bm25 would. No count over
    # the table: every figure is an index lookup or the stretch already walked.
    phrase_ctes = f"""phrase_region(id) AS MATERIALIZED (
        SELECT rowid FROM {FTS_TABLE}
        WHERE {FTS_TABLE} MATCH :phrase
          AND rowid BETWEEN (SELECT min(id) FROM all_words) AND (SELECT max(id) FROM all_words)
    ), bonus(value) AS (
        SELECT max(ln((total - held + 0.5) / (held + 0.5)), 1e-6) FROM (
            SELECT total, min(total, (SELECT count(*) FROM phrase_region) * total / stretch) AS held
            FROM (SELECT (SELECT hi - lo + 1.0 FROM span) AS total,
                         (SELECT max(id) - min(id) + 1.0 FROM all_words) AS stretch))
    ), """ if phrase else ""
    bonus = (f" - CASE WHEN {FTS_TABLE}.rowid IN (SELECT id FROM phrase_region) THEN (SELECT value FROM bonus) ELSE 0 END"
             if phrase else "")
    # bm25 weights per FTS5 column (heading, text): a heading repeated over every
    # chunk of a long section should not outrank the text that answers.
    # Ranking: the "+" keeps FTS5 from taking the candidate list as rowid
    # lookups; it would then run one full-text query per candidate and bm25
    # would recount each word's documents every time (seconds). Instead FTS5
    # walks the doclists of the OR-ed words once (C, no ranking), only between
    # the first and the last candidate, and bm25, the join and the sort run only
    # for the candidates. bm25 still counts each word's documents once per
    # search (one walk of the word's doclist, without positions).
    # snippet() is computed for every row that reaches the sorter, so the
    # winners are picked first and only they are looked up again for snippets
    # (a rowid lookup with the words' MATCH: FTS5 tokenizes just those k texts).
    return sa.text(f"""
    WITH span(lo, hi) AS MATERIALIZED (
        SELECT (SELECT min(id) FROM knowledge_chunks WHERE store_id = :store_id),
               (SELECT max(id) FROM knowledge_chunks WHERE store_id = :store_id)
    ), all_words(id) AS MATERIALIZED (
        SELECT c.id FROM {FTS_TABLE} CROSS JOIN knowledge_chunks AS c ON c.id = {FTS_TABLE}.rowid
        WHERE {FTS_TABLE} MATCH :all AND {FTS_TABLE}.rowid BETWEEN (SELECT lo FROM span) AND (SELECT hi FROM span)
          AND c.store_id = :store_id LIMIT :cap
    ), candidates(id) AS MATERIALIZED (
        {candidates}
    ), {phrase_ctes}best(id, rank) AS (
        SELECT {FTS_TABLE}.rowid, bm25({FTS_TABLE}, 0.4, 1.0){bonus} FROM {FTS_TABLE}
        WHERE {FTS_TABLE} MATCH :words
          AND {FTS_TABLE}.rowid BETWEEN (SELECT min(id) FROM candidates) AND (SELECT max(id) FROM candidates)
          AND +{FTS_TABLE}.rowid IN (SELECT id FROM candidates)
        ORDER BY 2, 1
        LIMIT :k
    )
    SELECT c.id AS chunk_id, c.file_id AS file_id, f.name AS file_name, c.heading AS heading, c.text AS text,
           c.page AS page, c.page_end AS page_end,
           {_FTS5_SNIPPET if snippets else "NULL"} AS snippet,
           -best.rank AS score
    FROM best
    {f"CROSS JOIN {FTS_TABLE} ON {FTS_TABLE}.rowid = best.id" if snippets else ""}
    JOIN knowledge_chunks AS c ON c.id = best.id
    JOIN knowledge_files AS f ON f.id = c.file_id
    WHERE {f"{FTS_TABLE} MATCH :words AND" if snippets else ""} c.store_id = :store_id
    ORDER BY best.rank, c.id
""")


# Snippets of given chunks: a rowid lookup with the words' MATCH each (FTS5 tokenizes just those texts).
_SQLITE_SNIPPETS = sa.text(f"""
    SELECT c.id AS chunk_id, {_FTS5_SNIPPET} AS snippet
    FROM knowledge_chunks AS c
    CROSS JOIN {FTS_TABLE} ON {FTS_TABLE}.rowid = c.id
    WHERE c.id IN :ids AND c.store_id = :store_id AND {FTS_TABLE} MATCH :words
""").bindparams(sa.bindparam("ids", expanding=True))


@functools.lru_cache(maxsize=2 * MAX_CANDIDATE_WORDS)
def _postgresql_search(word_count, snippets=True):
    # plainto_tsquery of one word is that word's lexeme (empty, matching
    # nothing, for a stop word); of all the words, their AND. Each part stops at
    # its LIMIT: the planner takes the GIN index for a rare word and, for a
    # common one, walks the store's chunks until the cap is reached.
    parts = [f"""(SELECT c.id FROM knowledge_chunks AS c
             WHERE c.store_id = :store_id AND c.search_vector @@ plainto_tsquery('{PG_CONFIG}', :{name}) LIMIT :cap)"""
             for name in ["all"] + [f"w{n}" for n in range(word_count)]]
    candidates = "\n        UNION ".join(parts)
    # Ranking first (on the candidates only), headlines only for the k winners:
    # ts_headline re-parses the text and is the expensive part. ts_rank_cd gives an
    # OR-ed phrase no more weight than its words, so the phrase is ranked apart: with
    # normalisation 1|32 (divide by 1 + log length, keeping long chunks from winning on
    # size, then rank / (rank + 1)) each rank is below 1, and a chunk holding the exact
    # phrase gains 1, so it comes first, as with bm25; without the bound, words repeated
    # in a chunk (weight A) scored 3.1 against 1.3 for the one holding the question.
    return sa.text(f"""
    WITH candidates AS (
        {candidates}
    )
    SELECT best.chunk_id, best.file_id, f.name AS file_name, best.heading, best.text, best.score,
           best.page, best.page_end,
           {f"ts_headline('{PG_CONFIG}', best.text, best.query, :options)" if snippets else "NULL"} AS snippet
    FROM (
        SELECT c.id AS chunk_id, c.file_id, c.heading, c.text, c.page, c.page_end, q.query,
               ts_rank_cd(c.search_vector, q.query, 33) + ts_rank_cd(c.search_vector, q.phrase, 33)
                 + CASE WHEN c.search_vector @@ q.phrase THEN 1 ELSE 0 END AS score
        FROM knowledge_chunks AS c,
             (SELECT websearch_to_tsquery('{PG_CONFIG}', :query) AS query,
                     phraseto_tsquery('{PG_CONFIG}', :phrase) AS phrase) AS q
        WHERE c.id IN (SELECT id FROM candidates) AND c.store_id = :store_id AND c.search_vector @@ q.query
        ORDER BY score DESC, c.id
        LIMIT :k
    ) AS best
    JOIN knowledge_files AS f ON f.id = best.file_id
    ORDER BY best.score DESC, best.chunk_id
""")


_POSTGRESQL_SNIPPETS = sa.text(f"""
    SELECT c.id AS chunk_id, ts_headline('{PG_CONFIG}', c.text, websearch_to_tsquery('{PG_CONFIG}', :query), :options)
           AS snippet
    FROM knowledge_chunks AS c
    WHERE c.id IN :ids AND c.store_id = :store_id
""").bindparams(sa.bindparam("ids", expanding=True))

_HEADLINE_OPTIONS = (f'StartSel="{_START}", StopSel="{_STOP}", MaxWords=40, MinWords=18, '
                     'ShortWord=2, MaxFragments=2, FragmentDelimiter=" … "')
