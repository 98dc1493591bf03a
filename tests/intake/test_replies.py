"""Reviewer replies as real clients write them: quoting styles, decision words, auto-replies."""

from __future__ import annotations

from pathlib import Path

import pytest

from intake.mime import ParsedMail, parse_mail
from intake.replies import ReplyDecision, is_auto_reply, own_text, parse_decision, read_reply, token_from_address

EML = Path(__file__).parent / "eml"
APPROVE, RETURN = ReplyDecision.APPROVE, ReplyDecision.RETURN


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
def test_corpus_decisions_and_opinions(name: str, decision: ReplyDecision, opinion_start: str) -> None:
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


@pytest.mark.parametrize(
    ("text", "decision", "opinion"),
    [
        ("通过。", APPROVE, ""),
        ("通过", APPROVE, ""),
        ("  同意，请继续上报", APPROVE, "请继续上报"),
        ("ＡＰＰＲＯＶＥ", APPROVE, ""),
        ("approve - looks fine", APPROVE, "looks fine"),
        ("退回：附件不全", RETURN, "附件不全"),
        ("驳回！\n股东名册有误\n请更正", RETURN, "股东名册有误\n请更正"),
        ("RETURN: missing report", RETURN, "missing report"),
        ("不同意，退回重报", RETURN, "退回重报"),
        ("【通过】", APPROVE, ""),
        ("\n\n  \n通过\n意见见附件", APPROVE, "意见见附件"),
    ],
)
def test_first_line_decides(text: str, decision: ReplyDecision, opinion: str) -> None:
    parsed = parse_decision(text)
    assert parsed.decision == decision
    assert parsed.opinion == opinion


@pytest.mark.parametrize("text", ["我认为应当通过", "好的", "", "approvement pending", "请问怎么退回？"])
def test_unclear_replies(text: str) -> None:
    assert parse_decision(text).decision is None


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
