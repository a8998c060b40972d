"""Alembic's environment for the short-link store: migrations run on the connection the app hands over
(``app.db.migrate``), never from an alembic.ini, so the app and the tests migrate exactly the same way."""

from __future__ import annotations

from alembic import context

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=None, transaction_per_migration=True)
with context.begin_transaction():
    context.run_migrations()
