"""log_identity: one row naming this event log, made once when the log is made.

Redis records which log its read models were built from (projections/keyspace/
log_binding.py), so that a server on another log (another database, a SQLite file
in another directory) neither mixes its events into them nor takes them over
while the server of their own log runs. A backup restored keeps its identity: it
is the same log, gone back.

Revision ID: 0004
Revises: 0003
"""

import uuid
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    table = op.create_table(
        "log_identity",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.bulk_insert(table, [{"id": uuid.uuid4().hex, "created_at": datetime.now(UTC)}])


def downgrade() -> None:
    op.drop_table("log_identity")
