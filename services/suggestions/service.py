"""The democratic-management case kinds: groups, suggestions, queries, decided on one stream."""

from __future__ import annotations

from contracts import suggestion as s
from services.common.decider import CaseKind
from services.suggestions import domain

STREAM = "suggestion"

GROUP_KIND: CaseKind[domain.Group] = CaseKind(
    stream=STREAM,
    prefix=domain.GROUP_PREFIX,
    commands=s.GROUP_COMMANDS,
    state=domain.Group,
    decide=domain.decide_group,
    evolve=domain.evolve_group,
)
QUERY_KIND: CaseKind[domain.Query] = CaseKind(
    stream=STREAM,
    prefix=domain.QUERY_PREFIX,
    commands=s.QUERY_COMMANDS,
    state=domain.Query,
    decide=domain.decide_query,
    evolve=domain.evolve_query,
)
# The suggestion kind names the stream; groups and queries are decided on it as variants.
KIND: CaseKind[domain.Suggestion] = CaseKind(
    stream=STREAM,
    prefix=domain.SUGGESTION_PREFIX,
    commands=s.SUGGESTION_COMMANDS,
    state=domain.Suggestion,
    decide=domain.decide_suggestion,
    evolve=domain.evolve_suggestion,
    variants=(GROUP_KIND, QUERY_KIND),
)
