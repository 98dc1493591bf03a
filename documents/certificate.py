"""The 产权登记证 (certificate): one page, drawn on the canvas.

Title, the enterprise's facts as label and value lines, and at the foot the QR code with the
words that say how to verify on the left, the issuing authority and date with the seal's place
on the right.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from reportlab.lib import colors
from reportlab.lib.units import mm

from documents.common import RenderedDocument, chinese_date, missing_note, page_size, total, verify_sentence
from documents.flowables import draw_qr
from documents.fonts import canvas_maker
from documents.labels import display, label
from documents.model import DocumentData
from documents.seal import SEAL_RED, draw_signature
from documents.templates import PrintTemplate
from documents.typeset import Typesetter

QR_SIZE = 26 * mm
Box = tuple[float, float, float, float]
FOOT_SIZE = 7.5
FOOT_LEADING = 10.0
STATE_WORDS = ("国有", "国家", "国资")


def state_capital(registration: Mapping[str, Any]) -> tuple[Decimal, Decimal]:
    """The state-held subscribed capital and its share, from investors whose category is state-owned."""
    state = [
        inv
        for inv in registration.get("investors") or []
        if any(word in str(inv.get("investor_category", "")) for word in STATE_WORDS)
    ]
    return total([i.get("subscribed") for i in state]), total([i.get("share_pct") for i in state])


def certificate_rows(data: DocumentData, template: PrintTemplate) -> list[tuple[str, str]]:
    """The label/value lines of the template's sections, in its order."""
    reg = data.registration
    rows: list[tuple[str, str]] = []
    for section in template.parts:
        if section == "identity":
            rows.append(("企业名称", data.enterprise_name))
            rows += [(label(key), display(reg.get(key))) for key in ("uscc", "org_code", "ent_level")]
        elif section == "registration":
            situation = reg.get("reg_situation")
            kind = display(reg.get("reg_type")) + (f"（{situation}）" if situation else "")
            rows += [("登记类型", kind), ("登记日期", chinese_date(data.approved_on))]
            rows.append((data.period_label, chinese_date(data.period)))
        elif section == "capital":
            amount, share = state_capital(reg)
            currency = display(reg.get("currency")) if reg.get("currency") else "人民币"
            rows += [
                ("注册资本", f"{display(reg.get('reg_capital'))} 万元（{currency}）"),
                (label("state_relation"), display(reg.get("state_relation"))),
                ("国有资本", f"国有出资 {amount} 万元，占 {share}%"),
            ]
        elif section == "investors_summary":
            rows.append(("主要出资人", _investor_summary(reg)))
    return rows


def _investor_summary(registration: Mapping[str, Any]) -> str:
    investors = list(registration.get("investors") or [])
    top_five = sorted(investors, key=lambda i: total([i.get("share_pct")]), reverse=True)[:5]
    summary = "；".join(f"{i.get('investor_name')} {display(i.get('share_pct'))}%" for i in top_five)
    if len(investors) > 5:
        summary += f"；等共 {len(investors)} 名出资人"
    return summary or "—"


def render_certificate(data: DocumentData, template: PrintTemplate, ts: Typesetter) -> RenderedDocument:
    return CertificateLayout(data, template, ts).build()


class CertificateLayout:
    def __init__(self, data: DocumentData, template: PrintTemplate, ts: Typesetter) -> None:
        self.data = data
        self.template = template
        self.ts = ts
        self.page_w, self.page_h = page_size(template)
        margins = template.margins_mm
        self.left: float = margins.left * mm
        self.right: float = self.page_w - margins.right * mm
        self.top: float = self.page_h - margins.top * mm
        self.bottom: float = margins.bottom * mm

    def build(self) -> RenderedDocument:
        buf = io.BytesIO()
        canv = canvas_maker(self.ts.font)(buf, pagesize=(self.page_w, self.page_h), invariant=1)
        canv.setTitle(f"{self.template.title} {self.data.enterprise_name}")
        canv.setAuthor(self.data.authority)
        canv.setSubject(self.data.verification_code)
        canv.setCreator("chanquan")
        if self.template.show_border:
            self._border(canv)
        y = self._title(canv)
        note_y = self._rows(canv, y)
        box, qr_box = self._foot(canv)
        if self.ts.missing:  # drawn last, when every other string has been through the typesetter
            self._missing_note(canv, note_y)
        canv.showPage()
        canv.save()
        return RenderedDocument(buf.getvalue(), 0, box, 1, qr_box=qr_box)

    def _border(self, canv: Any) -> None:
        canv.setStrokeColor(SEAL_RED)
        canv.setLineWidth(2.2)
        width, height = self.right - self.left, self.top - self.bottom
        canv.rect(self.left - 8, self.bottom - 8, width + 16, height + 16)
        canv.setLineWidth(0.6)
        canv.rect(self.left - 4, self.bottom - 4, width + 8, height + 8)

    def _title(self, canv: Any) -> float:
        size, title_size = self.template.font_size, self.template.title_size
        canv.setFillColor(colors.black)
        canv.setFont(self.ts.font, size)
        self.ts.draw(canv, self.right - 6, self.top - size - 4, f"登记编号：{self.data.cert_no}", align="right")
        canv.setFont(self.ts.font, title_size)
        y = self.top - size - 16 - title_size * 1.4
        self.ts.draw(canv, self.page_w / 2, y, self.template.title, align="center")
        return y - title_size * 1.8

    def _rows(self, canv: Any, y: float) -> float:
        """The label/value lines from `y` down; labels in one column as wide as the longest; returns the end."""
        size, ts = self.template.font_size, self.ts
        rows = certificate_rows(self.data, self.template)
        label_x = self.left + 18 * mm
        value_x = label_x + max(ts.width(f"{name}：", size) for name, _ in rows) + 4 * mm
        value_w = self.right - 12 * mm - value_x
        leading = size * 1.55
        text = canv.beginText()
        text.setFont(ts.font, size, leading)
        for name, value in rows:
            text.setTextOrigin(label_x, y)
            ts.text_out(text, f"{name}：")
            lines = ts.wrap(value, size, value_w)
            for n, line in enumerate(lines):
                text.setTextOrigin(value_x, y - n * leading)
                ts.text_out(text, line)
            y -= len(lines) * leading + size * 0.9
        canv.drawText(text)
        return y

    def _foot(self, canv: Any) -> tuple[Box, Box]:
        """QR code and how to verify at the lower left; authority, date and the seal's place at the lower right."""
        data, ts = self.data, self.ts
        x = self.left + 6
        texts = (self.template.footer, verify_sentence(data, "左下角"), f"证书上的日期为{data.zone_label}。")
        lines = [line for text in texts if text for line in ts.wrap(text, FOOT_SIZE, self.right - 8 - x)]
        canv.setFont(ts.font, FOOT_SIZE)
        canv.setFillColor(colors.Color(0.3, 0.3, 0.3))
        y = self.bottom + 6
        for line in reversed(lines):
            ts.draw(canv, x, y, line)
            y += FOOT_LEADING
        ts.draw(canv, x, y, f"登记编号：{data.cert_no}　核验码：{data.check_code}")
        y += FOOT_LEADING + 2
        draw_qr(canv, data.qr_payload, x, y + 8, QR_SIZE)
        qr_box = (x, y + 8, x + QR_SIZE, y + 8 + QR_SIZE)
        canv.setFont(ts.font, 6.5)
        ts.draw(canv, x + QR_SIZE / 2, y + 2, "扫码核验真伪", align="center")
        lines_right = [f"发证机关：{data.authority}", f"发证日期：{chinese_date(data.issued_on)}"]
        return draw_signature(canv, ts, (self.right - 8, y), lines_right, self.template.font_size), qr_box

    def _missing_note(self, canv: Any, y: float) -> None:
        canv.setFont(self.ts.font, 8)
        canv.setFillColor(SEAL_RED)
        label_x = self.left + 18 * mm
        for n, line in enumerate(self.ts.wrap(missing_note(self.ts), 8, self.right - 12 * mm - label_x)):
            self.ts.draw(canv, label_x, y - 4 - n * 11, line)
