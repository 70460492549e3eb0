"""Alembic environment for Flask-Migrate: the app's engine and metadata."""
import logging
from logging.config import fileConfig

from alembic import context
from flask import current_app

from webapp.schema import is_outside_models

config = context.config
# disable_existing_loggers=False: running migrations must not silence the app's loggers.
fileConfig(config.config_file_name, disable_existing_loggers=False)
logger = logging.getLogger("alembic.env")

db = current_app.extensions["migrate"].db
config.set_main_option("sqlalchemy.url", db.engine.url.render_as_string(hide_password=False).replace("%", "%%"))


def run_migrations_offline():
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=db.metadata,
                      literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online():
    def process_revision_directives(context, revision, directives):
        # `flask db migrate` with no model change writes no empty revision.
        if getattr(config.cmd_opts, "autogenerate", False) and directives[0].upgrade_ops.is_empty():
            directives[:] = []
            logger.info("No changes in schema detected.")

    conf_args = dict(current_app.extensions["migrate"].configure_args)
    # The chunks' full-text index is dialect-specific schema no model declares.
    conf_args.setdefault("include_name", lambda name, type_, parents: not is_outside_models(name, type_, parents))
    conf_args.setdefault("process_revision_directives", process_revision_directives)
    conf_args.setdefault("render_as_batch", True)  # SQLite needs batch mode for ALTERs
    with db.engine.connect() as connection:
        if connection.dialect.name == "sqlite":
            # Batch mode rebuilds tables (copy, drop, rename); with foreign keys
            # enforced the drop would cascade into the tables that refer to them.
            connection.exec_driver_sql("PRAGMA foreign_keys = OFF")
            connection.commit()  # so that Alembic begins (and commits) its own transaction
        context.configure(connection=connection, target_metadata=db.metadata, **conf_args)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
