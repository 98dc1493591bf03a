"""What the outbox needs from the layers below, as narrow protocols.

The outbox reads the ledger and asks workflow three questions (who is this unit, what
is this reviewer's token, is this address a reviewer at all); naming exactly that keeps
the dispatcher testable and makes the dependency visible. `WorkflowDirectory` adapts the
real `workflow.Workflow`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from ledger.events import EventBody, StoredEvent


class BlobReader(Protocol):
    def get(self, digest: str) -> bytes: ...

    def path(self, digest: str) -> Path: ...


class LedgerPort(Protocol):
    @property
    def blobs(self) -> BlobReader: ...

    def events(
        self, after_seq: int = 0, kind: str | None = None, subject: str | None = None
    ) -> Iterator[StoredEvent]: ...

    def append(self, body: EventBody, actor: str, subject: str) -> StoredEvent: ...

    def append_many(self, items: Iterable[tuple[EventBody, str, str]]) -> list[StoredEvent]: ...


@dataclass(frozen=True)
class UnitInfo:
    code: str
    name: str
    parent: str
    level: int
    filer_emails: Sequence[str] = field(default_factory=list)
    reviewer_emails: Sequence[str] = field(default_factory=list)
    username: str = ""


class Directory(Protocol):
    def unit(self, code: str) -> UnitInfo | None: ...

    def unit_by_username(self, username: str) -> UnitInfo | None: ...

    def review_token(self, filing_id: str, round_no: int, level: int, reviewer_email: str) -> str: ...

    def is_reviewer(self, address: str) -> bool:
        """Whether the address is a reviewer of any unit (refusal answers go to nobody else)."""
        ...


def _info(unit: Any) -> UnitInfo | None:
    if unit is None:
        return None
    return UnitInfo(
        code=unit.code,
        name=unit.name,
        parent=unit.parent or "",
        level=int(unit.level),
        filer_emails=list(unit.filer_emails),
        reviewer_emails=list(unit.reviewer_emails),
        username=getattr(unit, "username", "") or "",
    )


class WorkflowDirectory:
    """The real workflow behind the Directory protocol."""

    def __init__(self, workflow: Any) -> None:
        self.workflow = workflow

    def unit(self, code: str) -> UnitInfo | None:
        return _info(self.workflow.units.get(code))

    def unit_by_username(self, username: str) -> UnitInfo | None:
        units = self.workflow.units
        found = units.by_username(username) if hasattr(units, "by_username") else units.get(username)
        return _info(found)

    def review_token(self, filing_id: str, round_no: int, level: int, reviewer_email: str) -> str:
        return str(self.workflow.review_token(filing_id, round_no, level, reviewer_email))

    def is_reviewer(self, address: str) -> bool:
        wanted = address.strip().lower()
        return any(wanted in (e.lower() for e in unit.reviewer_emails) for unit in self.workflow.units.all())
