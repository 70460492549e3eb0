"""stores and documents

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 08:59:55.239773

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade():
    # reviewed by hand
    op.create_table('stores',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('display_name', sa.String(length=255), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('welcome_text', sa.Text(), nullable=False),
    sa.Column('system_prompt', sa.Text(), nullable=False),
    sa.Column('model_provider', sa.String(length=100), nullable=False),
    sa.Column('knowledge_count', sa.Integer(), nullable=False),
    sa.Column('memory_limit', sa.Integer(), nullable=False),
    sa.Column('is_default', sa.Boolean(), nullable=False),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stores')),
    sa.UniqueConstraint('name', name=op.f('uq_stores_name'))
    )
    # At most one default store: a partial unique index (SQLite and PostgreSQL both support it).
    with op.batch_alter_table('stores', schema=None) as batch_op:
        batch_op.create_index('ix_stores_one_default', ['is_default'], unique=True, sqlite_where=sa.text('is_default'), postgresql_where=sa.text('is_default'))

    op.create_table('documents',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=255), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('store_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_documents_created_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_documents_store_id_stores'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_documents'))
    )
    with op.batch_alter_table('documents', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_documents_created_by_id'), ['created_by_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_documents_store_id'), ['store_id'], unique=False)



def downgrade():
    # reviewed by hand
    with op.batch_alter_table('documents', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_documents_store_id'))
        batch_op.drop_index(batch_op.f('ix_documents_created_by_id'))

    op.drop_table('documents')
    with op.batch_alter_table('stores', schema=None) as batch_op:
        batch_op.drop_index('ix_stores_one_default', sqlite_where=sa.text('is_default'), postgresql_where=sa.text('is_default'))

    op.drop_table('stores')
