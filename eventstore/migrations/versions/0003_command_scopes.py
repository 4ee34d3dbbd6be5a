"""commands.scope: a command id is an idempotency key of its sender only.

The key becomes (scope, command_id). Rows written before get the scope of the user
their events name; those of anonymous commands get one nobody's request computes, so
a registration from before replays to nobody (that replay once handed its token to
anyone who sent the name and id again).

Revision ID: 0003
Revises: 0002
"""

import orjson
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

BEFORE_SCOPES = "anonymous:before-scopes"
COLUMNS = "command_id, command_type, fingerprint, position, ids, recorded_at"


def upgrade() -> None:
    bind = op.get_bind()
    if "scope" in {column["name"] for column in sa.inspect(bind).get_columns("commands")}:
        return  # made by create_all from tables that already had it
    op.create_table(
        "commands_scoped",
        sa.Column("scope", sa.String(100), primary_key=True),
        sa.Column("command_id", sa.String(200), primary_key=True),
        sa.Column("command_type", sa.String(100), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("position", sa.BigInteger, nullable=False),
        sa.Column("ids", sa.Text, nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
    )
    bind.execute(
        sa.text(
            f"INSERT INTO commands_scoped (scope, {COLUMNS})"
            f" SELECT '{BEFORE_SCOPES}', {COLUMNS} FROM commands"
        )
    )
    senders = bind.execute(
        sa.text(
            "SELECT c.command_id, e.metadata FROM commands c"
            " JOIN events e ON e.position = c.position"
        )
    ).all()
    owned = [
        {"scope": f"user:{actor}", "command_id": command_id}
        for command_id, meta in senders
        if (actor := orjson.loads(meta).get("actor_id"))
    ]
    if owned:
        bind.execute(
            sa.text(
                "UPDATE commands_scoped SET scope = :scope"
                f" WHERE command_id = :command_id AND scope = '{BEFORE_SCOPES}'"
            ),
            owned,
        )
    op.drop_table("commands")
    op.rename_table("commands_scoped", "commands")
    if bind.dialect.name == "postgresql":
        op.execute("ALTER INDEX commands_scoped_pkey RENAME TO commands_pkey")


def downgrade() -> None:
    raise NotImplementedError("scoped command ids cannot be merged back into one namespace")
