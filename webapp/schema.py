"""Schema objects that the migrations make and the models do not declare.

Some indexes and tables have no portable declaration: the knowledge full-text
index (``webapp.knowledge.fulltext``) and the prefix-search indexes on lowered
columns with PostgreSQL's ``text_pattern_ops`` (migration 0008, used through
``webapp.pagination.starts_with``). Schema comparisons (Alembic autogenerate,
the migration tests) skip exactly these names.
"""
from webapp.knowledge import fulltext

#: Indexes that serve ``starts_with`` searches (migration 0008; the stores one on PostgreSQL only).
PREFIX_SEARCH_INDEXES = frozenset({"ix_users_username_prefix", "ix_users_email_prefix",
                                   "ix_users_display_name_prefix", "ix_stores_name_prefix"})


def is_outside_models(name, type_, parent_names=None):
    """True for a schema object made by a migration but not declared by a model."""
    if type_ == "index" and name in PREFIX_SEARCH_INDEXES:
        return True
    return fulltext.is_outside_models(name, type_, parent_names)
