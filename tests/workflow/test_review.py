"""The level-by-level review: approvals up to SASAC, returns, resubmission, refusals, edge cases."""

from __future__ import annotations

import io

from helpers import SASAC, Tree, file_registration
from openpyxl import load_workbook

from workflow import DecisionOutcome, FilingStatus, ReviewDecision, Workflow

APPROVE, RETURN = ReviewDecision.APPROVE, ReviewDecision.RETURN


def file_c(wf: Workflow, t: Tree, **kwargs: object) -> str:
    outcome = file_registration(wf, t.c, t.c, "测试四级公司", 4, t.b, **kwargs)  # type: ignore[arg-type]
    assert outcome.state == FilingStatus.IN_REVIEW, outcome.findings
    return outcome.filing_id


def decide(
    wf: Workflow,
    filing_id: str,
    round_no: int,
    level: int,
    reviewer: str,
    decision: ReviewDecision,
    opinion: str = "",
    sender: str | None = None,
) -> DecisionOutcome:
    token = wf.review_token(filing_id, round_no, level, reviewer)
    return wf.decide(token, sender or reviewer, decision, opinion)


def kinds(wf: Workflow, filing_id: str) -> list[str]:
    return [e.kind for e in wf.ledger.events(subject=filing_id)]


def test_four_level_tree_climbs_to_sasac(wf: Workflow, tree: Tree) -> None:
    fid = file_c(wf, tree)
    assert fid.startswith("CQ") and fid.endswith("-000001")
    chain = [(tree.b, "sh@b.cn"), (tree.a, "sh@a.cn"), (tree.g, "sh@g.cn"), (SASAC, "chu@sasac.gov.cn")]
    for level, (unit, reviewer) in enumerate(chain, start=1):
        view = wf.filing(fid)
        assert view is not None
        assert (view.state, view.level, view.review_unit) == (FilingStatus.IN_REVIEW, level, unit)
        assert [q.filing_id for q in wf.queue(unit)] == [fid]
        outcome = decide(wf, fid, 1, level, reviewer, APPROVE, f"第{level}级同意")
        assert outcome.applied, outcome.reason_zh
        assert wf.queue(unit) == []
    view = wf.filing(fid)
    assert view is not None and view.state == FilingStatus.APPROVED
    assert [d.opinion for d in view.decisions] == ["第1级同意", "第2级同意", "第3级同意", "第4级同意"]
    assert kinds(wf, fid)[-1] == "filing.approved"
    approved = wf.last_approved(tree.c)
    assert approved is not None and approved.ent_name == "测试四级公司"
    assert wf.last_approved(tree.c, "2025-03-01") is not None
    assert wf.last_approved(tree.c, "2024-01-01") is None
    listed = wf.approved_registrations("四级")
    assert [(r.unit, r.first_level, r.is_first_level) for r in listed] == [(tree.c, tree.g, False)]
    history = wf.review_history(fid)
    assert [h.actor for h in history if h.kind == "review.decided"] == [
        "sh@b.cn",
        "sh@a.cn",
        "sh@g.cn",
        "chu@sasac.gov.cn",
    ]


def test_return_at_level_two_then_resubmission(wf: Workflow, tree: Tree) -> None:
    fid = file_c(wf, tree)
    assert decide(wf, fid, 1, 1, "fu@b.cn", APPROVE, "").applied  # any reviewer of the unit; opinion optional
    no_opinion = decide(wf, fid, 1, 2, "sh@a.cn", RETURN, "  ")
    assert not no_opinion.applied and "意见" in no_opinion.reason_zh
    returned = decide(wf, fid, 1, 2, "sh@a.cn", RETURN, "注册资本与章程不符，请核实")
    assert returned.applied and returned.state == FilingStatus.RETURNED
    view = wf.filing(fid)
    assert view is not None and view.state == FilingStatus.RETURNED and wf.queue(tree.a) == []
    last = next(e for e in reversed(list(wf.ledger.events(subject=fid))) if e.kind == "filing.returned")
    assert last.payload["opinion"] == "注册资本与章程不符，请核实" and last.payload["by"] == tree.a

    again = file_registration(wf, tree.c, tree.c, "测试四级公司", 4, tree.b, capital=1200)
    assert (again.filing_id, again.round, again.state) == (fid, 2, FilingStatus.IN_REVIEW)
    stale = decide(wf, fid, 1, 2, "sh@a.cn", APPROVE, "同意")
    assert not stale.applied and "已由 sh@a.cn" in stale.reason_zh
    for level, reviewer in enumerate(["sh@b.cn", "sh@a.cn", "sh@g.cn", "chu@sasac.gov.cn"], start=1):
        assert decide(wf, fid, 2, level, reviewer, APPROVE, "同意").applied
    approved = wf.last_approved(tree.c)
    assert approved is not None and str(approved.reg_capital) == "1200"


def test_refusals_are_recorded_and_never_applied(wf: Workflow, tree: Tree) -> None:
    fid = file_c(wf, tree)
    before = wf.filing(fid)
    # a reviewer of another unit, with a token genuinely issued to that address
    outsider = decide(wf, fid, 1, 1, "sh@g.cn", APPROVE, "同意")
    assert not outsider.applied and "不是" in outsider.reason_zh
    # a forged sender: the token was issued to sh@b.cn, the mail comes from someone else
    token = wf.review_token(fid, 1, 1, "sh@b.cn")
    forged = wf.decide(token, "Mallory <mallory@evil.cn>", APPROVE, "同意")
    assert not forged.applied and "不符" in forged.reason_zh
    # a step that is not current yet
    early = decide(wf, fid, 1, 3, "sh@g.cn", APPROVE, "同意")
    assert not early.applied and "当前环节" in early.reason_zh
    garbage = wf.decide("not-a-token", "sh@b.cn", APPROVE, "")
    assert not garbage.applied
    after = wf.filing(fid)
    assert before is not None and after is not None
    assert (after.state, after.level, after.decisions) == (before.state, before.level, [])
    refused = list(wf.ledger.events(kind="review.refused"))
    assert len(refused) == 4
    assert all(token[-16:] not in e.payload_json for e in refused)  # the MAC never enters the ledger
    assert refused[1].payload["sender"] == "mallory@evil.cn"
    # display name and case of the real reviewer are ignored
    ok = wf.decide(token, '"审核人" <SH@B.CN>', APPROVE, "同意")
    assert ok.applied
    twice = wf.decide(token, "sh@b.cn", APPROVE, "同意")
    assert not twice.applied and "已由 sh@b.cn" in twice.reason_zh


def test_minority_holding_is_filed_by_the_investor(wf: Workflow, tree: Tree) -> None:
    by_held = file_registration(wf, tree.p, tree.p, "测试参股公司", 3, tree.a, relation="国有参股")
    assert by_held.state == FilingStatus.INVALID
    refusal = next(f for f in by_held.findings if f.code == "filer-not-allowed")
    assert "测试二级公司" in refusal.message and tree.a in refusal.message
    by_investor = file_registration(wf, tree.a, tree.p, "测试参股公司", 3, tree.a, relation="国有参股")
    assert by_investor.state == FilingStatus.IN_REVIEW, by_investor.findings
    assert by_investor.review_unit == tree.g  # the investor's ancestors review, not the investor itself
    view = wf.filing(by_investor.filing_id)
    assert view is not None and (view.unit, view.filer) == (tree.p, tree.a)
    assert decide(wf, view.filing_id, 1, 1, "sh@g.cn", APPROVE, "同意").applied
    assert decide(wf, view.filing_id, 1, 2, "chu@sasac.gov.cn", APPROVE, "同意").applied
    assert wf.last_approved(tree.p) is not None


def test_designated_filer(wf: Workflow, tree: Tree) -> None:
    wf.units.apply_designation(tree.g, "designated", unit=tree.d, reason="共享中心集中填报")
    wf.units.approve_designation(tree.g, reference="渝国资〔2026〕12号")
    own = file_registration(wf, tree.b, tree.b, "测试三级公司", 3, tree.a)
    assert own.state == FilingStatus.INVALID
    message = next(f.message for f in own.findings if f.code == "filer-not-allowed")
    assert "测试共享中心" in message and "集中填报" in message
    central = file_registration(wf, tree.d, tree.b, "测试三级公司", 3, tree.a)
    assert central.state == FilingStatus.IN_REVIEW, central.findings
    assert central.review_unit == tree.a
    # the first-level itself still files its own registration
    first = file_registration(wf, tree.g, tree.g, "重庆测试集团", 1, "")
    assert first.state == FilingStatus.IN_REVIEW and first.review_unit == SASAC, first.findings
    wf.units.apply_designation(tree.g, "self", reason="恢复自行填报")
    wf.units.approve_designation(tree.g, reference="渝国资〔2026〕13号")
    assert file_registration(wf, tree.c, tree.c, "测试四级公司", 4, tree.b).state == FilingStatus.IN_REVIEW


def test_one_filing_in_review_per_unit_and_period(wf: Workflow, tree: Tree) -> None:
    fid = file_c(wf, tree)
    second = file_registration(wf, tree.c, tree.c, "测试四级公司", 4, tree.b)
    assert second.state == FilingStatus.INVALID and second.filing_id != fid
    assert any(f.code == "filing-in-review" and fid in f.message for f in second.findings)
    other_period = file_registration(wf, tree.c, tree.c, "测试四级公司", 4, tree.b, backfill="未办")
    assert other_period.state == FilingStatus.IN_REVIEW, other_period.findings


def test_submit_is_idempotent_on_item_id(wf: Workflow, tree: Tree) -> None:
    first = file_registration(wf, tree.c, tree.c, "测试四级公司", 4, tree.b, item_id="spool-42")
    size = wf.ledger.size()
    again = file_registration(wf, tree.c, tree.c, "测试四级公司", 4, tree.b, item_id="spool-42")
    assert again.duplicate and (again.filing_id, again.round, again.state) == (first.filing_id, 1, first.state)
    assert again.review_unit == tree.b
    assert wf.ledger.size() == size
    bad = file_registration(wf, tree.p, tree.p, "测试参股公司", 3, tree.a, relation="国有参股", item_id="spool-43")
    size = wf.ledger.size()
    bad_again = file_registration(
        wf, tree.p, tree.p, "测试参股公司", 3, tree.a, relation="国有参股", item_id="spool-43"
    )
    assert bad_again.duplicate and bad_again.state == FilingStatus.INVALID
    assert [f.code for f in bad_again.findings if f.is_error] == [f.code for f in bad.findings if f.is_error]
    assert wf.ledger.size() == size
    invalid = next(e for e in wf.ledger.events(kind="filing.invalid"))
    annotated = load_workbook(io.BytesIO(wf.ledger.blobs.get(invalid.payload["annotated_blob"])))
    assert annotated.sheetnames[0] == "审核错误"
    annotated.close()


def test_withdrawal_makes_pending_tokens_stale(wf: Workflow, tree: Tree) -> None:
    fid = file_c(wf, tree)
    wf.withdraw(fid, reason="填报单位申请撤回")
    view = wf.filing(fid)
    assert view is not None and view.state == FilingStatus.WITHDRAWN and wf.queue(tree.b) == []
    late = decide(wf, fid, 1, 1, "sh@b.cn", APPROVE, "同意")
    assert not late.applied and "撤回" in late.reason_zh
    fresh = file_c(wf, tree)
    assert fresh != fid


def test_unit_moved_mid_review_restarts_under_new_chain(wf: Workflow, tree: Tree) -> None:
    fid = file_c(wf, tree)
    assert decide(wf, fid, 1, 1, "sh@b.cn", APPROVE, "同意").applied  # now waiting at A (level 2)
    wf.units.move(tree.c, tree.d)  # C now sits under D, a second-level unit: C becomes third-level
    moved = wf.units.get(tree.c)
    assert moved is not None and moved.level == 3 and moved.parent == tree.d
    view = wf.filing(fid)
    assert view is not None and (view.level, view.review_unit) == (1, tree.d)
    assert wf.queue(tree.a) == [] and [q.filing_id for q in wf.queue(tree.d)] == [fid]
    assert not decide(wf, fid, 1, 2, "sh@a.cn", APPROVE, "同意").applied
    assert decide(wf, fid, 1, 1, "sh@d.cn", APPROVE, "同意").applied
    view = wf.filing(fid)
    assert view is not None and view.review_unit == tree.g


def test_reviewer_changes_mid_review(wf: Workflow, tree: Tree) -> None:
    fid = file_c(wf, tree)
    wf.units.set_contacts(tree.b, reviewer_emails=["new@b.cn"])  # both old reviewers removed, one added
    requests = list(wf.ledger.events(subject=fid, kind="review.requested"))
    assert requests[-1].payload["reviewers"] == ["new@b.cn"] and requests[-1].payload["reason"] == "reviewers_added"
    removed = decide(wf, fid, 1, 1, "sh@b.cn", APPROVE, "同意")
    assert not removed.applied and "不是" in removed.reason_zh
    assert decide(wf, fid, 1, 1, "new@b.cn", APPROVE, "同意").applied


def test_projections_rebuild_equal_live_tables(wf: Workflow, tree: Tree) -> None:
    fid = file_c(wf, tree)
    decide(wf, fid, 1, 1, "sh@b.cn", APPROVE, "同意")
    decide(wf, fid, 1, 2, "sh@a.cn", RETURN, "请补充章程")
    file_registration(wf, tree.c, tree.c, "测试四级公司", 4, tree.b)
    file_registration(wf, tree.a, tree.p, "测试参股公司", 3, tree.a, relation="国有参股")
    file_registration(wf, tree.p, tree.p, "测试参股公司", 3, tree.a, relation="国有参股")
    wf.units.apply_designation(tree.g, "designated", unit=tree.d, reason="集中填报")
    wf.units.approve_designation(tree.g, reference="渝国资〔2026〕12号")
    wf.units.apply_designation(tree.g, "holder", reason="改由持有单位填报")
    wf.units.reject_designation(tree.g, opinion="理由不充分")
    wf.units.move(tree.b, tree.d)
    wf.units.add_overseas("测试香港公司", parent=tree.a)
    wf.accounts.authenticate(tree.c, "wrong")
    wf.accounts.set_password(tree.c, "Chanquan-2026!")
    decide(wf, fid, 2, 1, "sh@b.cn", APPROVE, "同意")
    assert wf.ledger.compare_projections() == []


def test_concurrent_replies_to_one_step_apply_once(wf: Workflow, tree: Tree) -> None:
    import threading

    fid = file_c(wf, tree)
    results = []
    barrier = threading.Barrier(4)

    def reply(reviewer: str) -> None:
        barrier.wait()
        results.append(decide(wf, fid, 1, 1, reviewer, APPROVE, f"{reviewer} 同意"))

    threads = [threading.Thread(target=reply, args=(r,)) for r in ("sh@b.cn", "fu@b.cn", "sh@b.cn", "fu@b.cn")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(r.applied for r in results) == [False, False, False, True]
    assert len(list(wf.ledger.events(subject=fid, kind="review.decided"))) == 1
    view = wf.filing(fid)
    assert view is not None and (view.level, view.review_unit) == (2, tree.a)
