"""The migrations are the schema: no drift from the models, same on SQLite and PostgreSQL."""
import flask_migrate
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from webapp.schema import is_outside_models


def test_models_and_migrations_do_not_drift(app, db):
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={
            "compare_type": True,
            "include_name": lambda name, type_, parents: not is_outside_models(name, type_, parents)})
        diff = compare_metadata(context, db.metadata)
    assert diff == [], f"models differ from migrations; run `flask db migrate`: {diff}"


def describe_schema(engine):
    """Tables, columns (generic type, nullability), unique constraints, indexes, foreign keys."""
    inspector = sa.inspect(engine)
    schema = {}
    for table in sorted(inspector.get_table_names()):
        if table == "alembic_version" or is_outside_models(table, "table"):
            continue
        columns = {
            c["name"]: (type(c["type"]).__visit_name__.lower().replace("varchar", "string"), c["nullable"])
            for c in inspector.get_columns(table) if not is_outside_models(c["name"], "column", {"table_name": table})
        }
        uniques = sorted(tuple(u["column_names"]) for u in inspector.get_unique_constraints(table))
        indexes = sorted((tuple(i["column_names"]), bool(i["unique"])) for i in inspector.get_indexes(table)
                         if not i["name"].startswith("uq_") and not is_outside_models(i["name"], "index"))
        fks = sorted((tuple(f["constrained_columns"]), f["referred_table"]) for f in inspector.get_foreign_keys(table))
        schema[table] = {"columns": columns, "uniques": uniques, "indexes": indexes, "fks": fks}
    return schema


def _normalise(schema):
    # Type names differ by dialect for the same generic type; compare families.
    families = {"string": "str", "varchar": "str", "text": "text", "integer": "int", "boolean": "bool",
                "datetime": "time", "timestamp": "time", "json": "json", "numeric": "num", "float": "num",
                "double_precision": "num", "real": "num", "blob": "bytes", "bytea": "bytes"}
    out = {}
    for table, info in schema.items():
        cols = {name: (families.get(kind, kind), nullable) for name, (kind, nullable) in info["columns"].items()}
        out[table] = {**info, "columns": cols}
    return out


def test_upgrade_on_an_empty_sqlite_matches_the_test_database(make_app, migrated, tmp_path, db, app):
    """Whatever the test database is (SQLite or PostgreSQL), a fresh SQLite upgrade gives the same schema."""
    fresh = make_app(SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'fresh.db'}")
    with fresh.app_context():
        flask_migrate.upgrade()
        fresh_schema = describe_schema(db.engine)
        db.engine.dispose()
    test_schema = describe_schema(db.engine)
    assert _normalise(fresh_schema) == _normalise(test_schema)
    assert {"users", "sessions"} <= set(fresh_schema)


def test_downgrade_to_base_and_back(make_app, migrated, tmp_path, db):
    fresh = make_app(SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'roundtrip.db'}")
    with fresh.app_context():
        flask_migrate.upgrade()
        flask_migrate.downgrade(revision="base")
        assert set(sa.inspect(db.engine).get_table_names()) <= {"alembic_version"}
        flask_migrate.upgrade()
        assert "users" in sa.inspect(db.engine).get_table_names()
        db.engine.dispose()
