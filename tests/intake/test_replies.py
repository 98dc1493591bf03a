"""Reviewer replies as real clients write them: quoting styles, decision words, auto-replies."""

from __future__ import annotations

from pathlib import Path

import pytest

from intake.mime import ParsedMail, parse_mail
from intake.replies import is_auto_reply, own_text, parse_decision, read_reply, token_from_address
from workflow import ReviewDecision

EML = Path(__file__).parent / "eml"
APPROVE, RETURN = ReviewDecision.APPROVE, ReviewDecision.RETURN


@pytest.mark.parametrize(
    ("name", "decision", "opinion_start"),
    [
        ("outlook_zh_approve.eml", APPROVE, "材料齐全，同意上报。"),
        ("outlook_en_return.eml", RETURN, "the audit report is missing."),
        ("foxmail_return.eml", RETURN, "附件不全，请补充2025年度审计报告。"),
        ("qqmail_approve.eml", APPROVE, ""),
        ("mail163_approve.eml", APPROVE, ""),
        ("gmail_approve.eml", APPROVE, "Documents are complete."),
        ("applemail_return.eml", RETURN, "股东名册与章程不一致，请核对后重新报送。"),
        ("bottom_post_return.eml", RETURN, "请补正出资人信息。"),
        ("gb2312_label_gbk_chars.eml", APPROVE, "经办人：朱镕基、王堃、陈喆。"),
    ],
)
def test_corpus_decisions_and_opinions(name: str, decision: ReviewDecision, opinion_start: str) -> None:
    parsed = parse_mail((EML / name).read_bytes())
    assert not is_auto_reply(parsed)
    reply = read_reply(parsed)
    assert reply.decision == decision
    assert reply.opinion.startswith(opinion_start)
    # nothing of the quoted original leaks into the opinion
    for quoted in ("发件人", "原始邮件", "Original", "wrote", "写道", "请审核"):
        assert quoted not in reply.opinion


@pytest.mark.parametrize("name", ["outlook_autoreply_zh.eml", "qq_autoreply.eml"])
def test_auto_replies_are_recognized(name: str) -> None:
    assert is_auto_reply(parse_mail((EML / name).read_bytes()))


@pytest.mark.parametrize(
    "headers",
    [
        {"auto-submitted": "auto-generated"},
        {"x-autorespond": "yes"},
        {"precedence": "bulk"},
        {"precedence": "junk"},
        {"precedence": "auto_reply"},
    ],
)
def test_auto_reply_headers(headers: dict[str, str]) -> None:
    assert is_auto_reply(ParsedMail(subject="Re: 审核", headers=headers))


def test_auto_submitted_no_is_a_person() -> None:
    assert not is_auto_reply(ParsedMail(subject="Re: 审核", headers={"auto-submitted": "no"}))
    assert is_auto_reply(ParsedMail(subject="Automatic reply: 审核"))
    assert is_auto_reply(ParsedMail(subject="自动回复：审核"))


# Each first line with the decision it must yield, written out: 通过 / 退回 with the opinion the rest of
# the reply gives, or 不明确 with why (the reviewer is asked again, never guessed for).
DECISION_TABLE: list[tuple[str, str, str]] = [
    # unambiguous approvals, with and without opinion text, full- and half-width punctuation
    ("通过", "通过", ""),
    ("通过。", "通过", ""),
    ("通过!", "通过", ""),
    ("通过！", "通过", ""),
    ("同意。", "通过", ""),
    ("同意，请继续", "通过", "请继续"),
    ("同意,请继续", "通过", "请继续"),
    ("  同意，请继续上报", "通过", "请继续上报"),
    ("批准", "通过", ""),
    ("【通过】", "通过", ""),
    ("通过：材料齐全", "通过", "材料齐全"),
    ("\n\n  \n通过\n意见见附件", "通过", "意见见附件"),
    ("同意\n准予登记。", "通过", "准予登记。"),
    ("APPROVE", "通过", ""),
    ("ＡＰＰＲＯＶＥ", "通过", ""),
    ("approve - looks fine", "通过", "looks fine"),
    ("Approved.", "通过", ""),
    ("approved with comments", "通过", "with comments"),
    ("Approved: documents complete", "通过", "documents complete"),
    # unambiguous returns
    ("退回", "退回", ""),
    ("退回：附件不全", "退回", "附件不全"),
    ("退回:附件不全", "退回", "附件不全"),
    ("驳回：附件不全", "退回", "附件不全"),
    ("驳回！\n股东名册有误\n请更正", "退回", "股东名册有误\n请更正"),
    ("RETURN: missing report", "退回", "missing report"),
    ("Returned - audit report missing", "退回", "audit report missing"),
    ("REJECT", "退回", ""),
    ("退回\n补充上级批准文件后可同意", "退回", "补充上级批准文件后可同意"),  # the other word on line 2 is opinion
    # a 退回 line's opinion may name approvals: it is still no approval, and nothing contradicts it
    ("退回：缺少上级批准文件", "退回", "缺少上级批准文件"),
    ("退回：请在备注中说明本次注册资本变动的批准情况。", "退回", "请在备注中说明本次注册资本变动的批准情况。"),
    ("退回：修改后可以通过", "退回", "修改后可以通过"),
    ("退回：为何缺少审计报告？", "退回", "为何缺少审计报告？"),
    ("退回，不同意上报", "退回", "不同意上报"),
    ("RETURN: not approved", "退回", "not approved"),
    # words of both decisions on the first line
    ("同意退回", "不明确", "both-decisions"),
    ("通过？不，退回", "不明确", "both-decisions"),
    ("通过?不,退回", "不明确", "both-decisions"),
    ("同意，退回重报", "不明确", "both-decisions"),
    ("不同意，退回重报", "不明确", "both-decisions"),
    ("退回，同意修改后再报", "不明确", "both-decisions"),
    ("退回。通过", "不明确", "both-decisions"),
    ("退回同意", "不明确", "both-decisions"),
    ("Return: approve after the fix", "不明确", "both-decisions"),
    ("APPROVE / RETURN", "不明确", "both-decisions"),
    ("同意，附件已退回经办人", "不明确", "both-decisions"),  # an approval line is checked whole
    # a negation next to a decision word
    ("不同意", "不明确", "negated"),
    ("暂不同意", "不明确", "negated"),
    ("不通过", "不明确", "negated"),
    ("不予通过", "不明确", "negated"),
    ("不批准", "不明确", "negated"),
    ("不予批准", "不明确", "negated"),
    ("未通过", "不明确", "negated"),
    ("通过不了", "不明确", "negated"),
    ("退回不了", "不明确", "negated"),
    ("Not approved", "不明确", "negated"),
    ("do not approve", "不明确", "negated"),
    ("I don\u2019t approve", "不明确", "negated"),
    ("disapproved", "不明确", "negated"),
    # a question about the decision
    ("通过？", "不明确", "question"),
    ("同意吗", "不明确", "question"),
    ("同意吗？", "不明确", "question"),
    ("Approve?", "不明确", "question"),
    ("退回?", "不明确", "question"),
    ("退回？不，通过", "不明确", "question"),
    ("退回吗", "不明确", "question"),
    ("是否退回", "不明确", "question"),
    ("请问怎么退回？", "不明确", "question"),
    ("同意，是否需要补充材料", "不明确", "question"),
    # no decision word first
    ("我认为应当通过", "不明确", "no-decision"),
    ("好的", "不明确", "no-decision"),
    ("approvement pending", "不明确", "no-decision"),
    ("收到，我看一下", "不明确", "no-decision"),
]
DECISION_NAMES = {APPROVE: "通过", RETURN: "退回", None: "不明确"}


def test_decision_table_is_large_and_names_the_issue_cases() -> None:
    lines = [text for text, _, _ in DECISION_TABLE]
    assert len(lines) >= 40 and len(set(lines)) == len(lines)
    named = ["同意退回", "通过？不，退回", "不同意", "暂不同意", "同意。", "同意，请继续", "通过!", "APPROVE"]
    named += ["approved with comments", "Not approved", "退回", "驳回：附件不全", "批准", "不予批准"]
    assert set(named) <= set(lines)


@pytest.mark.parametrize(("text", "expected", "detail"), DECISION_TABLE)
def test_first_line_decides_only_when_unambiguous(text: str, expected: str, detail: str) -> None:
    parsed = parse_decision(text)
    assert DECISION_NAMES[parsed.decision] == expected
    if parsed.decision is None:
        assert parsed.unclear is not None and parsed.unclear.value == detail
    else:
        assert parsed.opinion == detail and parsed.unclear is None


def test_empty_reply_is_unclear_without_a_reason() -> None:
    parsed = parse_decision("")
    assert parsed.decision is None and parsed.unclear is None


def test_chinese_outlook_quote_is_cut() -> None:
    body = "退回：请补充审计报告\n\n发件人: 产权登记\n发送时间: 2026年3月2日\n主题: 请审核\n\n通过\n"
    assert own_text(body) == "退回：请补充审计报告"


def test_interleaved_angle_quotes_after_answer_end_it() -> None:
    body = "通过\n> 原文第一行\n> 通过或退回\n"
    assert own_text(body) == "通过"


def test_token_from_address() -> None:
    assert token_from_address("review+cq2026-000001-r1-l2-abcd@x.cn") == "cq2026-000001-r1-l2-abcd"
    assert token_from_address("<Review+T0K@x.cn>") == "T0K"
    assert token_from_address("filing@x.cn") is None
