"""The log's first tables: events and commands.

Databases made before migrations existed (by create_all) already have them; this
revision then only records that they are there.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

Position = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    existing = sa.inspect(op.get_bind()).get_table_names()
    if "events" not in existing:
        op.create_table(
            "events",
            sa.Column("position", Position, primary_key=True, autoincrement=True),
            sa.Column("stream_id", sa.String(200), nullable=False),
            sa.Column("version", sa.Integer, nullable=False),
            sa.Column("type", sa.String(100), nullable=False),
            sa.Column("schema_version", sa.SmallInteger, nullable=False),
            sa.Column("data", sa.Text, nullable=False),
            sa.Column("metadata", sa.Text, nullable=False),
            sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
            sa.UniqueConstraint("stream_id", "version", name="events_stream_version"),
            sqlite_autoincrement=True,
        )
    if "commands" not in existing:
        op.create_table(
            "commands",
            sa.Column("command_id", sa.String(200), primary_key=True),
            sa.Column("command_type", sa.String(100), nullable=False),
            sa.Column("fingerprint", sa.String(64), nullable=False),
            sa.Column("position", sa.BigInteger, nullable=False),
            sa.Column("ids", sa.Text, nullable=False),
            sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        )


def downgrade() -> None:
    op.drop_table("commands")
    op.drop_table("events")
