"""Democratic-management rules: groups, votes on suggestions and proposals, queries; no I/O."""

from __future__ import annotations

from services.suggestions.domain.groups import Group, Seat, decide_group, evolve_group
from services.suggestions.domain.queries import (
    QUERY_ALLOWED_FROM,
    Query,
    QueryStatus,
    decide_query,
    evolve_query,
)
from services.suggestions.domain.shared import (
    CHAIR,
    GROUP,
    GROUP_PREFIX,
    QUERY_PREFIX,
    SUBMITTERS,
    SUGGESTION_PREFIX,
    State,
)
from services.suggestions.domain.suggestions import (
    PROPOSAL_TOPICS,
    SUGGESTION_ALLOWED_FROM,
    SUGGESTION_ROLES,
    SUGGESTION_TOPICS,
    Review,
    Suggestion,
    SuggestionStatus,
    decide_suggestion,
    evolve_suggestion,
)
from services.suggestions.domain.votes import Tally, carried, count, has_quorum, outcome

__all__ = [
    "CHAIR",
    "GROUP",
    "GROUP_PREFIX",
    "PROPOSAL_TOPICS",
    "QUERY_ALLOWED_FROM",
    "QUERY_PREFIX",
    "SUBMITTERS",
    "SUGGESTION_ALLOWED_FROM",
    "SUGGESTION_PREFIX",
    "SUGGESTION_ROLES",
    "SUGGESTION_TOPICS",
    "Group",
    "Query",
    "QueryStatus",
    "Review",
    "Seat",
    "State",
    "Suggestion",
    "SuggestionStatus",
    "Tally",
    "carried",
    "count",
    "decide_group",
    "decide_query",
    "decide_suggestion",
    "evolve_group",
    "evolve_query",
    "evolve_suggestion",
    "has_quorum",
    "outcome",
]
