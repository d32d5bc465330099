"""HTTP routes of democratic management, a module per kind of case, and the fields they share."""

from __future__ import annotations

from pydantic import Field

UserId = Field(min_length=1, max_length=128)
Text = Field(min_length=1, max_length=2000)
