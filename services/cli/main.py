"""The `taizhang` command: tokens, audit, contracts, and running the system locally."""

from __future__ import annotations

import sys

import typer

from services.cli import proofs, system, tokens
from services.cli.audit import audit_app
from services.cli.export import export_app
from services.cli.imports import import_app
from services.cli.privacy import privacy_app
from services.cli.system import broker_app

app = typer.Typer(help="Taizhang (台账): the union's case ledger.", no_args_is_help=True)
audit_app.command("prove")(proofs.prove)
audit_app.command("proof-consistency")(proofs.consistency)
audit_app.command("tree-heads")(proofs.tree_heads)
app.add_typer(audit_app, name="audit")
app.add_typer(broker_app, name="broker")
app.add_typer(export_app, name="export")
app.add_typer(import_app, name="import")
app.add_typer(privacy_app, name="privacy")
app.command()(tokens.token)
app.command()(system.topics)
app.command()(tokens.contracts)
app.command()(system.serve)
app.command()(system.up)
app.command()(system.cluster)
app.command()(system.down)
app.command(hidden=True)(system.supervise)


def main() -> None:
    """Run the CLI."""
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
