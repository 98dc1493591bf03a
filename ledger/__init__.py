"""ledger layer: append-only, tamper-evident event store (see docs/ledger.md and docs/architecture.md)."""

from ledger.blobs import BlobStore
from ledger.canonical import canonical_json, leaf_data
from ledger.errors import (
    BlobError,
    EventNotFoundError,
    KeyFileError,
    LedgerClosedError,
    LedgerError,
    PayloadError,
    ProofError,
    UnknownKindError,
)
from ledger.events import EventBody, StoredEvent, event_kind, registered_kinds
from ledger.note import Checkpoint, NoteSigner, NoteVerifier, generate_key_files, load_verifier, open_note
from ledger.projections import Projection, TableDifference
from ledger.store import Ledger, StoredCheckpoint
from ledger.verify import Problem, VerifyReport, verify_ledger

__all__ = [
    "BlobError",
    "BlobStore",
    "Checkpoint",
    "EventBody",
    "EventNotFoundError",
    "KeyFileError",
    "Ledger",
    "LedgerClosedError",
    "LedgerError",
    "NoteSigner",
    "NoteVerifier",
    "PayloadError",
    "Problem",
    "Projection",
    "ProofError",
    "StoredCheckpoint",
    "StoredEvent",
    "TableDifference",
    "UnknownKindError",
    "VerifyReport",
    "canonical_json",
    "event_kind",
    "generate_key_files",
    "leaf_data",
    "load_verifier",
    "open_note",
    "registered_kinds",
    "verify_ledger",
]
