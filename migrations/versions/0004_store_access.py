"""store access: grants, former names pending at Casdoor, indexes for bounded pages

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24 01:10:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():
    # reviewed by hand
    op.create_table('store_aliases',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('store_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_store_aliases_store_id_stores'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_store_aliases')),
    sa.UniqueConstraint('name', name=op.f('uq_store_aliases_name'))
    )
    with op.batch_alter_table('store_aliases', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_store_aliases_store_id'), ['store_id'], unique=False)

    op.create_table('store_grants',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('store_id', sa.Integer(), nullable=False),
    sa.Column('granted_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['granted_by_id'], ['users.id'], name=op.f('fk_store_grants_granted_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_store_grants_store_id_stores'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_store_grants_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_store_grants')),
    sa.UniqueConstraint('user_id', 'store_id', name=op.f('uq_store_grants_user_id'))
    )
    with op.batch_alter_table('store_grants', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_store_grants_store_id'), ['store_id'], unique=False)

    with op.batch_alter_table('documents', schema=None) as batch_op:
        batch_op.create_index('ix_documents_store_id_updated_at', ['store_id', 'updated_at'], unique=False)
        batch_op.create_index('ix_documents_store_id_title_id', ['store_id', 'title', 'id'], unique=False)

    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_users_casdoor_homepage'), ['casdoor_homepage'], unique=False)


def downgrade():
    # reviewed by hand
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_users_casdoor_homepage'))
    with op.batch_alter_table('documents', schema=None) as batch_op:
        batch_op.drop_index('ix_documents_store_id_title_id')
        batch_op.drop_index('ix_documents_store_id_updated_at')
    with op.batch_alter_table('store_grants', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_store_grants_store_id'))
    op.drop_table('store_grants')
    with op.batch_alter_table('store_aliases', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_store_aliases_store_id'))
    op.drop_table('store_aliases')
