"""What every test runs under: a development environment, said explicitly, slowest modules first."""

from __future__ import annotations

import os

import pytest

# A deployment that names no environment is production, which refuses the default secrets
# the tests' own settings use; the deployments they start say "test" themselves.
os.environ["TAIZHANG_ENVIRONMENT"] = "development"
os.environ.pop("TAIZHANG_DEMO_SIGN_IN", None)

# The modules that take longest (one to three and a half minutes each when run one after
# another), longest first: started before the rest, none is left running alone at the end.
FIRST = (
    "test_audit_at_scale.py",
    "test_fuzz.py",
    "test_privacy.py",
    "test_access_matrix.py",
    "test_cluster.py",
    "test_faults.py",
    "test_portal_e2e.py",
    "test_supervision.py",
    "test_notify.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Put the slowest modules first; the rest keep the order they were collected in."""
    rank = {name: place for place, name in enumerate(FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(FIRST)))
