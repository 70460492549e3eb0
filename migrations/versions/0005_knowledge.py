"""knowledge: files, chunks and the chunks' full-text index (FTS5 on SQLite, tsvector + GIN on PostgreSQL)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24 03:30:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

# The full-text objects are spelled out here rather than imported: a migration
# must keep meaning what it meant when it ran. webapp/knowledge/fulltext.py
# documents them.
SQLITE_FULLTEXT = [
    # External content: FTS5 stores only the index and reads heading/text from
    # knowledge_chunks when it needs them (highlight, snippet).
    """CREATE VIRTUAL TABLE knowledge_chunks_fts USING fts5(
        heading, text,
        content='knowledge_chunks', content_rowid='id',
        tokenize='porter unicode61 remove_diacritics 2'
    )""",
    """CREATE TRIGGER knowledge_chunks_ai AFTER INSERT ON knowledge_chunks BEGIN
        INSERT INTO knowledge_chunks_fts(rowid, heading, text) VALUES (new.id, new.heading, new.text);
    END""",
    """CREATE TRIGGER knowledge_chunks_ad AFTER DELETE ON knowledge_chunks BEGIN
        INSERT INTO knowledge_chunks_fts(knowledge_chunks_fts, rowid, heading, text)
        VALUES ('delete', old.id, old.heading, old.text);
    END""",
    """CREATE TRIGGER knowledge_chunks_au AFTER UPDATE OF heading, text ON knowledge_chunks BEGIN
        INSERT INTO knowledge_chunks_fts(knowledge_chunks_fts, rowid, heading, text)
        VALUES ('delete', old.id, old.heading, old.text);
        INSERT INTO knowledge_chunks_fts(rowid, heading, text) VALUES (new.id, new.heading, new.text);
    END""",
]

POSTGRESQL_FULLTEXT = [
    # Generated and stored: written with the row, so it can never lag behind the text.
    """ALTER TABLE knowledge_chunks ADD COLUMN search_vector tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('english'::regconfig, coalesce(text, '')), 'A')
        || setweight(to_tsvector('english'::regconfig, coalesce(heading, '')), 'B')
    ) STORED""",
    "CREATE INDEX ix_knowledge_chunks_search_vector ON knowledge_chunks USING gin (search_vector)",
]


def upgrade():
    # reviewed by hand
    op.create_table('knowledge_files',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('content_type', sa.String(length=100), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('storage_key', sa.String(length=200), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('error', sa.String(length=50), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('progress', sa.Integer(), nullable=False),
    sa.Column('chunk_count', sa.Integer(), nullable=False),
    sa.Column('text_chars', sa.Integer(), nullable=False),
    sa.Column('uploaded_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('indexed_at', sa.DateTime(), nullable=True),
    sa.Column('store_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_knowledge_files_store_id_stores'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['uploaded_by_id'], ['users.id'], name=op.f('fk_knowledge_files_uploaded_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_knowledge_files')),
    sa.UniqueConstraint('store_id', 'sha256', name='uq_knowledge_files_store_id_sha256')
    )
    with op.batch_alter_table('knowledge_files', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_knowledge_files_store_id'), ['store_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_knowledge_files_storage_key'), ['storage_key'], unique=False)
        batch_op.create_index(batch_op.f('ix_knowledge_files_uploaded_by_id'), ['uploaded_by_id'], unique=False)
        batch_op.create_index('ix_knowledge_files_store_id_created_at_id', ['store_id', 'created_at', 'id'], unique=False)

    op.create_table('knowledge_chunks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('file_id', sa.Integer(), nullable=False),
    sa.Column('ordinal', sa.Integer(), nullable=False),
    sa.Column('heading', sa.Text(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('token_count', sa.Integer(), nullable=False),
    sa.Column('page', sa.Integer(), nullable=True),
    sa.Column('store_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['file_id'], ['knowledge_files.id'], name=op.f('fk_knowledge_chunks_file_id_knowledge_files'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_knowledge_chunks_store_id_stores'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_knowledge_chunks')),
    sa.UniqueConstraint('file_id', 'ordinal', name='uq_knowledge_chunks_file_id_ordinal')
    )
    with op.batch_alter_table('knowledge_chunks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_knowledge_chunks_store_id'), ['store_id'], unique=False)

    statements = SQLITE_FULLTEXT if op.get_bind().dialect.name == 'sqlite' else POSTGRESQL_FULLTEXT
    for statement in statements:
        op.execute(statement)


def downgrade():
    # reviewed by hand
    if op.get_bind().dialect.name == 'sqlite':
        for trigger in ('knowledge_chunks_au', 'knowledge_chunks_ad', 'knowledge_chunks_ai'):
            op.execute(f'DROP TRIGGER IF EXISTS {trigger}')
        op.execute('DROP TABLE IF EXISTS knowledge_chunks_fts')
    else:
        op.execute('DROP INDEX IF EXISTS ix_knowledge_chunks_search_vector')
    with op.batch_alter_table('knowledge_chunks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_knowledge_chunks_store_id'))
    op.drop_table('knowledge_chunks')
    with op.batch_alter_table('knowledge_files', schema=None) as batch_op:
        batch_op.drop_index('ix_knowledge_files_store_id_created_at_id')
        batch_op.drop_index(batch_op.f('ix_knowledge_files_uploaded_by_id'))
        batch_op.drop_index(batch_op.f('ix_knowledge_files_storage_key'))
        batch_op.drop_index(batch_op.f('ix_knowledge_files_store_id'))
    op.drop_table('knowledge_files')
