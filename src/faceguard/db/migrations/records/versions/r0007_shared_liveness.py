"""shared liveness state: challenges, frames received, lockout counts and locks, passed answers

Revision ID: r0007
Revises: r0006
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "r0007"
down_revision = "r0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "liveness_challenges",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("terminal", sa.String(length=200), nullable=False),
        sa.Column("expires_at", sa.String(length=32), nullable=False),
        sa.Column("state", sa.String(length=8), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_liveness_challenges_state", "liveness_challenges",
                    ["state", "expires_at"])
    op.create_table(
        "liveness_frames",
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("seen_at", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("digest"),
    )
    op.create_index("ix_liveness_frames_seen", "liveness_frames", ["seen_at"])
    op.create_table(
        "liveness_counts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("scope", sa.String(length=8), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("at", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_liveness_counts_key", "liveness_counts", ["scope", "key"])
    op.create_table(
        "liveness_locks",
        sa.Column("scope", sa.String(length=8), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("until", sa.String(length=32), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("scope", "key"),
    )
    op.create_table(
        "liveness_passed",
        sa.Column("challenge_id", sa.String(length=32), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("best_frame", sa.Integer(), nullable=False),
        sa.Column("until", sa.String(length=32), nullable=False),
        sa.Column("purposes", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("challenge_id"),
    )


def downgrade() -> None:
    for table in ("liveness_passed", "liveness_locks", "liveness_counts", "liveness_frames",
                  "liveness_challenges"):
        op.drop_table(table)
