"""Findings: what a check says about a filing, as plain values rules yield (contract 2)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import Any, Literal

Severity = Literal["error", "warning"]
ERROR: Severity = "error"
WARNING: Severity = "warning"


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem at one place. `message` is Chinese and names the sheet and cell itself."""

    code: str
    severity: Severity
    sheet: str
    cell: str
    field: str
    value: str
    message: str

    @property
    def is_error(self) -> bool:
        return self.severity == ERROR

    def as_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Finding:
        return cls(
            code=str(data["code"]),
            severity=ERROR if data.get("severity") == ERROR else WARNING,
            sheet=str(data.get("sheet", "")),
            cell=str(data.get("cell", "")),
            field=str(data.get("field", "")),
            value=str(data.get("value", "")),
            message=str(data.get("message", "")),
        )


def where(sheet: str, cell: str) -> str:
    """The location phrase every message starts with, e.g. “基本信息”工作表 B5 单元格."""
    if sheet and cell:
        return f"“{sheet}”工作表 {cell} 单元格"
    if sheet:
        return f"“{sheet}”工作表"
    return "工作簿"


def display_value(value: object) -> str:
    """The offending value as text for findings: Decimal without exponent, dates ISO, None empty."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if hasattr(value, "isoformat"):
        return str(value.isoformat())
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


_KB = 1024
_MB = 1024 * 1024


def human_size(size: int, *, limit: int | None = None) -> str:
    """A file size as a person writes it: “2.3 MB”, “512 KB”, “800 字节”.

    Megabytes with one decimal at most and no trailing “.0”, kilobytes whole. With `limit`, a size
    above the limit never reads as the limit itself (2 MB and one byte is “2.1 MB”, not “2 MB，超过
    2 MB”), so a refusal never looks self-contradictory.
    """
    if size < _KB:
        return f"{size} 字节"
    kilobytes = (size + _KB // 2) // _KB
    if kilobytes < _KB:
        if limit is not None and size > limit and kilobytes * _KB <= limit:
            kilobytes = limit // _KB + 1
        return f"{kilobytes} KB"
    tenths = (size * 10 + _MB // 2) // _MB
    if limit is not None and size > limit and tenths * _MB <= limit * 10:
        tenths = limit * 10 // _MB + 1
    whole, tenth = divmod(tenths, 10)
    return f"{whole}.{tenth} MB" if tenth else f"{whole} MB"
