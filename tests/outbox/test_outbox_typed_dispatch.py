"""The dispatcher reads events typed: its tables are keyed by class, it parses only what it acts on,
and it passes over kinds it has nothing to do with, including kinds no longer declared at all."""

from __future__ import annotations

from pathlib import Path

import pytest
from outbox_testing import FakeDirectory

import intake.events
from ledger import EventBody, Ledger, StoredEvent, event_kind, events, registered_kinds
from outbox import Outbox, OutboxConfig
from outbox.builders import BUILDERS, FOREIGN_BUILDERS, builder_for
from outbox.dispatch import CLOSING_EVENTS
from outbox.events import MailSent
from outbox.foreign_kinds import CONFIRMATION_REQUESTED, INTAKE_REJECTED, REVIEW_UNCLEAR
from outbox.ports import UnitInfo
from workflow.events import AccountCreated, AccountPasswordChanged, UnitAdded


@event_kind("test.outbox_retired")
class RetiredNotice(EventBody):
    """A kind the outbox once answered, from a ledger older than the code reading it."""

    filing_id: str


def test_builders_are_keyed_by_declared_classes_and_intake_kinds_by_their_names() -> None:
    declared = registered_kinds()
    assert all(declared[cls.kind] is cls for cls in BUILDERS)
    assert set(FOREIGN_BUILDERS) == {INTAKE_REJECTED, REVIEW_UNCLEAR, CONFIRMATION_REQUESTED}
    assert all(declared[name].__module__ == intake.events.__name__ for name in FOREIGN_BUILDERS)
    rejected = intake.events.IntakeRejected(item_id="I", channel="smtp", reply_to="", filer="", code="c", message="m")
    assert builder_for(rejected) is FOREIGN_BUILDERS[INTAKE_REJECTED]
    assert (
        builder_for(MailSent(message_id="<m>", recipient="", purpose="", filing_id="", attempt=1, outcome="")) is None
    )
    assert {cls.kind for cls in CLOSING_EVENTS} == {
        "review.decided",
        "filing.returned",
        "filing.approved",
        "filing.withdrawn",
        "filing.invalid",
    }


def test_events_it_does_not_act_on_are_passed_over_unparsed(
    tmp_path: Path, ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    unit = UnitInfo("U1", "重庆测试有限公司", "", 1, ["filer@u1.test"], [], username="U1")
    mail = MailSent(message_id="<m1@x>", recipient="a@x", purpose="receipt", filing_id="F1", attempt=1, outcome="ok")
    ledger.append_many(
        [
            (RetiredNotice(filing_id="CQ2020-000001"), "chanquan", "CQ2020-000001"),
            (UnitAdded(code="U1", name="重庆测试有限公司", parent="", level=1, username="U1"), "admin", "U1"),
            (AccountCreated(username="U1", unit="U1"), "admin", "U1"),
            (mail, "outbox", mail.message_id),
            (AccountPasswordChanged(username="U1"), "U1", "U1"),
        ]
    )
    monkeypatch.delitem(events._REGISTRY, RetiredNotice.kind)  # the code of today no longer declares it
    read: list[StoredEvent] = []
    original = ledger.events

    def recording(*args: object, **kwargs: object) -> object:
        for event in original(*args, **kwargs):  # type: ignore[arg-type]
            read.append(event)
            yield event

    monkeypatch.setattr(ledger, "events", recording)
    box = Outbox(
        ledger, None, tmp_path / "outbox", OutboxConfig(mail_domain="chanquan.test"), directory=FakeDirectory([unit])
    )
    try:
        report = box.dispatcher.dispatch_pending()
        assert box.cursor() == 5
    finally:
        box.close()
    assert (report.events, report.queued) == (5, 1)  # the password-change notice alone
    parsed = {event.kind for event in read if event._body is not None or event._payload is not None}
    assert parsed == {AccountPasswordChanged.kind}
