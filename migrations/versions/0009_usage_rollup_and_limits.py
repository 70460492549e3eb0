"""usage rollup (usage_days) and spending limits (store_limits, person_limits, billing_store_accounts,
limit_alerts; reservations.store_id)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 03:50:00

The rollup starts empty: after upgrading, ``flask usage verify --repair`` fills it from
the answers already there (new answers add themselves).
"""
from alembic import op
import sqlalchemy as sa


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
