"""vectors: embedding providers, a store's embedding choice, per-chunk vectors, the files' second stage

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 03:45:00

``knowledge_chunks`` and ``knowledge_files`` only gain plain columns (ALTER TABLE
ADD COLUMN on both databases): a batch rebuild of ``knowledge_chunks`` on SQLite
would drop the full-text triggers that hang on it.
"""
from alembic import op
import sqlalchemy as sa


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade():
    # reviewed by hand
    op.add_column('providers', sa.Column('purpose', sa.String(length=20), server_default='chat', nullable=False))
    with op.batch_alter_table('stores', schema=None) as batch_op:
        batch_op.add_column(sa.Column('embedding_provider_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('embeddings_off', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('vector_version', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('vector_key', sa.String(length=320), nullable=True))
        batch_op.create_index(batch_op.f('ix_stores_embedding_provider_id'), ['embedding_provider_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_stores_embedding_provider_id_providers'), 'providers',
                                    ['embedding_provider_id'], ['id'], ondelete='SET NULL')
    op.add_column('knowledge_files', sa.Column('vector_status', sa.String(length=20), server_default='off',
                                               nullable=False))
    op.add_column('knowledge_files', sa.Column('vector_progress', sa.Integer(), server_default='0', nullable=False))
    op.add_column('knowledge_files', sa.Column('vector_reason', sa.Text(), nullable=True))
    op.add_column('knowledge_chunks', sa.Column('page_end', sa.Integer(), nullable=True))
    op.create_table(
        'knowledge_vectors',
        sa.Column('chunk_id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('store_id', sa.Integer(), nullable=False),
        sa.Column('provider_id', sa.Integer(), nullable=True),
        sa.Column('model', sa.String(length=200), nullable=False),
        sa.Column('dimension', sa.Integer(), nullable=False),
        sa.Column('vector', sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(['chunk_id'], ['knowledge_chunks.id'],
                                name=op.f('fk_knowledge_vectors_chunk_id_knowledge_chunks'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['provider_id'], ['providers.id'],
                                name=op.f('fk_knowledge_vectors_provider_id_providers'), ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_knowledge_vectors_store_id_stores'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('chunk_id', name=op.f('pk_knowledge_vectors')),
    )
    op.create_index('ix_knowledge_vectors_store_id_provider_id_model', 'knowledge_vectors',
                    ['store_id', 'provider_id', 'model'], unique=False)
    op.create_table(
        'retrieval_questions',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('question', sa.Text(), nullable=False),
        sa.Column('file_id', sa.Integer(), nullable=False),
        sa.Column('chunk_id', sa.Integer(), nullable=True),
        sa.Column('created_by_id', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('store_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['chunk_id'], ['knowledge_chunks.id'],
                                name=op.f('fk_retrieval_questions_chunk_id_knowledge_chunks'), ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['created_by_id'], ['users.id'],
                                name=op.f('fk_retrieval_questions_created_by_id_users'), ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['file_id'], ['knowledge_files.id'],
                                name=op.f('fk_retrieval_questions_file_id_knowledge_files'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_retrieval_questions_store_id_stores'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_retrieval_questions')),
    )
    with op.batch_alter_table('retrieval_questions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_retrieval_questions_chunk_id'), ['chunk_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_retrieval_questions_created_by_id'), ['created_by_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_retrieval_questions_file_id'), ['file_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_retrieval_questions_store_id'), ['store_id'], unique=False)
        batch_op.create_index('ix_retrieval_questions_store_id_created_at_id', ['store_id', 'created_at', 'id'],
                              unique=False)
    op.create_table(
        'retrieval_runs',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('question_count', sa.Integer(), nullable=False),
        sa.Column('metrics', sa.JSON(), nullable=False),
        sa.Column('results', sa.JSON(), nullable=False),
        sa.Column('vector_key', sa.String(length=320), nullable=True),
        sa.Column('created_by_id', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('store_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_retrieval_runs_created_by_id_users'),
                                ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_retrieval_runs_store_id_stores'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_retrieval_runs')),
    )
    with op.batch_alter_table('retrieval_runs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_retrieval_runs_created_by_id'), ['created_by_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_retrieval_runs_store_id'), ['store_id'], unique=False)
        batch_op.create_index('ix_retrieval_runs_store_id_created_at_id', ['store_id', 'created_at', 'id'],
                              unique=False)


def downgrade():
    op.drop_table('retrieval_runs')
    op.drop_table('retrieval_questions')
    op.drop_index('ix_knowledge_vectors_store_id_provider_id_model', table_name='knowledge_vectors')
    op.drop_table('knowledge_vectors')
    op.drop_column('knowledge_chunks', 'page_end')
    op.drop_column('knowledge_files', 'vector_reason')
    op.drop_column('knowledge_files', 'vector_progress')
    op.drop_column('knowledge_files', 'vector_status')
    with op.batch_alter_table('stores', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_stores_embedding_provider_id_providers'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_stores_embedding_provider_id'))
        batch_op.drop_column('vector_key')
        batch_op.drop_column('vector_version')
        batch_op.drop_column('embeddings_off')
        batch_op.drop_column('embedding_provider_id')
    op.drop_column('providers', 'purpose')
