"""Building blocks for workflow tests: a real ledger, a unit tree, workbooks filled by defined name."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from support import registrations as reg
from support.registrations import Row

from ledger import Ledger
from validation.check import check_bundle
from workflow import ScryptParams, SubmitOutcome, Workflow, WorkflowConfig, all_projections

TOKEN_KEY = b"k" * 32
FAST_SCRYPT = ScryptParams(n=2**4, r=8, p=1)
SASAC = "SASAC0001"
_items = itertools.count(1)

code = reg.org_code
bundle_for = reg.registration_bundle


@dataclass(frozen=True)
class Tree:
    """Four levels under SASAC: group G → A → B → C, plus D (G's second child) and P (参股 under A)."""

    g: str = code("50010000")
    a: str = code("50020000")
    b: str = code("50030000")
    c: str = code("50040000")
    d: str = code("50050000")
    p: str = code("50060000")


@contextmanager
def open_workflow(root: Path) -> Iterator[Workflow]:
    ledger = Ledger.open(root / "ledger.sqlite3", projections=all_projections())
    wf = Workflow(
        ledger,
        accounts_db=root / "accounts.sqlite3",
        token_key=TOKEN_KEY,
        settings=WorkflowConfig(),
        scrypt=FAST_SCRYPT,
    )
    try:
        yield wf
    finally:
        wf.close()
        ledger.close()


def minority_state_investors(parent: str, capital: int) -> list[Row]:
    """A 国有参股 unit: its state parent holds 30 %, a private company 70 %."""
    return [
        reg.investor_row("出资企业", parent, reg.WHOLLY_STATE_OWNED, capital * 3 // 10, 30),
        reg.investor_row("某民营企业", code("60000001"), "其他境内企业", capital * 7 // 10, 70),
    ]


def registration_values(
    unit: str, name: str, level: int, parent: str, **options: Any
) -> tuple[Row, list[Row], list[Row]]:
    """Values, investor rows and document rows of one unit's filing, ready for `bundle_for`.

    `options` are those of `support.registrations.registration_values` (filer, relation, capital,
    backfill, act_date); the tables follow from the values they produce.
    """
    values = reg.registration_values(unit, name, level, parent, **options)
    capital = values["reg_capital"]
    if values["state_relation"] == "国有参股":
        investors = minority_state_investors(parent, capital)
    else:
        investors = reg.sole_investor(parent, level, capital)
    documents = reg.document_rows(reg.BACKFILL_DOCUMENT_KINDS if "backfill_form" in values else reg.DOCUMENT_KINDS)
    return values, investors, documents


def file_registration(
    wf: Workflow,
    filer: str,
    unit: str,
    name: str,
    level: int,
    parent: str,
    *,
    item_id: str | None = None,
    **kwargs: Any,
) -> SubmitOutcome:
    """Submit a filing the way intake does: check with the ledger-aware rules, then submit."""
    values, investors, documents = registration_values(unit, name, level, parent, filer=filer, **kwargs)
    bundle = bundle_for(values, investors, documents)
    result = check_bundle(bundle, extra_rules=wf.ledger_rules(filer))
    return wf.submit(
        item_id or f"item-{next(_items)}",
        filer=filer,
        channel="dropbox",
        reply_to=f"dropbox:{filer}",
        bundle=bundle,
        check_result=result,
    )
