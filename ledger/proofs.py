"""One event's inclusion proof as a self-contained document: what `chanquan ledger proof`, the
portal's proof downloads and the public verification page hand out, and what the offline checker
(templates/web/static/verify_proof.py) reads. Built in one place so the three cannot drift."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from ledger.events import StoredEvent
from ledger.rows import StoredCheckpoint
from ledger.store import Ledger


@dataclass(frozen=True)
class ProofDocument:
    event: StoredEvent
    checkpoint: StoredCheckpoint
    path: list[bytes]
    verifier_key: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "event": self.event.to_json_dict(),
            "leaf_index": self.event.leaf_index,
            "tree_size": self.checkpoint.size,
            "inclusion_proof": [base64.b64encode(h).decode("ascii") for h in self.path],
            "checkpoint": self.checkpoint.note,
            "verifier_key": self.verifier_key,
        }


def prove(ledger: Ledger, event: StoredEvent, *, verifier_key: str | None = None) -> ProofDocument | None:
    """The event proven against the newest signed checkpoint that covers it, signing one now if none
    does; None without a signing key. `verifier_key` is the key line to hand out with it (default:
    the ledger's own verifier)."""
    seq = event.seq
    checkpoint = ledger.latest_checkpoint()
    if checkpoint is None or checkpoint.size < seq:
        checkpoint = ledger.checkpoint_now()
    if checkpoint is None or checkpoint.size < seq:
        return None
    if verifier_key is None and ledger.verifier is not None:
        verifier_key = ledger.verifier.to_string()
    return ProofDocument(event, checkpoint, ledger.inclusion_proof(seq, checkpoint.size), verifier_key)
