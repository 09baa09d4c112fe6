"""Read models rebuilt from the Merkle log alone: accounts and points, meters, emissions by scope,
economic data, claims and the claim-key index, per-account history; and the evaluations computed
from them (enterprise intensities, colour labels, carbon-efficiency codes, personal grades).

A :class:`ProjectionRunner` reads the log's entry bundles in leaf order and applies each entry
once; its position is a log size. :class:`Evaluations` answers from the read models and says at
which log size and checkpoint its answer stands.
"""

from projections.errors import (
    LogMismatch,
    NotAnEnterprise,
    ProjectionConflict,
    ProjectionError,
    StaleProjection,
    UnknownAccount,
)
from projections.evaluations import Evaluations
from projections.models import (
    SCHEMA,
    CarbonReadModels,
    LoggedEntry,
    Projection,
    default_factor_table,
    reading_period,
)
from projections.runner import ProjectionRunner, read_log_entries

__all__ = [
    "SCHEMA",
    "CarbonReadModels",
    "Evaluations",
    "LogMismatch",
    "LoggedEntry",
    "NotAnEnterprise",
    "Projection",
    "ProjectionConflict",
    "ProjectionError",
    "ProjectionRunner",
    "StaleProjection",
    "UnknownAccount",
    "default_factor_table",
    "read_log_entries",
    "reading_period",
]
