"""Errors the projections raise on purpose: one hierarchy, mapped once to problem+json in ``api/``.

Lookups of accounts that do not exist or are of the wrong kind are also domain errors
(:class:`domain.errors.NotFound`, :class:`domain.errors.RequestError`), so the API maps them the
same way wherever they come from.
"""

from __future__ import annotations

from domain.errors import NotFound, RequestError


class ProjectionError(Exception):
    """Base class of every error the projections raise on purpose."""


class ProjectionConflict(ProjectionError):
    """Another runner moved the projection's position first; this one reloads and tries again."""


class StaleProjection(ProjectionError):
    """The read models were built with other methodologies than the runner's factor table: they
    must be rebuilt before the runner may add to them."""


class LogMismatch(ProjectionError):
    """The log's stored entries cannot be projected: an entry bundle does not match the leaf
    hashes of the log's tiles, a bundle is missing, or a leaf is not a valid entry. The log store
    is damaged or was tampered with, and nothing is projected from it."""


class UnknownAccount(ProjectionError, NotFound):
    """The account is not in the read models (never opened, or not yet projected)."""


class NotAnEnterprise(ProjectionError, RequestError):
    """An enterprise evaluation was asked for an account of another kind."""
