"""skipped_events: the events operators dropped from a projection (`parked skip`).

Databases made before migrations existed (by create_all) already have it, as 0001's
tables: this revision then only records that it is there. Created again, it stopped
every process on such a database ("table skipped_events already exists": an outside
probe, SQLite and PostgreSQL alike).

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if "skipped_events" in sa.inspect(op.get_bind()).get_table_names():
        return
    op.create_table(
        "skipped_events",
        sa.Column("projection", sa.String(100), primary_key=True),
        sa.Column("position", sa.BigInteger, primary_key=True),
        sa.Column("skipped_by", sa.String(200), nullable=False),
        sa.Column("skipped_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("skipped_events")
