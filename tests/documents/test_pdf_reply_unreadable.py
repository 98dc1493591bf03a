"""A deciding reply's kept mail that cannot be read stops the issue: the signed 审核记录 names reviewers
from those mails, and a role printed in place of a lost name would be signed as fact."""

from __future__ import annotations

from pathlib import Path

import pytest
from pdf_scenario import build, run

from chanquan.app import open_workflow
from chanquan.config import load_settings
from documents.events import DocumentIssued
from workflow.events import ReviewDecided


def test_an_unreadable_reply_mail_refuses_the_document(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    scenario = build(tmp_path / "data", investors=1)
    with open_workflow(scenario.data, load_settings(scenario.data)) as wf:
        decided = [
            e.body_as(ReviewDecided) for e in wf.ledger.events(subject=scenario.sub_filing, kind=ReviewDecided.kind)
        ]
        blob = next(b.mail_blob for b in decided if b.mail_blob)
        path = wf.ledger.blobs.path(blob)
    path.rename(path.with_name("moved-away"))
    out = tmp_path / "登记表.pdf"
    code, _out, err = run(
        capsys, scenario, "print", "--unit", scenario.subsidiary, "--period", scenario.period, "--out", str(out)
    )
    assert code == 1 and "审核回复邮件" in err and "无法读取" in err and "暂不出具" in err, err
    assert not out.exists()
    with open_workflow(scenario.data, load_settings(scenario.data)) as wf:
        assert not list(wf.ledger.events(kind=DocumentIssued.kind))
