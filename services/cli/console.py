"""Where the `taizhang` command writes, and the exit codes it ends with."""

from __future__ import annotations

import typer
from rich.console import Console

out = Console()
err = Console(stderr=True)

EXIT_FINDINGS = 1
EXIT_USAGE = 2
EXIT_NOT_FOUND = 3
EXIT_BROKER = 4


def fail(message: str, code: int) -> typer.Exit:
    """Print a one-line message to stderr and return the exit to raise."""
    err.print(f"[red]error:[/red] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code)
