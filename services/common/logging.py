"""Structured JSON logs; callers bind case_id, event_type and command_id, never personal data."""

from __future__ import annotations

import logging
import sys
import time

import structlog


def configure(level: str = "INFO", service: str = "taizhang") -> None:
    """Send JSON log lines to stderr with the service name bound."""
    logging.basicConfig(stream=sys.stderr, level=level, format="%(message)s")
    for noisy in ("aiokafka", "kafka", "faust", "mode", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # Assigning partitions by hand without a group is deliberate here, not a misconfiguration.
    logging.getLogger("aiokafka.consumer.consumer").setLevel(logging.ERROR)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(ensure_ascii=False),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
    structlog.contextvars.bind_contextvars(service=service)


def get(name: str) -> structlog.stdlib.BoundLogger:
    """Return a logger for a module."""
    return structlog.get_logger(name)  # type: ignore[no-any-return]


class Laps:
    """The milliseconds between the marks of one piece of work, for its log line."""

    def __init__(self) -> None:
        self._last = time.perf_counter()
        self.ms: dict[str, float] = {}

    def mark(self, name: str) -> None:
        """Close the lap that ends now, as `<name>_ms`."""
        now = time.perf_counter()
        self.ms[f"{name}_ms"] = round((now - self._last) * 1000, 2)
        self._last = now
