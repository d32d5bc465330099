"""The voting rules of a review: the count from the sitting seats, quorum, majority of all."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from contracts import suggestion as s
from services.suggestions.domain.shared import State


class Tally(State):
    """The count of a vote over the members sitting for it."""

    sitting: int
    votes_for: int = 0
    votes_against: int = 0
    abstentions: int = 0

    @property
    def voted(self) -> int:
        """How many sitting members voted at all."""
        return self.votes_for + self.votes_against + self.abstentions


def count(members: Sequence[str], votes: Mapping[str, s.Vote]) -> Tally:
    """Count the votes cast from the sitting members' seats."""
    cast = [votes[m] for m in members if m in votes]
    return Tally(
        sitting=len(members),
        votes_for=cast.count("for"),
        votes_against=cast.count("against"),
        abstentions=cast.count("abstain"),
    )


def has_quorum(tally: Tally) -> bool:
    """At least two thirds of the sitting members voted."""
    return 3 * tally.voted >= 2 * tally.sitting


def carried(tally: Tally) -> bool:
    """A majority of all sitting members, not of those voting, voted for."""
    return 2 * tally.votes_for > tally.sitting


def outcome(kind: s.Kind, tally: Tally) -> s.Outcome:
    """Decide a closed vote: no quorum, or carried or not; a proposal not carried is vetoed."""
    if not has_quorum(tally):
        return "no_quorum"
    if kind == "management_proposal":
        return "recommended" if carried(tally) else "vetoed"
    return "adopted" if carried(tally) else "rejected"
