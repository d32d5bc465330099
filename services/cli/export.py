"""The `taizhang export` commands: a unit's 台账 written to a file."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime
from pathlib import Path
from typing import Annotated

import typer

from services.audit import export
from services.cli.console import EXIT_NOT_FOUND, EXIT_USAGE, fail, out
from services.common.auth import TokenError, read_token
from services.common.settings import Settings

export_app = typer.Typer(help="Ledgers for the union offices.", no_args_is_help=True)


@export_app.command("ledger")
def export_ledger(
    unit: Annotated[str, typer.Option(help="unit id; its whole subtree is included")],
    out_file: Annotated[Path, typer.Option("--out", help="file to write")],
    start: Annotated[
        str | None, typer.Option("--from", help="first opening date, YYYY-MM-DD")
    ] = None,
    end: Annotated[str | None, typer.Option("--to", help="last opening date, YYYY-MM-DD")] = None,
    fmt: Annotated[str, typer.Option("--format", help="xlsx or csv")] = "xlsx",
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="the ledger as recorded by this instant, ISO 8601 with zone"),
    ] = None,
    bearer: Annotated[
        str | None,
        typer.Option(
            "--token", envvar="TAIZHANG_TOKEN", help="your token; decides what you may see"
        ),
    ] = None,
) -> None:
    """Write a unit's 台账: one row per case of every service, as union offices keep it."""
    settings = Settings()
    if fmt not in ("xlsx", "csv"):
        raise fail(f"--format {fmt!r}: use xlsx or csv", EXIT_USAGE)
    try:
        period = export.Period(
            date.fromisoformat(start) if start else None, date.fromisoformat(end) if end else None
        )
    except ValueError as exc:
        raise fail(f"--from/--to: {exc}; use YYYY-MM-DD", EXIT_USAGE) from exc
    if as_of:
        try:
            instant = datetime.fromisoformat(as_of)
        except ValueError as exc:
            raise fail(f"--as-of: {exc}; use 2026-01-01T00:00:00+08:00", EXIT_USAGE) from exc
        if instant.tzinfo is None:
            raise fail("--as-of needs its timezone, as in 2026-01-01T00:00:00+08:00", EXIT_USAGE)
        period = replace(period, as_of=instant)
    if bearer:
        try:
            actor = read_token(settings, bearer)
        except TokenError as exc:
            raise fail(f"the token is not valid: {exc}", EXIT_USAGE) from exc
    else:
        actor = export.local_exporter(unit)
    try:
        count = export.write_ledger(
            settings, unit=unit, period=period, actor=actor, path=out_file, fmt=fmt
        )
    except export.NotPermitted as exc:
        raise fail(str(exc), EXIT_NOT_FOUND) from exc
    out.print(f"{count} case(s) written to {out_file}", highlight=False)
