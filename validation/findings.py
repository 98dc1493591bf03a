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
