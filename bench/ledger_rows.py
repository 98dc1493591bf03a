"""The event the ledger benchmarks append, shared so that bench/ledger.py and bench/verify.py
measure the same rows (a filing-sized payload with a Decimal and a blob hash).

Imported after the scripts put the project root ahead of bench/ on sys.path: bench/ledger.py
is named like the package it measures.
"""

from __future__ import annotations

from decimal import Decimal

from ledger import EventBody, Ledger, event_kind

ORIGIN = "bench.chanquan/ledger"
ACTOR = "SASAC0001"


@event_kind("bench.filing_received")
class BenchFiling(EventBody):
    filing_id: str
    unit: str
    period: str
    capital: Decimal
    workbook_blob: str


def body(i: int) -> BenchFiling:
    return BenchFiling(
        filing_id=f"CQ2026-{i:06d}",
        unit=f"91500000MA5U{i % 10000:04d}",
        period="2026-06-30",
        capital=Decimal("12345.67"),
        workbook_blob=f"{i:064x}",
    )


def fill(ledger: Ledger, first: int, last: int, batch: int = 1000) -> None:
    """Append events first..last (inclusive) in batches, as the big-ledger cases build theirs."""
    for offset in range(first, last + 1, batch):
        ledger.append_many([(body(i), ACTOR, f"CQ{i}") for i in range(offset, min(last, offset + batch - 1) + 1)])
