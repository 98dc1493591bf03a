"""ledger layer: append-only, tamper-evident event store (see docs/ledger.md and docs/architecture.md)."""

from ledger.blobs import BlobStore
from ledger.canonical import canonical_json, leaf_data
from ledger.errors import (
    BlobError,
    EventNotFoundError,
    KeyFileError,
    LedgerClosedError,
    LedgerError,
    LedgerForkError,
    LedgerMissingError,
    LedgerReadOnlyError,
    LedgerRefusedError,
    PayloadError,
    ProjectionsOutdatedError,
    ProofError,
    UnexpectedKindError,
    UnknownKindError,
    WitnessUnavailableError,
)
from ledger.events import EventBody, StoredEvent, event_kind, registered_kinds
from ledger.note import Checkpoint, NoteSigner, NoteVerifier, generate_key_files, load_verifier, open_note
from ledger.projections import Projection, TableDifference
from ledger.rows import StoredCheckpoint
from ledger.schema import read_only_uri
from ledger.store import Ledger
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
    "LedgerForkError",
    "LedgerMissingError",
    "LedgerReadOnlyError",
    "LedgerRefusedError",
    "NoteSigner",
    "NoteVerifier",
    "PayloadError",
    "Problem",
    "Projection",
    "ProjectionsOutdatedError",
    "ProofError",
    "StoredCheckpoint",
    "StoredEvent",
    "TableDifference",
    "UnexpectedKindError",
    "UnknownKindError",
    "VerifyReport",
    "WitnessUnavailableError",
    "canonical_json",
    "event_kind",
    "generate_key_files",
    "leaf_data",
    "load_verifier",
    "open_note",
    "read_only_uri",
    "registered_kinds",
    "verify_ledger",
]
