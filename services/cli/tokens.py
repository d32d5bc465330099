"""Commands that hand out a user's token and write the contracts' schema files."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from services.cli.console import EXIT_USAGE, fail, out
from services.common.auth import TokenError, issue_token
from services.common.settings import Settings


def token(
    user: Annotated[str, typer.Option(help="user id")],
    role: Annotated[
        str,
        typer.Option(
            help="worker_rep, group_member, union_chair, mediator, followup_officer, volunteer,"
            " auditor, admin"
        ),
    ],
    unit: Annotated[str, typer.Option(help="unit id, e.g. demo/co/p01")],
    hours: Annotated[int, typer.Option(help="validity in hours")] = 12,
) -> None:
    """Print a signed bearer token for a user."""
    try:
        typer.echo(issue_token(Settings(), user=user, role=role, unit=unit, hours=hours))
    except TokenError as exc:
        raise fail(str(exc), EXIT_USAGE) from exc


def contracts(
    dest: Annotated[Path, typer.Option(help="folder for the JSON Schema files")] = Path(
        "contracts/schemas"
    ),
) -> None:
    """Write the JSON Schema of every event and the AsyncAPI document of the topics."""
    from contracts.schema import write_schemas

    written = write_schemas(dest)
    out.print(f"{len(written)} schema files written to {dest}")
