"""A real data directory with an approved first-level filing, an approved subsidiary filing and one in review.

Built through the public layers only: `chanquan init`, the workflow's units, workbooks
filled by defined name and table column, `check_bundle`, `submit`, and reviewer decisions
with real review tokens, up to SASAC.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formataddr
from pathlib import Path

import pytest
from support.registrations import (
    WHOLLY_STATE_OWNED,
    Row,
    document_rows,
    investor_row,
    org_code,
    registration_bundle,
    registration_values,
    sole_investor,
)

from chanquan.app import init_signing_identity, open_workflow
from chanquan.cli import main as cli_main
from chanquan.config import load_settings
from validation.check import check_bundle
from workflow import ReviewDecision, Workflow


@dataclass(frozen=True)
class Scenario:
    data: Path
    first_level: str
    first_level_name: str
    subsidiary: str
    subsidiary_name: str
    pending: str
    first_filing: str
    sub_filing: str
    pending_filing: str
    period: str
    investors: list[str]


def _investors(parent: str, count: int, capital: int, level: int) -> list[Row]:
    """One investor (SASAC for the first level), or `count` state-owned companies sharing the capital."""
    if count == 1:
        return sole_investor(parent, level, capital, name="重庆市国有资产监督管理委员会" if level == 1 else "出资企业")
    share = capital // count
    return [
        investor_row(
            f"重庆国投第{n + 1:03d}号全资子公司", org_code(f"7{n + 1:07d}"), WHOLLY_STATE_OWNED, share, 100 / count
        )
        for n in range(count)
    ]


def _submit(wf: Workflow, unit: str, name: str, level: int, parent: str, investors: int, item: str) -> str:
    capital = 1000 * max(1, investors)
    values = registration_values(unit, name, level, parent, capital=capital)
    bundle = registration_bundle(values, _investors(parent, investors, capital, level), document_rows())
    result = check_bundle(bundle, extra_rules=wf.ledger_rules(unit))
    errors = [f for f in result.findings if f.is_error]
    assert not errors, errors
    outcome = wf.submit(
        item, filer=unit, channel="dropbox", reply_to=f"dropbox:{unit}", bundle=bundle, check_result=result
    )
    assert outcome.accepted, outcome
    return outcome.filing_id


# the name a reviewer signs their replies with (the From display name); SASAC's reviewer sends none
REVIEWER_NAMES = {"review@yuxin.example.cn": "王建华"}


def _reply(reviewer: str, opinion: str) -> bytes:
    """The reviewer's reply as their mail program sends it."""
    message = EmailMessage()
    name = REVIEWER_NAMES.get(reviewer, "")
    message["From"] = formataddr((name, reviewer)) if name else reviewer
    message["To"] = "review@chanquan.localhost"
    message["Subject"] = "回复：请审核"
    message.set_content(f"通过\n{opinion}\n")
    return message.as_bytes()


def approve_all(wf: Workflow, filing_id: str, opinion: str = "资料齐全，同意。") -> None:
    """Every level says 通过 with an opinion, up to SASAC, by a reply mail kept in the blob store."""
    for _ in range(10):
        view = wf.filing(filing_id)
        assert view is not None
        if view.state != "in_review":
            assert view.is_approved, view.state
            return
        reviewer = view.reviewers[0]
        token = wf.review_token(filing_id, view.round, view.level, reviewer)
        text = f"{view.review_unit} 审核：{opinion}"
        mail_blob = wf.ledger.blobs.put(_reply(reviewer, text))
        outcome = wf.decide(token, reviewer, ReviewDecision.APPROVE, text, mail_blob)
        assert outcome.applied, outcome
    raise AssertionError("review chain did not end")


def build(data: Path, investors: int = 40, opinion: str = "资料齐全，同意。") -> Scenario:
    assert cli_main(["--data", str(data), "init"]) == 0
    settings = load_settings(data)
    init_signing_identity(data, settings)
    first, sub, pending = org_code("10000001"), org_code("20000002"), org_code("30000003")
    names = ("重庆渝新控股集团有限公司", "重庆渝新精密制造有限公司", "重庆渝新物流有限公司")
    with open_workflow(data, settings) as wf:
        root = wf.units.ensure_root()
        wf.units.set_contacts(root.code, reviewer_emails=["review@sasac.example.cn"])
        wf.units.add(
            first,
            names[0],
            parent=root.code,
            filer_emails=["filer@yuxin.example.cn"],
            reviewer_emails=["review@yuxin.example.cn"],
        )
        wf.units.add(
            sub,
            names[1],
            parent=first,
            filer_emails=["filer@jingmi.example.cn"],
            reviewer_emails=["review@jingmi.example.cn"],
        )
        wf.units.add(pending, names[2], parent=first, filer_emails=["filer@wuliu.example.cn"])
        first_filing = _submit(wf, first, names[0], 1, "", 1, "item-first")
        approve_all(wf, first_filing, opinion)
        sub_filing = _submit(wf, sub, names[1], 2, first, investors, "item-sub")
        approve_all(wf, sub_filing, opinion)
        pending_filing = _submit(wf, pending, names[2], 2, first, 1, "item-pending")
        sub_view = wf.filing(sub_filing)
        assert sub_view is not None
        period = sub_view.period
    return Scenario(
        data,
        first,
        names[0],
        sub,
        names[1],
        pending,
        first_filing,
        sub_filing,
        pending_filing,
        period,
        [f"重庆国投第{n + 1:03d}号全资子公司" for n in range(investors)],
    )


def run(capsys: pytest.CaptureFixture[str], scenario: Scenario, *args: str) -> tuple[int, str, str]:
    """`chanquan --data <scenario> ARGS…`: (exit status, stdout, stderr)."""
    code = cli_main(["--data", str(scenario.data), *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err
