"""The test database: emptying it between tests, and counting the statements a block runs."""
from contextlib import contextmanager

import sqlalchemy as sa

from webapp.extensions import db as _db


def drop_everything(engine):
    meta = sa.MetaData()
    meta.reflect(bind=engine)
    meta.drop_all(bind=engine)


def clear_tables():
    """Delete every row of every table and commit. Needs an app context.

    A test that builds its own app (``make_app``) calls this when it is done, as the
    ``app`` fixture does for the others.
    """
    tables = [t for t in reversed(_db.metadata.sorted_tables)]
    if _db.engine.dialect.name == "postgresql":
        names = ", ".join(f'"{t.name}"' for t in tables)
        _db.session.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    else:
        for table in tables:
            _db.session.execute(table.delete())
    _db.session.commit()


@contextmanager
def counting_queries(engine):
    """Collect the SQL statements ``engine`` runs inside the block (the N+1 guard)."""
    statements = []

    def before(connection, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    sa.event.listen(engine, "before_cursor_execute", before)
    try:
        yield statements
    finally:
        sa.event.remove(engine, "before_cursor_execute", before)
