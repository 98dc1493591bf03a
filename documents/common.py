"""What the form and the certificate share: the result type, page size, sums, dates, the verification sentence."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from reportlab.lib.pagesizes import A4, landscape

from documents.model import DocumentData
from documents.templates import PrintTemplate
from documents.typeset import Typesetter


@dataclass(frozen=True)
class RenderedDocument:
    pdf: bytes
    seal_page: int
    seal_box: tuple[float, float, float, float]
    page_count: int
    missing_chars: tuple[str, ...] = field(default=())  # `U+XXXX` drawn as placeholders (no face has them)
    qr_box: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)  # where the QR code is, on the first page


def page_size(template: PrintTemplate) -> tuple[float, float]:
    width, height = landscape(A4) if template.landscape else A4
    return float(width), float(height)


def total(values: Sequence[Any]) -> Decimal:
    """The sum of the values that are numbers (amounts are decimal strings; a blank one is skipped)."""
    result = Decimal(0)
    for value in values:
        try:
            result += Decimal(str(value))
        except (InvalidOperation, ValueError):
            continue
    return result


def chinese_date(iso: str) -> str:
    """2026-12-03 -> 2026年12月3日, as a seal's date is written; anything else as it is."""
    try:
        day = dt.date.fromisoformat(iso[:10])
    except ValueError:
        return iso
    return f"{day.year}年{day.month}月{day.day}日"


def verify_sentence(data: DocumentData, where_qr: str) -> str:
    """How a reader checks the paper, in words: the QR code, or the verification page with number and code."""
    return f"核验真伪：用手机扫描{where_qr}二维码，或打开核验页面 {data.verify_page} ，输入上面的登记编号和核验码。"


def missing_note(ts: Typesetter) -> str:
    """The sentence a document with placeholders carries, naming the characters."""
    return (
        f"注：本文件所用字体中没有以下字符，文中以“〓U+码位〓”标示：{'、'.join(ts.missing_chars)}。"
        "其内容以账本中的签发记录为准。"
    )
