"""What would close each benchmark goal when it is missed."""

from __future__ import annotations

# What would close each goal when it is missed: read from the profiles of this harness.
REMEDIES: dict[str, str] = {
    "intake": (
        "Fewer processes woken per command (the consumers of the events topic on the same"
        " cores), fewer sequential broker crossings (command, transaction, reply, read"
        " model), and less CPU per crossing in the clients are what the figures below point"
        " at first."
    ),
    "append": (
        "A batch too small for the load (TAIZHANG_DECIDE_BATCH) or a linger too short to fill"
        " the producer's requests."
    ),
    "rebuild": (
        "The projector parses each envelope with pydantic, re-checks its hash and signature,"
        " validates the payload, folds the state and writes rows per event; caching hot"
        " cases' state within a batch, executemany and larger fetches come first."
    ),
    "one-case": (
        "A read borrows a connected reader and seeks to the case's places from the audit"
        " index; what is left is the fetch of each place's batch (the whole batch is decoded"
        " in Python), the check for records newer than the index (an end-offset request), the"
        " signature checks and, for the command line, Python's start-up with the Kafka"
        " clients. Keeping each event's record in the index would answer without the broker."
    ),
    "portal page p95: the dashboard": (
        "The dashboard waits on the services' reports: a report counts every case of the unit again"
        " whenever the read model has moved (its figures are kept only while it has not),"
        " so counting in SQL, or keeping the counts as events are applied, comes first."
    ),
    "portal page": (
        "A listing page waits on its service's page of cases, read in order from the unit"
        " index, and on each case's sealed summary opened one by one from the key vault."
    ),
    "verify --all": (
        "Each event costs a JSON parse, two pydantic validations, a canonical re-hash and an"
        " Ed25519 check (about 70 µs alone), where the raw consumer only decodes: checking"
        " signatures in a second process, beside the reader, is the next step."
    ),
    "timer tick": (
        "A tick reads the cases due from the due-date index and validates each head it"
        " sweeps; its cost follows the cases due, not the cases open."
    ),
    "peak RSS": "Bounded caches and streaming queries keep the peak flat.",
}


def remedy(name: str) -> str:
    """Return what would close a missed goal, by the start of its name."""
    return next((text for key, text in REMEDIES.items() if name.startswith(key)), "")
