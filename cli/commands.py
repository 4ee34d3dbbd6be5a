"""The `inkwell` command: one typer app, each subcommand registered from its own module."""

from __future__ import annotations

import logging.config

import typer

from cli import demo, events, parked, rebuild, seed, serving, status, verify
from cli.environment import log_settings_or_exit

cli = typer.Typer(
    help="Inkwell: a CQRS blog backend.",
    no_args_is_help=False,
    add_completion=False,
    rich_markup_mode="markdown",
)


@cli.callback(invoke_without_command=True)
def main(ctx: typer.Context) -> None:
    """With no command, serves the API and runs the projectors (like `serve`)."""
    logging.config.dictConfig(log_settings_or_exit().config())
    if ctx.invoked_subcommand is None:
        serving.serve()


# In the order `inkwell --help` lists them (command groups come last).
cli.command()(serving.serve)
cli.command()(serving.api)
cli.command()(serving.project)
cli.command()(status.status)
cli.command()(seed.seed)
cli.command()(demo.demo)
cli.command("schema")(serving.print_schema)
cli.command()(verify.verify)
cli.command()(rebuild.rebuild)
cli.add_typer(events.commands, name="events")
cli.add_typer(parked.commands, name="parked")
