"""index change feed: every template added or removed and every consent ended, by trigger

Revision ID: r0004
Revises: r0003
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "r0004"
down_revision = "r0003"
branch_labels = None
depends_on = None

_TRIGGERS = {
    "index_template_added": """
        CREATE TRIGGER index_template_added AFTER INSERT ON templates BEGIN
            INSERT INTO index_changes (purpose, subject_id, template_id, kind)
            VALUES (NEW.purpose, NEW.subject_id, NEW.id, 'add');
        END""",
    "index_template_removed": """
        CREATE TRIGGER index_template_removed AFTER DELETE ON templates BEGIN
            INSERT INTO index_changes (purpose, subject_id, template_id, kind)
            VALUES (OLD.purpose, OLD.subject_id, OLD.id, 'remove');
        END""",
    "index_consent_ended": """
        CREATE TRIGGER index_consent_ended AFTER UPDATE OF status ON consents
        WHEN OLD.status = 'active' AND NEW.status <> 'active' BEGIN
            INSERT INTO index_changes (purpose, subject_id, template_id, kind)
            VALUES (NEW.purpose, NEW.subject_id, NULL, 'remove');
        END""",
    "index_consent_resumed": """
        CREATE TRIGGER index_consent_resumed AFTER UPDATE OF status ON consents
        WHEN OLD.status <> 'active' AND NEW.status = 'active' BEGIN
            INSERT INTO index_changes (purpose, subject_id, template_id, kind)
            VALUES (NEW.purpose, NEW.subject_id, NULL, 'add');
        END""",
}


# PostgreSQL: one trigger function, the kind of change in its argument; the feed's rows
# also wake the other workers (``NOTIFY faceguard_index``, sent at commit).
_PG_FUNCTION = """
    CREATE OR REPLACE FUNCTION faceguard_index_change() RETURNS trigger AS $$
    BEGIN
        IF TG_TABLE_NAME = 'templates' THEN
            IF TG_OP = 'INSERT' THEN
                INSERT INTO index_changes (purpose, subject_id, template_id, kind)
                VALUES (NEW.purpose, NEW.subject_id, NEW.id, 'add');
            ELSE
                INSERT INTO index_changes (purpose, subject_id, template_id, kind)
                VALUES (OLD.purpose, OLD.subject_id, OLD.id, 'remove');
            END IF;
        ELSIF OLD.status = 'active' AND NEW.status <> 'active' THEN
            INSERT INTO index_changes (purpose, subject_id, template_id, kind)
            VALUES (NEW.purpose, NEW.subject_id, NULL, 'remove');
        ELSIF OLD.status <> 'active' AND NEW.status = 'active' THEN
            INSERT INTO index_changes (purpose, subject_id, template_id, kind)
            VALUES (NEW.purpose, NEW.subject_id, NULL, 'add');
        ELSE
            RETURN NULL;
        END IF;
        PERFORM pg_notify('faceguard_index', '');
        RETURN NULL;
    END $$ LANGUAGE plpgsql"""
_PG_TRIGGERS = {
    "index_template_changed": ("templates", "AFTER INSERT OR DELETE ON templates"),
    "index_consent_changed": ("consents", "AFTER UPDATE OF status ON consents"),
}


def upgrade() -> None:
    op.create_table(
        "index_changes",
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("purpose", sa.String(length=64), nullable=False),
        sa.Column("subject_id", sa.String(length=40), nullable=False),
        sa.Column("template_id", sa.String(length=40), nullable=True),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.PrimaryKeyConstraint("seq"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_index_changes_purpose_seq", "index_changes", ["purpose", "seq"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_PG_FUNCTION)
        for name, (_table, when) in _PG_TRIGGERS.items():
            op.execute(f"CREATE TRIGGER {name} {when} FOR EACH ROW "
                       "EXECUTE FUNCTION faceguard_index_change()")
        return
    if op.get_bind().dialect.name != "sqlite":
        raise NotImplementedError("the index change triggers are written for SQLite and "
                                  "PostgreSQL")
    for statement in _TRIGGERS.values():
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for name, (table, _when) in _PG_TRIGGERS.items():
            op.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")
        op.execute("DROP FUNCTION IF EXISTS faceguard_index_change()")
    else:
        for name in _TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.drop_index("ix_index_changes_purpose_seq", table_name="index_changes")
    op.drop_table("index_changes")
