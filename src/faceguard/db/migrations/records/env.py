"""Alembic environment for the records store (run through faceguard.db.upgrade)."""

from alembic import context

from faceguard.db import record_metadata as target_metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
