"""Every refused reply is recorded with a stable code and what the answer to the sender needs."""

from __future__ import annotations

from typing import Any

import pytest
from helpers import Tree, file_registration

from workflow import FilingStatus, ReviewDecision, Workflow
from workflow.events import ReviewRefused
from workflow.tokens import token_step

APPROVE, RETURN = ReviewDecision.APPROVE, ReviewDecision.RETURN
MESSAGE_ID = "<reply-1@b.cn>"


def file_c(wf: Workflow, t: Tree) -> str:
    outcome = file_registration(wf, t.c, t.c, "测试四级公司", 4, t.b)
    assert outcome.state == FilingStatus.IN_REVIEW, outcome.findings
    return outcome.filing_id


def reply(
    wf: Workflow, token: str, sender: str, decision: ReviewDecision = APPROVE, opinion: str = "同意"
) -> dict[str, Any]:
    """Decide, check it was refused, and return the payload of the one review.refused it recorded."""
    before = wf.ledger.size()
    outcome = wf.decide(token, sender, decision, opinion, message_id=MESSAGE_ID)
    assert not outcome.applied
    events = list(wf.ledger.events(after_seq=before))
    assert [e.kind for e in events] == ["review.refused"], "a refusal records exactly one event"
    payload = events[0].payload
    assert payload["code"] == outcome.code and payload["reason"] == outcome.reason_zh
    assert payload["message_id"] == MESSAGE_ID and payload["decision"] == decision.value
    assert token[-16:] not in events[0].payload_json, "the MAC never enters the ledger"
    return payload


def test_return_without_opinion_is_missing_opinion(wf: Workflow, tree: Tree) -> None:
    fid = file_c(wf, tree)
    token = wf.review_token(fid, 1, 1, "sh@b.cn")
    refused = reply(wf, token, "sh@b.cn", RETURN, "  ")
    assert refused["code"] == "missing-opinion" and refused["sender"] == "sh@b.cn"
    assert refused["token"] == token_step(token) == f"{fid.lower()}-r1-l1"
    assert "意见" in refused["reason"]


def test_reply_from_another_mailbox_is_wrong_sender_and_names_the_address_asked(wf: Workflow, tree: Tree) -> None:
    fid = file_c(wf, tree)
    token = wf.review_token(fid, 1, 1, "sh@b.cn")
    refused = reply(wf, token, "Someone <other@g.cn>")
    assert refused["code"] == "wrong-sender" and refused["sender"] == "other@g.cn"
    assert refused["addressed_to"] == "sh@b.cn" and "不符" in refused["reason"]


def test_forged_or_damaged_token_is_invalid_not_wrong_sender(wf: Workflow, tree: Tree) -> None:
    fid = file_c(wf, tree)
    real = wf.review_token(fid, 1, 1, "sh@b.cn")
    damaged = real[:-4] + ("aaaa" if not real.endswith("aaaa") else "bbbb")
    for token in (damaged, wf.review_token(fid, 1, 1, "never-asked@b.cn"), "not-a-token"):
        refused = reply(wf, token, "sh@b.cn")
        assert refused["code"] == "invalid-token", token
        assert "无效" in refused["reason"] and "不符" not in refused["reason"]
        assert refused["addressed_to"] == ""


def test_unknown_filing(wf: Workflow, tree: Tree) -> None:
    file_c(wf, tree)
    token = wf.review_token("CQ2026-999999", 1, 1, "sh@b.cn")
    refused = reply(wf, token, "sh@b.cn")
    assert refused["code"] == "unknown-filing" and refused["filing_id"] == "CQ2026-999999"
    assert "无效" in refused["reason"]


def test_already_decided_says_by_whom_when_and_what(wf: Workflow, tree: Tree) -> None:
    fid = file_c(wf, tree)
    assert wf.decide(wf.review_token(fid, 1, 1, "fu@b.cn"), "fu@b.cn", APPROVE, "同意").applied
    decided = next(wf.ledger.events(subject=fid, kind="review.decided"))
    refused = reply(wf, wf.review_token(fid, 1, 1, "sh@b.cn"), "sh@b.cn", RETURN, "附件不全")
    assert refused["code"] == "already-decided"
    assert (refused["decided_by"], refused["decided"]) == ("fu@b.cn", "通过")
    assert refused["decided_at"] == decided.ts.replace(microsecond=0).isoformat()
    assert "已由 fu@b.cn" in refused["reason"]


def test_step_not_current_is_stale_round(wf: Workflow, tree: Tree) -> None:
    fid = file_c(wf, tree)
    refused = reply(wf, wf.review_token(fid, 1, 3, "sh@g.cn"), "sh@g.cn")
    assert refused["code"] == "stale-round" and refused["decided_by"] == ""
    # a step of a unit moved away: restarted under the new chain, the old token is stale
    assert wf.decide(wf.review_token(fid, 1, 1, "sh@b.cn"), "sh@b.cn", APPROVE, "同意").applied
    wf.units.move(tree.c, tree.d)
    assert reply(wf, wf.review_token(fid, 1, 2, "sh@a.cn"), "sh@a.cn")["code"] == "stale-round"


def test_withdrawn_filing(wf: Workflow, tree: Tree) -> None:
    fid = file_c(wf, tree)
    wf.withdraw(fid, reason="填报单位申请撤回")
    refused = reply(wf, wf.review_token(fid, 1, 1, "sh@b.cn"), "sh@b.cn")
    assert refused["code"] == "withdrawn" and "撤回" in refused["reason"]


def test_reviewer_removed_mid_review_is_not_reviewer(wf: Workflow, tree: Tree) -> None:
    fid = file_c(wf, tree)
    wf.units.set_contacts(tree.b, reviewer_emails=["new@b.cn"])
    refused = reply(wf, wf.review_token(fid, 1, 1, "sh@b.cn"), "sh@b.cn")
    assert refused["code"] == "not-reviewer" and "不是" in refused["reason"]


@pytest.mark.parametrize("decision", [APPROVE, RETURN])
def test_a_refusal_changes_nothing(wf: Workflow, tree: Tree, decision: ReviewDecision) -> None:
    fid = file_c(wf, tree)
    before = wf.filing(fid)
    reply(wf, wf.review_token(fid, 1, 1, "sh@b.cn"), "x@evil.cn", decision, "意见")
    after = wf.filing(fid)
    assert before is not None and after is not None
    assert (after.state, after.level, after.decisions) == (before.state, before.level, [])


def test_refusals_recorded_before_codes_existed_stay_readable(wf: Workflow) -> None:
    old = ReviewRefused(filing_id="CQ2026-000001", token="cq2026-000001-r1-l1", sender="a@b.cn", reason="旧原因")
    stored = wf.ledger.append(old, actor="a@b.cn", subject="CQ2026-000001")
    body = wf.ledger.get(stored.seq).body
    assert isinstance(body, ReviewRefused)
    assert (body.reason, body.code, body.message_id, body.decided_by) == ("旧原因", "", "", "")
