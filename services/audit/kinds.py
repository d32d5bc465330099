"""The case kind that decides a case, found through the registry of services."""

from __future__ import annotations

import importlib
from typing import Any

from contracts import catalog
from services.common.decider import CaseKind


def kind_of(case_id: str) -> CaseKind[Any]:
    """Return the case kind (the deciding service's KIND) that owns a case id."""
    module = catalog.service_of(case_id).kinds
    assert module is not None, "every case stream is decided by a service with case kinds"
    kind: CaseKind[Any] = importlib.import_module(module).KIND
    return kind


def load_kinds() -> None:
    """Import every deciding service's case kinds, so that no read pays for the first import."""
    for service in catalog.SERVICES.values():
        if service.kinds is not None:
            importlib.import_module(service.kinds)
