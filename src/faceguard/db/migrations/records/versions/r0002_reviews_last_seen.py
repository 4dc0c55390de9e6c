"""human review requests; subjects.last_seen_at (BIPA retention)

Revision ID: r0002
Revises: r0001
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "r0002"
down_revision = "r0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "review_requests",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("decision_seq", sa.Integer(), nullable=False),
        sa.Column("subject_id", sa.String(length=40), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("requested_at", sa.String(length=32), nullable=False),
        sa.Column("answer", sa.Text(), nullable=True),
        sa.Column("answered_by", sa.String(length=128), nullable=True),
        sa.Column("answered_at", sa.String(length=32), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("subjects") as batch_op:
        batch_op.add_column(sa.Column("last_seen_at", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("subjects") as batch_op:
        batch_op.drop_column("last_seen_at")
    op.drop_table("review_requests")
