"""What OpenAPI shows of a made route: its name, typed parameters and the answers it gives."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any

KEY_HEADER = "Idempotency-Key"


def responses(status: int) -> dict[int | str, dict[str, Any]]:
    """What OpenAPI shows of a command route's answers beyond its body: the key, and 503."""
    key = {
        "description": "The command's key, as sent or as assigned: a retry sending it is"
        " answered with this command's outcome",
        "schema": {"type": "string"},
    }
    retry = {"description": "Seconds to wait before retrying", "schema": {"type": "integer"}}
    return {
        status: {"headers": {KEY_HEADER: key}},
        503: {
            "description": "The ledger could not take or decide the command in time; retry"
            " with the Idempotency-Key given here (also the body's `idempotency_key`)",
            "headers": {KEY_HEADER: key, "Retry-After": retry},
            "content": {"application/problem+json": {"schema": {"type": "object"}}},
        },
    }


def param(name: str, annotation: Any, default: Any = inspect.Parameter.empty) -> inspect.Parameter:
    kind = inspect.Parameter.POSITIONAL_OR_KEYWORD
    return inspect.Parameter(name, kind, annotation=annotation, default=default)


def declare(
    endpoint: Callable[..., Awaitable[Any]],
    name: str,
    description: str,
    params: list[inspect.Parameter],
    returns: Any,
) -> None:
    """Give a made endpoint the name, description and typed parameters OpenAPI shows."""
    endpoint.__name__ = endpoint.__qualname__ = name
    endpoint.__doc__ = description
    # The route reads its parameters (the body model above all) from this signature.
    vars(endpoint)["__signature__"] = inspect.Signature(params, return_annotation=returns)
