"""The `taizhang` command: tokens, audit, contracts, and running the system locally."""

from __future__ import annotations

import sys
from collections.abc import Callable

import typer

cli = typer.Typer(help="Taizhang (台账): the union's case ledger.", no_args_is_help=True)
# The audit commands that prove, loaded with the proofs' cryptography only when called.
PROOFS = ("prove", "proof-consistency", "tree-heads")


def _audit(args: list[str]) -> None:
    from services.cli.audit import audit_app

    if len(args) < 2 or args[1] in PROOFS or args[1].startswith("-"):
        from services.cli import proofs

        audit_app.command("prove")(proofs.prove)
        audit_app.command("proof-consistency")(proofs.consistency)
        audit_app.command("tree-heads")(proofs.tree_heads)
    cli.add_typer(audit_app, name="audit")


def _broker(_args: list[str]) -> None:
    from services.cli.system import broker_app

    cli.add_typer(broker_app, name="broker")


def _export(_args: list[str]) -> None:
    from services.cli.export import export_app

    cli.add_typer(export_app, name="export")


def _import(_args: list[str]) -> None:
    from services.cli.imports import import_app

    cli.add_typer(import_app, name="import")


def _privacy(_args: list[str]) -> None:
    from services.cli.privacy import privacy_app

    cli.add_typer(privacy_app, name="privacy")


def _commands(_args: list[str]) -> None:
    from services.cli import manifests, system, tokens

    cli.command()(tokens.token)
    cli.command()(system.topics)
    cli.command()(tokens.contracts)
    cli.command()(system.serve)
    cli.command()(manifests.manifests)
    cli.command()(system.up)
    cli.command()(system.cluster)
    cli.command()(system.down)
    cli.command(hidden=True)(system.supervise)


GROUPS: dict[str, Callable[[list[str]], None]] = {
    "audit": _audit,
    "broker": _broker,
    "export": _export,
    "import": _import,
    "privacy": _privacy,
}


def assemble(args: list[str]) -> typer.Typer:
    """Register the commands the arguments name, importing only what they need; all for help."""
    group = GROUPS.get(args[0]) if args else None
    if group is not None:
        group(args)
    else:
        for register in GROUPS.values():
            register([])
        _commands(args)
    return cli


def main() -> None:
    """Run the CLI."""
    try:
        assemble(sys.argv[1:])()
    except KeyboardInterrupt:
        sys.exit(130)


# The name the installed `taizhang` script calls.
app = main


if __name__ == "__main__":
    main()
