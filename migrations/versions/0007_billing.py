"""billing: charges (the outbox to Casdoor), reservations, per-user billing state, reconcile runs

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-24 03:30:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    # reviewed by hand
    op.create_table('billing_accounts',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('overdrawn_at', sa.DateTime(), nullable=True),
    sa.Column('overdrawn_reason', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_billing_accounts_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', name=op.f('pk_billing_accounts'))
    )
    op.create_table('billing_reconcile_runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('started_at', sa.DateTime(), nullable=False),
    sa.Column('since', sa.DateTime(), nullable=True),
    sa.Column('checked', sa.Integer(), nullable=False),
    sa.Column('missing', sa.Integer(), nullable=False),
    sa.Column('extra', sa.Integer(), nullable=False),
    sa.Column('mismatched', sa.Integer(), nullable=False),
    sa.Column('requeued', sa.Integer(), nullable=False),
    sa.Column('report', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_billing_reconcile_runs'))
    )
    op.create_table('charges',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('message_id', sa.Integer(), nullable=True),
    sa.Column('store_id', sa.Integer(), nullable=True),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('key', sa.String(length=36), nullable=False),
    sa.Column('amount', sa.Numeric(precision=18, scale=8), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('state', sa.String(length=12), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('casdoor_org', sa.String(length=100), nullable=False),
    sa.Column('casdoor_user', sa.String(length=255), nullable=False),
    sa.Column('chat_label', sa.String(length=100), nullable=False),
    sa.Column('provider', sa.String(length=100), nullable=False),
    sa.Column('domain', sa.String(length=1000), nullable=False),
    sa.Column('detail', sa.String(length=255), nullable=False),
    sa.Column('answered_at', sa.DateTime(), nullable=False),
    sa.Column('casdoor_name', sa.String(length=100), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('tries_recorded', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(), nullable=True),
    sa.Column('ambiguous_at', sa.DateTime(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('delivered_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['message_id'], ['messages.id'], name=op.f('fk_charges_message_id_messages'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_charges_store_id_stores'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_charges_user_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_charges')),
    sa.UniqueConstraint('key', name=op.f('uq_charges_key')),
    sa.UniqueConstraint('message_id', name=op.f('uq_charges_message_id'))
    )
    with op.batch_alter_table('charges', schema=None) as batch_op:
        batch_op.create_index('ix_charges_created_at_id', ['created_at', 'id'], unique=False)
        batch_op.create_index('ix_charges_state_created_at', ['state', 'created_at'], unique=False)
        batch_op.create_index('ix_charges_user_id_created_at_id', ['user_id', 'created_at', 'id'], unique=False)

    op.create_table('reservations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('amount', sa.Numeric(precision=18, scale=8), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_reservations_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reservations'))
    )
    with op.batch_alter_table('reservations', schema=None) as batch_op:
        batch_op.create_index('ix_reservations_user_id_expires_at', ['user_id', 'expires_at'], unique=False)


def downgrade():
    # reviewed by hand
    with op.batch_alter_table('reservations', schema=None) as batch_op:
        batch_op.drop_index('ix_reservations_user_id_expires_at')
    op.drop_table('reservations')
    with op.batch_alter_table('charges', schema=None) as batch_op:
        batch_op.drop_index('ix_charges_user_id_created_at_id')
        batch_op.drop_index('ix_charges_state_created_at')
        batch_op.drop_index('ix_charges_created_at_id')
    op.drop_table('charges')
    op.drop_table('billing_reconcile_runs')
    op.drop_table('billing_accounts')
