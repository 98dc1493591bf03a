"""The one formatter of times people read: the supervisor's zone, named."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from ledger import localtime
from ledger.localtime import UnknownZoneError, reader_time, set_reader_zone, zone_label

MOMENT = datetime(2026, 12, 3, 7, 42, 5, tzinfo=UTC)


@pytest.fixture(autouse=True)
def default_zone() -> Iterator[None]:
    yield
    set_reader_zone(localtime.DEFAULT_ZONE)


def test_times_are_in_beijing_by_default_and_say_so() -> None:
    assert reader_time(MOMENT) == "2026-12-03 15:42（北京时间）"
    assert reader_time("2026-12-03T07:42:05+00:00", style="second") == "2026-12-03 15:42:05（北京时间）"
    assert reader_time("2026-12-03T07:42:05", label=False) == "2026-12-03 15:42"  # naive: the ledger's UTC
    assert reader_time(MOMENT.timestamp(), style="zh") == "2026年12月3日 15:42（北京时间）"
    assert reader_time(MOMENT, style="date") == "2026-12-03（北京时间）"
    assert reader_time(None) == "" and reader_time("") == "" and reader_time("不是时间") == "不是时间"


def test_another_zone_is_named_by_its_name() -> None:
    assert reader_time(MOMENT, "Europe/Berlin") == "2026-12-03 08:42（Europe/Berlin 时间）"
    set_reader_zone("America/New_York")
    assert reader_time(MOMENT) == "2026-12-03 02:42（America/New_York 时间）"
    assert zone_label() == "America/New_York 时间" and zone_label("Asia/Chongqing") == "北京时间"


def test_an_unknown_zone_is_refused_with_the_setting_to_fix() -> None:
    with pytest.raises(UnknownZoneError, match=r"service\.timezone"):
        set_reader_zone("Asia/Chongqin")
    assert localtime.reader_zone() == localtime.DEFAULT_ZONE
