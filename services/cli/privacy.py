"""The `taizhang privacy` commands: erasing a person's data for good."""

from __future__ import annotations

import asyncio
import getpass
from typing import Annotated, cast, get_args

import typer
from aiokafka.errors import KafkaError
from kafka.errors import KafkaError as SyncKafkaError

from contracts.envelope import Actor
from contracts.privacy import ErasureReason
from services.cli.console import EXIT_BROKER, EXIT_NOT_FOUND, EXIT_USAGE, fail, out
from services.common.privacy import NotFiled, erase_standalone
from services.common.settings import Settings
from services.common.units import load_units

privacy_app = typer.Typer(
    help="Erase a person's personal data (PIPL Art. 47).", no_args_is_help=True
)
REASONS = get_args(ErasureReason)


def erase(
    reason: Annotated[str, typer.Option(help=f"the ground: {', '.join(REASONS)}")],
    person: Annotated[str | None, typer.Option(help="the person id, e.g. PER-…")] = None,
    phone: Annotated[str | None, typer.Option(help="or the person's phone number")] = None,
    by: Annotated[str | None, typer.Option(help="who asks (defaults to this user)")] = None,
) -> None:
    """Destroy a person's key: every service shows `[erased]` for their data within seconds."""
    if reason not in REASONS:
        raise fail(f"unknown reason {reason!r}; one of {', '.join(REASONS)}", EXIT_USAGE)
    if (person is None) == (phone is None):
        raise fail("give either --person or --phone", EXIT_USAGE)
    settings = Settings()
    root = load_units(settings.units_file).units[0].id
    actor = Actor(user_id=by or f"cli:{getpass.getuser()}", role="admin", unit=root)
    try:
        event = asyncio.run(
            erase_standalone(
                settings,
                actor=actor,
                reason=cast(ErasureReason, reason),
                key_id=person,
                phone=phone,
            )
        )
    except NotFiled as exc:
        raise fail(str(exc), EXIT_NOT_FOUND) from exc
    except ValueError as exc:
        raise fail(str(exc), EXIT_USAGE) from exc
    except (KafkaError, SyncKafkaError) as exc:
        raise fail(
            f"cannot reach the broker at {settings.kafka_bootstrap_servers}: {exc}", EXIT_BROKER
        ) from exc
    out.print(f"erased {event.key_id} ({event.reason}), erasure {event.erasure_id}")


privacy_app.command()(erase)
