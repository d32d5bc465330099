"""The bases of request bodies, the bounded dates, times and numbers they hold, and the answer."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from services.common.problems import Problem

# Every date or time a request names lies in these years: far wider than any case needs, and
# narrow enough that no date arithmetic downstream can run off the calendar.
FIRST_DAY = date(2000, 1, 1)
LAST_DAY = date(2100, 12, 31)
FIRST_MOMENT = datetime(FIRST_DAY.year, 1, 1, tzinfo=UTC)
END_MOMENT = datetime(LAST_DAY.year + 1, 1, 1, tzinfo=UTC)
# A case's version counts its events; no case comes near this many.
MAX_VERSION = 1_000_000


def _day(value: date) -> date:
    if not FIRST_DAY <= value <= LAST_DAY:
        raise PydanticCustomError(
            "date_window",
            "give a date from {first} to {last}",
            {"first": FIRST_DAY.isoformat(), "last": LAST_DAY.isoformat()},
        )
    return value


def _moment(value: datetime) -> datetime:
    if not FIRST_MOMENT <= value < END_MOMENT:
        raise PydanticCustomError(
            "time_window",
            "give a time from {first} to the end of {last}",
            {"first": FIRST_DAY.isoformat(), "last": LAST_DAY.year},
        )
    return value


# A calendar date a person gives, within the years above.
Day = Annotated[date, AfterValidator(_day)]
# An instant with its timezone, within the years above.
Moment = Annotated[AwareDatetime, AfterValidator(_moment)]
# A user id, as a list names them.
Name = Annotated[str, Field(min_length=1, max_length=128)]


def backdate_days(role: str, imported: Imported | None, usual: int, importing: int) -> int:
    """How far back a command may be dated: further only for a chair importing a ledger."""
    if imported is None:
        return usual
    if role != "union_chair":
        raise Problem(403, "Forbidden", "only a union chair imports an existing ledger")
    return max(usual, importing)


def check_backdate(occurred_at: datetime | None, now: datetime, max_days: int) -> None:
    """Refuse a command said to have happened longer ago than the deployment allows."""
    if occurred_at is not None and occurred_at < now - timedelta(days=max_days):
        raise Problem(
            422,
            "Too far back",
            f"the time given ({occurred_at.isoformat()}) is more than {max_days} days ago;"
            f" a command may be back-dated by at most {max_days} days"
            " (TAIZHANG_MAX_BACKDATE_DAYS; TAIZHANG_IMPORT_MAX_BACKDATE_DAYS for a chair's"
            " ledger import)",
        )


class Body(BaseModel):
    """Base of request bodies: unknown fields are refused, and so is text that is not Unicode."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _unicode(cls, data: Any) -> Any:
        # JSON may escape half of a surrogate pair; such text cannot be sealed, sent or stored.
        try:
            json.dumps(data, ensure_ascii=False, default=str).encode()
        except UnicodeEncodeError as exc:
            raise PydanticCustomError(
                "text_unicode", "text must be valid Unicode: it holds half a surrogate pair"
            ) from exc
        return data


class Imported(Body):
    """Where a command read from an existing ledger comes from: the file and its row."""

    file_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    row: int = Field(ge=1, le=1_000_000)

    @property
    def cause(self) -> str:
        """The causation its events carry: `import/<sha256>/<row>`."""
        return f"import/{self.file_sha256}/{self.row}"


class Transition(Body):
    """Fields every transition may carry."""

    expected_version: int | None = Field(default=None, ge=0, le=MAX_VERSION)
    occurred_at: Moment | None = None
    # Sent by the ledger import: a union chair may back-date further (see `backdate_days`).
    imported: Imported | None = None


class CommandResult(BaseModel):
    """What a successful command returns."""

    case_id: str
    version: int
    event_ids: list[str]
