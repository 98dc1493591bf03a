"""Exceptions of the ledger; each carries its context as fields so callers can report it."""

from __future__ import annotations


class LedgerError(Exception):
    """Base class: anything the ledger refuses or cannot do."""


class PayloadError(LedgerError):
    """A payload cannot be written canonically (a float, a non-string key, a secret-looking field)."""

    def __init__(self, kind: str, path: str, problem: str) -> None:
        super().__init__(f"{kind}: payload field {path or '<root>'}: {problem}")
        self.kind = kind
        self.path = path
        self.problem = problem


class UnknownKindError(LedgerError):
    """An event kind that no `@event_kind` declaration registered."""

    def __init__(self, kind: str) -> None:
        super().__init__(f"unknown event kind {kind!r}")
        self.kind = kind


class EventNotFoundError(LedgerError):
    """A sequence number beyond the tree or below 1."""

    def __init__(self, seq: int, size: int) -> None:
        super().__init__(f"no event with seq {seq} (ledger size {size})")
        self.seq = seq
        self.size = size


class LedgerClosedError(LedgerError):
    """An append after `close()`."""


class BlobError(LedgerError):
    """A blob that is missing or does not hash to its name."""

    def __init__(self, digest: str, problem: str) -> None:
        super().__init__(f"blob {digest}: {problem}")
        self.digest = digest
        self.problem = problem


class ProofError(LedgerError):
    """A proof that cannot be produced for the requested sizes or indexes."""


class KeyFileError(LedgerError):
    """A signing or verifier key that cannot be read."""

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"key {path}: {problem}")
        self.path = path
        self.problem = problem
