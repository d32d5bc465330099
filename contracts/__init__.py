"""Taizhang's shared contracts: the event envelope, event and command schemas."""

from contracts import dispute as dispute
from contracts import followup as followup
from contracts import grievance as grievance
from contracts import library as library
from contracts import notification as notification
from contracts import queries as queries
from contracts import suggestion as suggestion
from contracts import volunteers as volunteers
from contracts.registry import REGISTRY as REGISTRY
