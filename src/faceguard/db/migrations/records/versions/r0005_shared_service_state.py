"""shared service state: browser sessions and the authentication throttle in the database

Revision ID: r0005
Revises: r0004
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "r0005"
down_revision = "r0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "service_sessions",
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.Column("created", sa.Float(), nullable=False),
        sa.Column("last_seen", sa.Float(), nullable=False),
        sa.Column("second_factor", sa.Boolean(), nullable=False),
        sa.Column("kiosk_only", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("digest"),
    )
    op.create_index("ix_service_sessions_key", "service_sessions", ["key_id"])
    op.create_table(
        "auth_failures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("bucket", sa.String(length=200), nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_auth_failures_bucket", "auth_failures", ["bucket"])
    op.create_table(
        "auth_locks",
        sa.Column("bucket", sa.String(length=200), nullable=False),
        sa.Column("until", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("bucket"),
    )


def downgrade() -> None:
    op.drop_table("auth_locks")
    op.drop_index("ix_auth_failures_bucket", table_name="auth_failures")
    op.drop_table("auth_failures")
    op.drop_index("ix_service_sessions_key", table_name="service_sessions")
    op.drop_table("service_sessions")
