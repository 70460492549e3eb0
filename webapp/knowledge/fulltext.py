"""Where each database keeps the chunks' full-text index (schema the models do not declare).

The index is made by migration 0005 and maintained by the database:

- **SQLite**: ``knowledge_chunks_fts``, an FTS5 *external-content* table over
  ``knowledge_chunks`` (columns ``heading``, ``text``; rowid = chunk id;
  ``porter unicode61`` tokenizer), kept in step by three triggers
  (``knowledge_chunks_ai`` / ``_ad`` / ``_au``). FTS5 keeps no copy of the text.
- **PostgreSQL**: ``knowledge_chunks.search_vector``, a stored generated
  ``tsvector`` (``english``; text weighted A, heading B) with the GIN index
  ``ix_knowledge_chunks_search_vector``.

Neither appears in the models (a virtual table and a generated column have no
portable declaration), so the schema comparisons (Alembic autogenerate, the
migration tests) skip exactly the names below.
"""

#: The FTS5 table (SQLite); its shadow tables start with the same name.
FTS_TABLE = "knowledge_chunks_fts"
#: The generated tsvector column (PostgreSQL) and its index.
VECTOR_COLUMN = "search_vector"
VECTOR_INDEX = "ix_knowledge_chunks_search_vector"
#: Text search configuration for PostgreSQL (stemming, stop words).
PG_CONFIG = "english"


def is_outside_models(name, type_, parent_names=None):
    """True for the full-text schema objects above: for ``include_name`` hooks and schema tests."""
    if type_ == "table":
        return name == FTS_TABLE or name.startswith(FTS_TABLE + "_")
    if type_ == "column":
        return name == VECTOR_COLUMN and (parent_names or {}).get("table_name", "knowledge_chunks") == "knowledge_chunks"
    if type_ == "index":
        return name == VECTOR_INDEX
    return False
