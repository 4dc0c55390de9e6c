"""a consent's end reason as text of any length (an erasure's reason is the operator's words)

PostgreSQL enforces the 32 characters the column declared; SQLite never did, so it needs no
change.

Revision ID: r0006
Revises: r0005
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "r0006"
down_revision = "r0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column("consents", "end_reason", type_=sa.Text(),
                        existing_type=sa.String(length=32), existing_nullable=True)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column("consents", "end_reason", type_=sa.String(length=32),
                        existing_type=sa.Text(), existing_nullable=True)
