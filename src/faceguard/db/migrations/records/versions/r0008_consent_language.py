"""the language of the notice a person read before consenting (R2, R3)

Consents recorded before this revision say nothing about it (NULL: not recorded).

Revision ID: r0008
Revises: r0007
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "r0008"
down_revision = "r0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # a plain ADD COLUMN on both databases (no table copy: the partial unique index of
    # active consents stays as it is)
    op.add_column("consents", sa.Column("language", sa.String(8), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("consents") as batch:
        batch.drop_column("language")
