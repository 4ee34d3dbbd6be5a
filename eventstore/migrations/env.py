"""Alembic's entry point: runs the migrations on the connection eventstore/migrate.py hands over,
inside the transaction it already holds (and with it, the lock against concurrent starts)."""

from alembic import context

from eventstore.tables import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata)
with context.begin_transaction():
    context.run_migrations()
