"""Shared vocabularies: the statutory scope of labour disputes (LDMAL Art. 2)."""

from __future__ import annotations

from typing import Literal

DisputeCategory = Literal[
    "labour_relationship",
    "contract",
    "dismissal_resignation",
    "working_hours_rest_leave",
    "social_insurance",
    "welfare",
    "training",
    "labour_protection",
    "remuneration",
    "work_injury_medical",
    "severance",
    "compensation",
    "other_statutory",
]
