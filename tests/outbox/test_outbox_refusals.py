"""Every refused reviewer reply is answered: one Chinese mail to a known reviewer, nothing to a stranger."""

from __future__ import annotations

from collections.abc import Iterator
from email.message import EmailMessage

import pytest
from flow_fixtures import GROUP, Flow, delivered, text_of

from outbox import Outbox
from workflow import ReviewDecision
from workflow.events import ReviewRefused

APPROVE, RETURN = ReviewDecision.APPROVE, ReviewDecision.RETURN
REPLY_ID = "<reply-7@yuxin.test>"


def answers(f: Flow) -> list[EmailMessage]:
    """The refusal answers delivered so far, in the order of the refusals."""
    return sorted(delivered(f.data, "review-refused"), key=lambda m: int(str(m["Message-ID"]).split(".")[1]))


def refuse_and_answer(
    f: Flow, box: Outbox, token: str, sender: str, decision: ReviewDecision = APPROVE, opinion: str = "同意"
) -> list[EmailMessage]:
    """One refused reply, dispatched and sent: the answers it produced."""
    before = len(answers(f))
    outcome = f.wf.decide(token, sender, decision, opinion, message_id=REPLY_ID)
    assert not outcome.applied
    box.dispatch_pending()
    box.send_pending()
    return answers(f)[before:]


def token(f: Flow, filing_id: str, reviewer: str, level: int = 1, round_no: int = 1) -> str:
    return f.wf.review_token(filing_id, round_no, level, reviewer)


@pytest.fixture
def box(f: Flow) -> Iterator[Outbox]:
    opened = f.outbox()
    try:
        yield opened
    finally:
        opened.close()


def test_return_without_opinion_is_answered_with_how_to_write_one(f: Flow, box: Outbox) -> None:
    filing = f.file().filing_id
    (answer,) = refuse_and_answer(f, box, token(f, filing, "audit1@yuxin.test"), "audit1@yuxin.test", RETURN, "")
    assert answer["To"] == "audit1@yuxin.test"
    assert answer["Subject"] == f"[{filing}] 您的审核答复未被记录：退回须写明意见"
    text = text_of(answer)
    assert "退回时必须写明审核意见" in text and "第二行起写明退回原因" in text
    # threaded under the reviewer's reply and the filing; answering it decides
    assert answer["In-Reply-To"] == REPLY_ID
    assert str(answer["References"]).split() == [f"<filing-{filing}@chanquan.test>", REPLY_ID]
    reply_to = str(answer["Reply-To"])
    assert reply_to.startswith("review+") and reply_to in text
    again = f.wf.decide(reply_to.removeprefix("review+").split("@")[0], "audit1@yuxin.test", RETURN, "附件不全")
    assert again.applied


def test_wrong_mailbox_is_told_to_reply_from_the_address_asked(f: Flow, box: Outbox) -> None:
    filing = f.file().filing_id
    # audit2 is a known reviewer, but answers with the reply address made for audit1
    (answer,) = refuse_and_answer(f, box, token(f, filing, "audit1@yuxin.test"), "audit2@yuxin.test")
    assert answer["To"] == "audit2@yuxin.test" and answer["Reply-To"] is None
    text = text_of(answer)
    assert "只能由收到审核请求的邮箱发出" in text and "a***@yuxin.test" in text
    assert "audit1@yuxin.test" not in text, "the other reviewer's address is only hinted at"


def test_forged_or_damaged_address_says_not_valid_not_sender_mismatch(f: Flow, box: Outbox) -> None:
    filing = f.file().filing_id
    real = token(f, filing, "audit1@yuxin.test")
    damaged = real[:-4] + ("aaaa" if not real.endswith("aaaa") else "bbbb")
    (answer,) = refuse_and_answer(f, box, damaged, "audit1@yuxin.test")
    text = text_of(answer)
    assert "此回复地址无效" in text and "不符" not in text and "只能由收到审核请求的邮箱" not in text
    assert answer["Subject"] == f"[{filing}] 您的审核答复未被记录：回复地址无效"
    (garbled,) = refuse_and_answer(f, box, "garbled", "audit1@yuxin.test")
    assert garbled["Subject"] == "您的审核答复未被记录：回复地址无效"
    assert garbled["In-Reply-To"] == garbled["References"] == REPLY_ID


def test_already_decided_names_who_and_when(f: Flow, box: Outbox) -> None:
    filing = f.file().filing_id
    assert f.wf.decide(token(f, filing, "audit1@yuxin.test"), "audit1@yuxin.test", APPROVE, "同意").applied
    (answer,) = refuse_and_answer(f, box, token(f, filing, "audit2@yuxin.test"), "audit2@yuxin.test", RETURN, "不全")
    text = text_of(answer)
    assert "已由 audit1@yuxin.test 于 " in text and "作出决定（通过）" in text
    assert "第 1 轮第 1 级审核" in text and "无需再次答复" in text


def test_stale_withdrawn_and_removed_reviewer_each_get_one_answer(f: Flow, box: Outbox) -> None:
    filing = f.file().filing_id
    (stale,) = refuse_and_answer(f, box, token(f, filing, "review@sasac.test", level=2), "review@sasac.test")
    assert "已不是该登记当前的审核环节" in text_of(stale)
    f.wf.units.set_contacts(GROUP, reviewer_emails=["audit1@yuxin.test"])
    # audit2 is no longer anybody's reviewer, but was asked for this filing: still answered
    (removed,) = refuse_and_answer(f, box, token(f, filing, "audit2@yuxin.test"), "audit2@yuxin.test")
    assert removed["To"] == "audit2@yuxin.test" and "已不在该审核单位的审核人名单中" in text_of(removed)
    f.wf.withdraw(filing, reason="填报单位申请撤回")
    (withdrawn,) = refuse_and_answer(f, box, token(f, filing, "audit1@yuxin.test"), "audit1@yuxin.test")
    assert "该登记已由填报单位撤回" in text_of(withdrawn)
    assert len(answers(f)) == 3, "one answer per refusal, and running again sends nothing more"
    box.dispatch_pending()
    box.send_pending()
    assert len(answers(f)) == 3


def test_strangers_and_robots_get_nothing(f: Flow, box: Outbox) -> None:
    filing = f.file().filing_id
    real = token(f, filing, "audit1@yuxin.test")
    assert refuse_and_answer(f, box, real, "mallory@evil.test") == []  # wrong sender, unknown address
    assert refuse_and_answer(f, box, real + "x", "mallory@evil.test", RETURN, "") == []
    assert refuse_and_answer(f, box, "garbled", "someone@example.test") == []
    assert refuse_and_answer(f, box, real, "MAILER-DAEMON@yuxin.test") == []
    assert len(list(f.ledger.events(kind="review.refused"))) == 4, "every refusal is still recorded"


def test_refusal_recorded_before_codes_existed_is_answered_with_its_reason(f: Flow, box: Outbox) -> None:
    filing = f.file().filing_id
    old = ReviewRefused(
        filing_id=filing, token=f"{filing.lower()}-r1-l1", sender="audit1@yuxin.test", reason="旧原因。"
    )
    f.ledger.append(old, actor="audit1@yuxin.test", subject=filing)
    box.dispatch_pending()
    box.send_pending()
    (answer,) = answers(f)
    assert "原因：旧原因。" in text_of(answer) and answer["In-Reply-To"] == f"<filing-{filing}@chanquan.test>"
