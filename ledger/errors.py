"""Errors raised by the transparency log: one hierarchy, mapped once to problem+json in api/."""

from __future__ import annotations


class LedgerError(Exception):
    """Base class of every error the ledger package raises on purpose."""


class ProofError(LedgerError, ValueError):
    """A Merkle inclusion or consistency proof does not verify, or its parameters are impossible."""


class NoteError(LedgerError, ValueError):
    """A signed note (or a checkpoint inside one) is malformed or its signature does not verify."""


class TileError(LedgerError, ValueError):
    """A tile path or tile contents are malformed."""
