"""the per-user sum of pending charges by an index on (user_id, state)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 11:40:00

Every reservation sums the user's pending charges. By ``ix_charges_user_id_created_at_id``
that walked the user's whole charge history (filtering on the state), so the balance
check grew with how long a person had used the app.
"""
from alembic import op


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade():
    # reviewed by hand
    op.create_index('ix_charges_user_id_state', 'charges', ['user_id', 'state'], unique=False)


def downgrade():
    op.drop_index('ix_charges_user_id_state', table_name='charges')
