"""Reading events typed: `StoredEvent.body` parsed once, `body_as`, defaults for old events, and
kinds no longer declared, which stay listable everywhere code only lists events."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from ledger_support import Counter, UnitAdded

from chanquan.app import open_ledger
from chanquan.cli import main
from ledger import EventBody, StoredEvent, UnexpectedKindError, UnknownKindError, event_kind, events
from workflow.events import FilingReceived


@event_kind("test.retired")
class Retired(EventBody):
    """A kind a later version of the code no longer declares (the tests take it out of the registry)."""

    note: str


@event_kind("test.grown")
class Grown(EventBody):
    """A kind that gained a field after events of it were recorded."""

    name: str
    added_later: list[str] = []  # noqa: RUF012 (pydantic copies defaults)


def stored(kind: str, payload: str, seq: int = 1) -> StoredEvent:
    return StoredEvent(seq, datetime(2026, 1, 1, tzinfo=UTC), kind, "actor", "S", payload, b"\x00" * 32)


def test_body_is_parsed_once_typed_and_shared() -> None:
    event = stored("test.unit_added", '{"capital":"100.50","code":"U1","founded":"2020-01-02","name":"甲"}')
    body = event.body
    assert body is event.body  # parsed on the first access only
    assert isinstance(body, UnitAdded) and body.capital == Decimal("100.50") and body.founded == date(2020, 1, 2)
    assert event.body_as(UnitAdded) is body
    with pytest.raises(UnexpectedKindError) as info:
        event.body_as(Counter)
    assert (info.value.seq, info.value.kind, info.value.expected) == (1, "test.unit_added", "test.counter")
    # the payload dict, once parsed, is what the body is validated from: both read the same text
    other = stored("test.counter", '{"n":7}')
    assert other.payload == {"n": 7} and other.body_as(Counter).n == 7


def test_events_compare_and_hash_by_what_they_record_not_by_what_was_parsed() -> None:
    read, fresh = stored("test.counter", '{"n":1}'), stored("test.counter", '{"n":1}')
    _ = read.body, read.payload
    assert read == fresh and hash(read) == hash(fresh)


def test_old_events_read_with_the_defaults_of_fields_added_since() -> None:
    assert stored("test.grown", '{"name":"甲"}').body_as(Grown).added_later == []
    old = {
        "filing_id": "CQ2026-000001",
        "round": 1,
        "unit": "U",
        "filer": "U",
        "period": "2025-03-01",
        "channel": "dropbox",
        "reply_to": "",
        "registration": {"ent_name": "甲", "investors": [{"investor_name": "乙"}]},
        "workbook_blob": "ab",
        "attachment_blobs": [],
        "item_id": "IN1",
        "warnings": [],
    }  # a filing.received from before the filer's own names were kept
    received = stored(FilingReceived.kind, json.dumps(old, ensure_ascii=False)).body_as(FilingReceived)
    assert (received.original_name, received.workbook_name, received.attachment_names, received.message_id) == (
        "",
        "",
        [],
        "",
    )
    assert received.registration == old["registration"]


def test_a_payload_that_no_longer_fits_its_kind_is_refused_not_half_read() -> None:
    with pytest.raises(ValueError):
        _ = stored("test.counter", '{"n":1,"dropped_field":"x"}').body
    with pytest.raises(ValueError):
        _ = stored("test.counter", "{}").body


@pytest.fixture
def retired(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Code that no longer declares test.retired: what an old ledger meets after an upgrade."""
    monkeypatch.delitem(events._REGISTRY, "test.retired")
    yield


def test_an_undeclared_kind_is_listable_but_has_no_body(retired: None) -> None:
    event = stored("test.retired", '{"note":"旧"}')
    assert event.payload == {"note": "旧"}
    assert event.to_json_dict()["payload"] == {"note": "旧"}
    with pytest.raises(UnknownKindError):
        _ = event.body


def test_ledger_log_export_and_verify_list_an_undeclared_kind(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "data"
    assert main(["init", "--data", str(data)]) == 0
    with open_ledger(data) as ledger:
        ledger.append_many([(Retired(note="旧的事件"), "admin", "S1"), (Counter(n=1), "admin", "S1")])
    monkeypatch.delitem(events._REGISTRY, "test.retired")
    capsys.readouterr()
    assert main(["--data", str(data), "ledger", "log", "--json"]) == 0
    listed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(e["kind"], e["payload"]) for e in listed] == [
        ("test.retired", {"note": "旧的事件"}),
        ("test.counter", {"n": 1}),
    ]
    assert main(["--data", str(data), "ledger", "log"]) == 0
    assert "旧的事件" in capsys.readouterr().out
    out_file = tmp_path / "export.jsonl"
    assert main(["--data", str(data), "ledger", "export", str(out_file)]) == 0
    assert json.loads(out_file.read_text(encoding="utf-8").splitlines()[0])["kind"] == "test.retired"
    assert main(["--data", str(data), "ledger", "verify"]) == 0
