"""Workflow benchmark: unit import, submit, decide and login, each next to a baseline from the same run.

Run:  .venv/bin/python bench/workflow.py [--units 2000] [--filings 300]

One line per case:
- import: `units.import_rows` of N units (validation of every row, one append_many of 2N events
  with projections) against `ledger.append_many` of the same events into a ledger without
  projections;
- submit: `Workflow.submit` of precomputed check results (ledger-aware rules, blobs, id allocation,
  filing.received + review.requested, projections) against bare appends of the same two events;
- decide: `Workflow.decide` (token check, state, next step) against bare appends of review.decided;
- login: `authenticate` on the initial password (no hash yet) and on an scrypt hash (n=2^14).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

# This file is named like the package it measures: keep bench/ off the path. The project root goes
# first (tests/ holds folders named like the packages), then tests/workflow's helpers; tests/ itself
# only serves their `support`.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path[:0] = [str(_HERE.parent), str(_HERE.parent / "tests" / "workflow")]
sys.path.append(str(_HERE.parent / "tests"))

from helpers import bundle_for, registration_values  # noqa: E402

from ledger import Ledger  # noqa: E402
from validation import check_bundle  # noqa: E402
from validation.codes import make_org_code  # noqa: E402
from workflow import ReviewDecision, SubmitOutcome, UnitRow, Workflow, WorkflowConfig, all_projections  # noqa: E402
from workflow.events import AccountCreated, ReviewDecided, UnitAdded  # noqa: E402


def line(case: str, n: int, seconds: float, base_seconds: float, unit: str) -> None:
    rate = n / seconds
    base = n / base_seconds
    print(
        f"{case:<8} n={n:<6} {rate:10.0f} {unit}/s   baseline {base:10.0f} {unit}/s"
        f"   ratio {seconds / base_seconds:5.2f}x"
    )


def import_case(wf: Workflow, ledger: Ledger, raw: Ledger, group: str, codes: list[str]) -> None:
    rows = [UnitRow(row=2, code=group, name="基准集团", parent_code="", reviewer_emails="sh@g.cn")]
    rows += [UnitRow(row=i + 3, code=c, name=f"基准子公司{i}", parent_code=group) for i, c in enumerate(codes)]
    started = time.perf_counter()
    wf.units.import_rows(rows)
    imported = time.perf_counter() - started
    events = [e.body for e in ledger.events(kind=UnitAdded.kind)][1:] + [
        e.body for e in ledger.events(kind=AccountCreated.kind)
    ]
    started = time.perf_counter()
    raw.append_many([(body, "admin", "x") for body in events])
    raw_import = time.perf_counter() - started
    line("import", len(codes), imported, raw_import, "units")


def submit_case(wf: Workflow, ledger: Ledger, raw: Ledger, group: str, codes: list[str]) -> list[SubmitOutcome]:
    prepared = []
    for code in codes:
        values, investors, documents = registration_values(code, "基准子公司", 2, group)
        bundle = bundle_for(values, investors, documents)
        prepared.append((code, bundle, check_bundle(bundle)))
    started = time.perf_counter()
    outcomes = [
        wf.submit(f"item-{code}", filer=code, channel="dropbox", reply_to="", bundle=b, check_result=r)
        for code, b, r in prepared
    ]
    submitted = time.perf_counter() - started
    assert all(o.accepted for o in outcomes), outcomes[0].findings
    pairs = [[(e.body, e.actor, e.subject) for e in ledger.events(subject=o.filing_id)] for o in outcomes]
    started = time.perf_counter()
    for pair in pairs:
        raw.append_many(pair)
    raw_submit = time.perf_counter() - started
    line("submit", len(codes), submitted, raw_submit, "filings")
    return outcomes


def decide_case(wf: Workflow, raw: Ledger, group: str, outcomes: list[SubmitOutcome]) -> None:
    started = time.perf_counter()
    for o in outcomes:
        done = wf.decide(wf.review_token(o.filing_id, 1, 1, "sh@g.cn"), "sh@g.cn", ReviewDecision.APPROVE, "同意")
        assert done.applied
    decided = time.perf_counter() - started
    bodies = [
        ReviewDecided(
            filing_id=o.filing_id, round=1, level=1, unit=group, reviewer="sh@g.cn", decision="通过", opinion="同意"
        )
        for o in outcomes
    ]
    started = time.perf_counter()
    for body in bodies:
        raw.append(body, "sh@g.cn", body.filing_id)
    raw_decide = time.perf_counter() - started
    line("decide", len(outcomes), decided, raw_decide, "decisions")


def login_case(wf: Workflow, codes: list[str]) -> None:
    started = time.perf_counter()
    for code in codes:
        assert wf.accounts.authenticate(code, code).ok
    initial = time.perf_counter() - started
    for code in codes:
        wf.accounts.set_password(code, "Bench-Passw0rd!")
    started = time.perf_counter()
    for code in codes:
        assert wf.accounts.authenticate(code, "Bench-Passw0rd!").ok
    hashed = time.perf_counter() - started
    line("login", len(codes), hashed, initial, "logins")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--units", type=int, default=2000)
    parser.add_argument("--filings", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        ledger = Ledger.open(root / "ledger.sqlite3", projections=all_projections())
        wf = Workflow(ledger, accounts_db=root / "accounts.sqlite3", token_key=b"k" * 32, settings=WorkflowConfig())
        wf.units.ensure_root()
        wf.units.set_contacts("SASAC0001", reviewer_emails=["chu@sasac.gov.cn"])
        group = make_org_code("50010000")
        codes = [make_org_code(f"6{i:07d}") for i in range(args.units)]
        raw = Ledger.open(root / "raw.sqlite3")
        import_case(wf, ledger, raw, group, codes)
        outcomes = submit_case(wf, ledger, raw, group, codes[: min(args.filings, args.units)])
        decide_case(wf, raw, group, outcomes)
        login_case(wf, codes[:50])
        wf.close()
        raw.close()
        ledger.close()


if __name__ == "__main__":
    main()
