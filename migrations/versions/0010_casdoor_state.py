"""what Storehouse last read from Casdoor about each person; sync runs; seen back-channel logout
tokens; the security log

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 04:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def _user_columns():
    return [sa.Column("casdoor_state_read_at", sa.DateTime(), nullable=True),
            sa.Column("casdoor_blocked_reason", sa.String(length=40), nullable=True),
            sa.Column("casdoor_signed_out_at", sa.DateTime(), nullable=True)]


def upgrade():
    # reviewed by hand
    # Plain ADD COLUMN (no batch copy of the table on SQLite, which would lose the
    # expression indexes of 0008 that SQLite's reflection cannot read back).
    for column in _user_columns():
        op.add_column("users", column)
    # A webhook names people by their Casdoor name; a deleted one is found by it here.
    op.create_index("ix_users_casdoor_name", "users", ["casdoor_name"])
    op.create_table(
        "casdoor_sync_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("users_read", sa.Integer(), nullable=False),
        sa.Column("users_changed", sa.Integer(), nullable=False),
        sa.Column("error", sa.String(length=1000), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_casdoor_sync_runs_started_at", "casdoor_sync_runs", ["started_at"])
    op.create_table(
        "logout_token_ids",
        sa.Column("jti", sa.String(length=255), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("jti"),
    )
    op.create_index("ix_logout_token_ids_expires_at", "logout_token_ids", ["expires_at"])
    op.create_table(
        "audit_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("actor_name", sa.String(length=64), nullable=False),
        sa.Column("store", sa.String(length=255), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("ip", sa.String(length=64), nullable=False),
        sa.Column("user_agent", sa.String(length=255), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["actor_id"], ["users.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_audit_events_created_at_id", "audit_events", ["created_at", "id"])
    op.create_index("ix_audit_events_kind", "audit_events", ["kind"])
    op.create_index("ix_audit_events_user_id", "audit_events", ["user_id"])
    op.create_index("ix_audit_events_store", "audit_events", ["store"])


def downgrade():
    op.drop_table("audit_events")
    op.drop_index("ix_logout_token_ids_expires_at", table_name="logout_token_ids")
    op.drop_table("logout_token_ids")
    op.drop_index("ix_casdoor_sync_runs_started_at", table_name="casdoor_sync_runs")
    op.drop_table("casdoor_sync_runs")
    op.drop_index("ix_users_casdoor_name", table_name="users")
    for column in reversed(_user_columns()):
        # DROP COLUMN is plain SQL on PostgreSQL and on SQLite >= 3.35.
        op.execute(f"ALTER TABLE users DROP COLUMN {column.name}")
