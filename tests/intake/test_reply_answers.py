"""Reviewer replies through the real SMTP listener, answered by the real outbox: contradictory lines
never approve, every refused reply is answered, and `chanquan status` counts both."""

from __future__ import annotations

import mailbox
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from intake_helpers import REVIEWER, Env, build_env, close_env
from test_flows import file_and_get_token, mail, outcomes, send

from outbox import MaildirDelivery, Outbox, OutboxConfig


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Env, Outbox]]:
    env = build_env(tmp_path / "data")
    box = Outbox(
        env.ledger,
        env.wf,
        env.data / "outbox",
        OutboxConfig(mail_domain="chanquan.localhost"),
        transport=MaildirDelivery(env.data / "maildir"),
    )
    env.service.start()
    try:
        yield env, box
    finally:
        box.close()
        close_env(env)


def delivered(env: Env, box: Outbox, purpose: str) -> list[EmailMessage]:
    box.dispatch_pending()
    box.send_pending()
    found = []
    for raw in mailbox.Maildir(env.data / "maildir", create=False):
        parsed = message_from_bytes(raw.as_bytes(), policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        if parsed["X-Chanquan-Purpose"] == purpose:
            found.append(parsed)
    return found


def body(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    assert part is not None
    return str(part.get_content())


def test_contradictory_reply_is_asked_again_and_a_bare_return_is_answered(
    served: tuple[Env, Outbox],
) -> None:
    env, box = served
    filing_id, address = file_and_get_token(env)

    contradictory = mail(REVIEWER, address, "Re: 审核", "同意退回\n\n> 请审核")
    send(env, contradictory)
    env.wait_for(lambda: len(env.kinds("intake.processed")) == 2)
    assert outcomes(env)[-1] == "unclear"
    assert env.kinds("review.decided") == [] and env.kinds("filing.approved") == []
    assert env.kinds("review.unclear")[0].payload["reason"] == "both-decisions"
    (unclear,) = delivered(env, box, "reply-unclear")
    assert unclear["To"] == REVIEWER and "请在第一行回复 通过 或 退回" in body(unclear)
    assert "同时含有“通过”和“退回”" in body(unclear) and "没有当作通过处理" in body(unclear)
    assert unclear["In-Reply-To"] == contradictory["Message-ID"]
    view = env.wf.filing(filing_id)
    assert view is not None and view.state == "in_review" and view.decisions == []

    bare_return = mail(REVIEWER, address, "Re: 审核", "退回")
    send(env, bare_return)
    env.wait_for(lambda: len(env.kinds("intake.processed")) == 3)
    assert outcomes(env)[-1] == "refused"
    (refused,) = env.kinds("review.refused")
    assert refused.payload["code"] == "missing-opinion"
    (answer,) = delivered(env, box, "review-refused")
    assert answer["To"] == REVIEWER and answer["Subject"] == f"[{filing_id}] 您的审核答复未被记录：退回须写明意见"
    assert "退回时必须写明审核意见" in body(answer)
    assert answer["In-Reply-To"] == bare_return["Message-ID"]

    # answering the refusal properly decides
    send(env, mail(REVIEWER, str(answer["Reply-To"]), "Re: 审核", "退回\n请补充审计报告。"))
    env.wait_for(lambda: len(env.kinds("filing.returned")) == 1)
    assert env.kinds("filing.returned")[0].payload["opinion"] == "请补充审计报告。"


def test_reply_from_a_stranger_is_recorded_but_not_answered(served: tuple[Env, Outbox]) -> None:
    env, box = served
    _, address = file_and_get_token(env)
    send(env, mail("stranger@elsewhere.example", address, "Re: 审核", "通过"))
    env.wait_for(lambda: len(env.kinds("intake.processed")) == 2)
    assert outcomes(env)[-1] == "refused"
    assert env.kinds("review.refused")[0].payload["code"] == "wrong-sender"
    assert delivered(env, box, "review-refused") == []


def test_status_counts_refused_and_unclear_replies_of_the_last_day(served: tuple[Env, Outbox], capsys) -> None:  # type: ignore[no-untyped-def]
    from chanquan.cli import main
    from chanquan.commands.serve import collect_status

    env, _ = served
    _, address = file_and_get_token(env)
    for text in ("好的", "同意吗？", "退回", "通过"):  # unclear, unclear-again, refused, decided
        send(env, mail(REVIEWER, address, "Re: 审核", text))
    env.wait_for(lambda: len(env.kinds("intake.processed")) == 5)
    assert outcomes(env) == ["filed", "unclear", "unclear-again", "refused", "decided"]
    env.service.stop()

    status = collect_status(env.data)
    assert (status["replies_refused_24h"], status["replies_unclear_24h"]) == (1, 2)
    tomorrow = collect_status(env.data, now=datetime.now(UTC) + timedelta(hours=25))
    assert (tomorrow["replies_refused_24h"], tomorrow["replies_unclear_24h"]) == (0, 0)
    assert main(["--data", str(env.data), "status"]) == 0
    assert "最近 24 小时的审核回复：未被记录 1 份，无法识别结论 2 份" in capsys.readouterr().out
