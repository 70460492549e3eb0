"""usage rollup (usage_days) and spending limits (store_limits, person_limits, billing_store_accounts,
limit_alerts; reservations.store_id)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 03:50:00

The upgrade fills the rollup from the answers already there (one INSERT … SELECT …
GROUP BY); new answers add themselves. Days are calendar days in ``BILLING_TIMEZONE``
as ``webapp.chat.rollup.local_day`` computes them: on PostgreSQL with ``AT TIME ZONE``
(its own zone database, same IANA names), on SQLite, which knows no time zones, with
a SQL function registered on the migration's connection for this one statement.
"""
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from alembic import op
import sqlalchemy as sa
from flask import current_app, has_app_context


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade():
    # reviewed by hand
    op.create_table('usage_days',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('store_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('provider', sa.String(length=100), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('answers', sa.Integer(), nullable=False),
    sa.Column('prompt_tokens', sa.BigInteger(), nullable=False),
    sa.Column('completion_tokens', sa.BigInteger(), nullable=False),
    sa.Column('cost', sa.Numeric(precision=18, scale=8), nullable=False),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_usage_days_store_id_stores'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_usage_days_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_usage_days')),
    sa.UniqueConstraint('store_id', 'day', 'user_id', 'provider', 'currency',
                        name='uq_usage_days_store_id_day_user_id_provider_currency')
    )
    with op.batch_alter_table('usage_days', schema=None) as batch_op:
        batch_op.create_index('ix_usage_days_day', ['day'], unique=False)
        batch_op.create_index('ix_usage_days_user_id_day', ['user_id', 'day'], unique=False)

    op.create_table('store_limits',
    sa.Column('store_id', sa.Integer(), nullable=False),
    sa.Column('subject', sa.String(length=10), nullable=False),
    sa.Column('period', sa.String(length=5), nullable=False),
    sa.Column('amount', sa.Numeric(precision=18, scale=8), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('alert_at', sa.Integer(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_store_limits_store_id_stores'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('store_id', 'subject', name=op.f('pk_store_limits'))
    )
    op.create_table('person_limits',
    sa.Column('store_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('period', sa.String(length=5), nullable=False),
    sa.Column('amount', sa.Numeric(precision=18, scale=8), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('alert_at', sa.Integer(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_person_limits_store_id_stores'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_person_limits_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('store_id', 'user_id', name=op.f('pk_person_limits'))
    )
    op.create_table('billing_store_accounts',
    sa.Column('store_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_billing_store_accounts_store_id_stores'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('store_id', name=op.f('pk_billing_store_accounts'))
    )
    op.create_table('limit_alerts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('store_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('subject', sa.String(length=10), nullable=False),
    sa.Column('level', sa.String(length=10), nullable=False),
    sa.Column('period', sa.String(length=5), nullable=False),
    sa.Column('period_start', sa.Date(), nullable=False),
    sa.Column('amount', sa.Numeric(precision=18, scale=8), nullable=False),
    sa.Column('spent', sa.Numeric(precision=18, scale=8), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_limit_alerts_store_id_stores'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_limit_alerts')),
    sa.UniqueConstraint('store_id', 'user_id', 'subject', 'period_start', 'level',
                        name='uq_limit_alerts_once_per_period')
    )
    with op.batch_alter_table('limit_alerts', schema=None) as batch_op:
        batch_op.create_index('ix_limit_alerts_created_at_id', ['created_at', 'id'], unique=False)
    with op.batch_alter_table('reservations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('store_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_reservations_store_id_stores'), 'stores', ['store_id'], ['id'],
                                    ondelete='CASCADE')
        batch_op.create_index('ix_reservations_store_id_expires_at', ['store_id', 'expires_at'], unique=False)
    fill_usage_days(op.get_bind())


def _timezone_name():
    name = current_app.config.get("BILLING_TIMEZONE") if has_app_context() else None
    return name or "UTC"


def _sqlite_local_day(tz):
    def local_day(created_at):
        # Stored as SQLAlchemy writes a naive UTC DateTime to SQLite: "YYYY-MM-DD HH:MM:SS[.ffffff]".
        moment = datetime.fromisoformat(created_at)
        return moment.replace(tzinfo=UTC).astimezone(tz).date().isoformat()
    return local_day


def fill_usage_days(bind):
    """One row per (store, person, provider, currency, local day) of the final answers (assistant,
    not streaming), with their count, tokens and cost, as ``webapp.chat.rollup.record`` keeps them."""
    name = _timezone_name()
    tz = ZoneInfo(name)  # an unknown name fails here, before anything is written
    messages = sa.table('messages', sa.column('store_id'), sa.column('user_id'), sa.column('provider_name'),
                        sa.column('currency'), sa.column('created_at'), sa.column('prompt_tokens'),
                        sa.column('completion_tokens'), sa.column('price'), sa.column('role'), sa.column('status'))
    if bind.dialect.name == 'sqlite':
        bind.connection.dbapi_connection.create_function('storehouse_local_day', 1, _sqlite_local_day(tz),
                                                         deterministic=True)
        day = sa.func.storehouse_local_day(messages.c.created_at)
    else:
        known = bind.execute(sa.text("SELECT count(*) FROM pg_timezone_names WHERE name = :name"),
                             {"name": name}).scalar()
        if not known:
            raise RuntimeError(f"BILLING_TIMEZONE {name!r} is not in PostgreSQL's time zone database.")
        local = sa.func.timezone(name, sa.func.timezone('UTC', messages.c.created_at))
        day = sa.cast(local, sa.Date)
    provider = sa.func.coalesce(messages.c.provider_name, '')
    totals = (sa.select(messages.c.store_id, messages.c.user_id, provider, messages.c.currency, day,
                        sa.func.count(), sa.func.coalesce(sa.func.sum(messages.c.prompt_tokens), 0),
                        sa.func.coalesce(sa.func.sum(messages.c.completion_tokens), 0),
                        sa.func.coalesce(sa.func.sum(messages.c.price), 0))
              .where(messages.c.role == 'assistant', messages.c.status != 'streaming')
              .group_by(messages.c.store_id, messages.c.user_id, provider, messages.c.currency, day))
    usage_days = sa.table('usage_days', *(sa.column(c) for c in (
        'store_id', 'user_id', 'provider', 'currency', 'day', 'answers', 'prompt_tokens', 'completion_tokens',
        'cost')))
    bind.execute(usage_days.insert().from_select(
        ['store_id', 'user_id', 'provider', 'currency', 'day', 'answers', 'prompt_tokens', 'completion_tokens',
         'cost'], totals))


def downgrade():
    # reviewed by hand
    with op.batch_alter_table('reservations', schema=None) as batch_op:
        batch_op.drop_index('ix_reservations_store_id_expires_at')
        batch_op.drop_constraint(batch_op.f('fk_reservations_store_id_stores'), type_='foreignkey')
        batch_op.drop_column('store_id')
    with op.batch_alter_table('limit_alerts', schema=None) as batch_op:
        batch_op.drop_index('ix_limit_alerts_created_at_id')
    op.drop_table('limit_alerts')
    op.drop_table('billing_store_accounts')
    op.drop_table('person_limits')
    op.drop_table('store_limits')
    with op.batch_alter_table('usage_days', schema=None) as batch_op:
        batch_op.drop_index('ix_usage_days_user_id_day')
        batch_op.drop_index('ix_usage_days_day')
    op.drop_table('usage_days')
