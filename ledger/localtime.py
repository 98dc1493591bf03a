"""Times a person reads: in the supervisor's zone, saying which zone that is.

The ledger keeps UTC, and machine output (`--json`, logs, payloads) stays UTC ISO. Whatever a
person reads — CLI lists, mails, 回执 texts, pages, documents — is in the zone of the supervising
body (setting `service.timezone`, default Asia/Shanghai) and names it (北京时间 for China's zone,
else the zone's own name), because a filer abroad or an auditor years later must not have to
guess. This is the one formatter every layer uses; it lives here because every layer may import
the ledger and the ledger imports nothing of ours.

The application names the zone once per process (`set_reader_zone`, from the setting); code that
gets no zone passed down (the portal's filters) uses that one.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEFAULT_ZONE = "Asia/Shanghai"
CHINA_ZONES = frozenset({"Asia/Shanghai", "Asia/Chongqing", "Asia/Chungking", "Asia/Harbin", "PRC"})

Style = Literal["minute", "second", "date", "zh"]
_FORMATS = {"minute": "%Y-%m-%d %H:%M", "second": "%Y-%m-%d %H:%M:%S", "date": "%Y-%m-%d"}

_process_zone = [DEFAULT_ZONE]


class UnknownZoneError(ValueError):
    """The configured zone does not exist; `message_zh` says which setting to fix."""

    def __init__(self, zone: str) -> None:
        self.zone = zone
        self.message_zh = f"时区“{zone}”不存在，请在 service.timezone 中填写如 Asia/Shanghai 的时区名。"
        super().__init__(self.message_zh)


@lru_cache(maxsize=64)
def zone_info(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise UnknownZoneError(name) from exc


def set_reader_zone(name: str) -> None:
    """The zone this process shows times in when none is passed (checked here, so a typo fails at start)."""
    zone_info(name)
    _process_zone[0] = name


def reader_zone() -> str:
    return _process_zone[0]


def zone_label(zone: str | None = None) -> str:
    """How a text names the zone its times are in: 北京时间 for China's, else e.g. “Europe/Berlin 时间”."""
    name = zone or reader_zone()
    return "北京时间" if name in CHINA_ZONES else f"{name} 时间"


def _moment(value: datetime | str | float | int) -> datetime | None:
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, int | float):
        moment = datetime.fromtimestamp(value, UTC)
    else:
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)  # naive: the ledger's UTC


def local_time(value: datetime | str | float | int, zone: str | None = None) -> datetime | None:
    """A ledger time (aware datetime, ISO text, or POSIX seconds; naive means UTC) in the reader's zone."""
    moment = _moment(value)
    return None if moment is None else moment.astimezone(zone_info(zone or reader_zone()))


def reader_time(
    value: datetime | str | float | int | None,
    zone: str | None = None,
    *,
    style: Style = "minute",
    label: bool = True,
) -> str:
    """A time as a person reads it: “2026-12-03 15:42（北京时间）”.

    `style`: minute (the default), second, date, or zh (“2026年12月3日 15:42”, for letters);
    `label=False` leaves the zone out where a heading already names it (a table column). No
    time gives ""; a text that is not a time is shown as it is.
    """
    if value is None or value == "":
        return ""
    local = local_time(value, zone)
    if local is None:
        return str(value)
    if style == "zh":
        text = f"{local.year}年{local.month}月{local.day}日 {local:%H:%M}"
    else:
        text = local.strftime(_FORMATS[style])
    return f"{text}（{zone_label(zone)}）" if label else text
