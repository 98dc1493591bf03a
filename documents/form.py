"""The 产权登记表 (registration form): platypus, flowing over as many pages as the investors need.

One `FormLayout` per rendering: the sections are built as flowables in the template's order,
every page gets the running header and the footer that says how to verify the paper, and
the closing block reserves the seal's place where the signer puts its stamp.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import BaseDocTemplate, CondPageBreak, Frame, PageTemplate, Paragraph, Spacer, Table, TableStyle

from documents.common import (
    RenderedDocument,
    chinese_date,
    missing_note,
    page_size,
    total,
    verify_sentence,
)
from documents.flowables import Column, GridTable, draw_qr
from documents.fonts import canvas_maker
from documents.labels import (
    BASIC_KEYS,
    DOCUMENT_KEYS,
    INVESTOR_KEYS,
    REGISTRATION_KEYS,
    column_label,
    display,
    field_rows,
    required_marks,
)
from documents.model import DocumentData
from documents.seal import SignatureBlock
from documents.templates import PrintTemplate
from documents.typeset import TextLines, Typesetter

LABEL_FILL = colors.Color(0.93, 0.94, 0.96)
GRID = colors.Color(0.35, 0.35, 0.35)
FOOT_SIZE = 7.5
CELL_PAD = 3.0
QR_SIZE = 24 * mm
NUMBERS = "一二三四五六七八九十"
KEEP_WITH_HEADING = 30 * mm  # a heading needs room for its table's header row and a couple of rows below it


def render_form(data: DocumentData, template: PrintTemplate, ts: Typesetter, *, with_note: bool) -> RenderedDocument:
    return FormLayout(data, template, ts).build(with_note=with_note)


class FormLayout:
    def __init__(self, data: DocumentData, template: PrintTemplate, ts: Typesetter) -> None:
        self.data = data
        self.template = template
        self.ts = ts
        self.size = template.font_size
        self.page_w, self.page_h = page_size(template)
        self.width: float = self.page_w - (template.margins_mm.left + template.margins_mm.right) * mm
        self.foot_lines = [
            line
            for text in (template.footer, verify_sentence(data, "首页"))
            if text
            for line in ts.wrap(text, FOOT_SIZE, self.width)
        ]
        self.body = ParagraphStyle("b", fontName=ts.font, fontSize=self.size, leading=self.size * 1.45)
        self.heading = ParagraphStyle(
            "h", fontName=ts.font, fontSize=self.size + 1.5, leading=(self.size + 1.5) * 1.6, spaceBefore=6
        )
        self._numbers = iter(NUMBERS)
        self._qr_box = (0.0, 0.0, 0.0, 0.0)

    def build(self, *, with_note: bool) -> RenderedDocument:
        buf = io.BytesIO()
        doc = self._document(buf)
        seal: dict[str, Any] = {}
        story = self._head()
        sections = {
            "registration": self._registration,
            "basic": self._basic,
            "investors": self._investors,
            "documents": self._documents,
            "reviews": self._reviews,
        }
        for section in self.template.parts:
            story += sections[section]()
        story.append(Spacer(1, 6 * mm))
        if with_note:
            story.append(Paragraph(self.ts.markup(missing_note(self.ts)), self.body))
        data = self.data
        closing = [f"登记机关：{data.authority}", f"批准日期：{chinese_date(data.approved_on)}"]
        story.append(SignatureBlock(closing, self.ts, self.size + 1, seal))
        doc.build(story, canvasmaker=canvas_maker(self.ts.font))
        return RenderedDocument(buf.getvalue(), seal["page"], seal["box"], doc.page, qr_box=self._qr_box)

    # ---------------------------------------------------------------- page frame

    def _document(self, buf: io.BytesIO) -> BaseDocTemplate:
        t = self.template
        doc = BaseDocTemplate(
            buf,
            pagesize=(self.page_w, self.page_h),
            leftMargin=t.margins_mm.left * mm,
            rightMargin=t.margins_mm.right * mm,
            topMargin=t.margins_mm.top * mm + 8,
            bottomMargin=t.margins_mm.bottom * mm + 12 + len(self.foot_lines) * (FOOT_SIZE + 2.5),
            title=f"{t.title} {self.data.enterprise_name}",
            author=self.data.authority,
            subject=self.data.verification_code,
            creator="chanquan",
            invariant=1,
            initialFontName=self.ts.font,  # else the page preamble selects Helvetica (see fonts.canvas_maker)
        )
        frame = Frame(doc.leftMargin, doc.bottomMargin, doc.width, doc.height, id="body", leftPadding=0, rightPadding=0)
        doc.addPageTemplates([PageTemplate(id="page", frames=[frame], onPage=self._on_page)])
        return doc

    def _on_page(self, canv: Any, doc: Any) -> None:
        """Running header (title, enterprise, number), footer (number, check code, how to verify), QR on page 1."""
        t, data, ts = self.template, self.data, self.ts
        canv.saveState()
        canv.setFont(ts.font, FOOT_SIZE)
        canv.setFillColor(colors.Color(0.3, 0.3, 0.3))
        top = self.page_h - t.margins_mm.top * mm
        left, right = doc.leftMargin, self.page_w - doc.rightMargin
        ts.draw(canv, left, top, f"{t.title}　{data.enterprise_name}")
        ts.draw(canv, right, top, f"登记编号：{data.cert_no}", align="right")
        bottom = t.margins_mm.bottom * mm + len(self.foot_lines) * (FOOT_SIZE + 2.5)
        ts.draw(canv, left, bottom, f"登记编号：{data.cert_no}　核验码：{data.check_code}")
        canv.drawRightString(right, bottom, f"第 {canv.getPageNumber()} 页")
        for n, line in enumerate(self.foot_lines, start=1):
            ts.draw(canv, left, bottom - n * (FOOT_SIZE + 2.5), line)
        if t.show_border:
            canv.setStrokeColor(colors.Color(0.6, 0.6, 0.6))
            canv.setLineWidth(0.5)
            canv.line(left, top - 3, right, top - 3)
            canv.line(left, bottom + 9, right, bottom + 9)
        if canv.getPageNumber() == 1:
            qr_y = self.page_h - doc.topMargin - QR_SIZE
            draw_qr(canv, data.qr_payload, right - QR_SIZE, qr_y, QR_SIZE)
            self._qr_box = (right - QR_SIZE, qr_y, right, qr_y + QR_SIZE)
            canv.setFont(ts.font, 6.5)
            ts.draw(canv, right - QR_SIZE / 2, qr_y - 5, "扫码核验真伪", align="center")
        canv.restoreState()

    # ---------------------------------------------------------------- sections

    def _heading(self, text: str) -> list[Any]:
        """A section's heading, on a new page when its table's header and first rows would not follow it."""
        return [
            CondPageBreak(KEEP_WITH_HEADING),
            Paragraph(self.ts.markup(f"{next(self._numbers)}、{text}"), self.heading),
        ]

    def _head(self) -> list[Any]:
        data, ts = self.data, self.ts
        title = ParagraphStyle(
            "title",
            fontName=ts.font,
            fontSize=self.template.title_size,
            leading=self.template.title_size * 1.4,
            alignment=TA_CENTER,
        )
        lines = [
            Paragraph(ts.markup(self.template.title), title),
            Paragraph(ts.markup(f"登记编号：{data.cert_no}　　{data.period_label}：{data.period}"), self.body),
            Paragraph(ts.markup(f"填报单位：{data.unit_name}（{data.unit_code}）"), self.body),
            Paragraph(
                ts.markup(
                    f"批准日期：{data.approved_on}　　打印日期：{data.issued_on}（{data.zone_label}）"
                    f"　　流水号：{data.filing_id}"
                ),
                self.body,
            ),
        ]
        room = QR_SIZE + 3 * mm
        table = Table([[lines, ""]], colWidths=[self.width - room, room], rowHeights=[room])
        table.setStyle(TableStyle([("FONTNAME", (0, 0), (-1, -1), ts.font), ("LEFTPADDING", (0, 0), (-1, -1), 0)]))
        return [table, Spacer(1, 2 * mm)]

    def _label_width(self) -> float:
        """One label column width for both field tables: the longest label on one line, within reason."""
        reg = self.data.registration
        labels = [label for label, _, _ in field_rows(reg, REGISTRATION_KEYS) + field_rows(reg, BASIC_KEYS)]
        widest = max((self.ts.width(label, self.size) for label in labels), default=0.0)
        return min(widest + 2 * CELL_PAD + 2, self.width * 0.3)

    def _registration(self) -> list[Any]:
        rows = field_rows(self.data.registration, REGISTRATION_KEYS)
        return [*self._heading("登记信息"), self._kv_table(rows)]

    def _basic(self) -> list[Any]:
        rows = field_rows(self.data.registration, BASIC_KEYS)
        return [*self._heading("企业基本信息"), self._kv_table(rows)]

    def _investors(self) -> list[Any]:
        investors = list(self.data.registration.get("investors") or [])
        weights = (3.2, 1.0, 1.6, 1.0, 1.0, 0.8)  # the code and amount columns keep their content's width
        aligns = ("left", "left", "left", "right", "right", "right")
        keeps = (False, True, False, True, True, True)
        columns = [Column("序号", 0.4, "center", keep=True)] + [
            Column(column_label("investors", key), weight, align, keep)
            for key, weight, align, keep in zip(INVESTOR_KEYS, weights, aligns, keeps, strict=True)
        ]
        rows = [[str(n), *(display(inv.get(key)) for key in INVESTOR_KEYS)] for n, inv in enumerate(investors, 1)]
        sums = [str(total([i.get(key) for i in investors])) for key in ("subscribed", "paid_in", "share_pct")]
        rows.append(["", "合计", "", "", *sums])
        heading = self._heading(f"出资人情况（共 {len(investors)} 名）")
        return [*heading, GridTable(columns, rows, self.ts, self.template.table_font_size)]

    def _documents(self) -> list[Any]:
        reg = self.data.registration
        marks = required_marks(reg)
        columns = [
            Column("序号", 0.4, "center", keep=True),
            Column(column_label("documents", "doc_kind"), 3.0),
            Column(column_label("documents", "required"), 0.8, "center", keep=True),
            Column(column_label("documents", "file_name"), 3.0),
            Column(column_label("documents", "note"), 2.0),
        ]
        rows = []
        for n, doc in enumerate(reg.get("documents") or [], start=1):
            kind = str(doc.get("doc_kind") or "")
            values = {**doc, "required": marks.get(kind, "否")}
            rows.append([str(n), *(display(values.get(key)) for key in DOCUMENT_KEYS)])
        return [*self._heading("合规性资料目录"), GridTable(columns, rows, self.ts, self.template.table_font_size)]

    def _reviews(self) -> list[Any]:
        columns = [
            Column("级次", 0.5, "center", keep=True),
            Column("审核单位", 2.6),
            Column("审核人", 1.4),
            Column("审核结果", 0.8, "center", keep=True),
            Column("审核意见", 2.8),
            Column("审核时间", 1.2, keep=True),
        ]
        rows = [
            [str(r.level), f"{r.unit_name}（{r.unit_code}）", r.reviewer, r.decision, r.opinion or "—", r.decided_at]
            for r in self.data.reviews
        ]
        heading = self._heading(f"审核记录（时间为{self.data.zone_label}）")
        return [*heading, GridTable(columns, rows, self.ts, self.template.table_font_size)]

    def _kv_table(self, pairs: Sequence[tuple[str, str, bool]]) -> Table:
        """Label/value pairs two to a row; wide values get a whole row. Values are pre-wrapped strings."""
        label_w = self._label_width()
        value_w = (self.width - 2 * label_w) / 2
        rows: list[list[str | TextLines]] = []
        spans: list[int] = []
        pending: list[str | TextLines] = []
        for label, value, wide in pairs:
            if wide:
                if pending:
                    rows.append([*pending, "", ""][:4])
                    pending = []
                spans.append(len(rows))
                rows.append([self._cell(label, label_w), self._cell(value, self.width - label_w), "", ""])
                continue
            pending += [self._cell(label, label_w), self._cell(value, value_w)]
            if len(pending) == 4:
                rows.append(pending)
                pending = []
        if pending:
            rows.append([*pending, "", ""][:4])
        table = Table(rows, colWidths=[label_w, value_w, label_w, value_w])
        table.setStyle(TableStyle(self._kv_style(spans)))
        return table

    def _kv_style(self, spans: Sequence[int]) -> list[tuple[Any, ...]]:
        size = self.size
        style: list[tuple[Any, ...]] = [
            ("FONTNAME", (0, 0), (-1, -1), self.ts.font),
            ("FONTSIZE", (0, 0), (-1, -1), size),
            ("LEADING", (0, 0), (-1, -1), size * 1.3),
            ("GRID", (0, 0), (-1, -1), 0.4, GRID),
            ("BACKGROUND", (0, 0), (0, -1), LABEL_FILL),
            ("BACKGROUND", (2, 0), (2, -1), LABEL_FILL),
            ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
            ("TOPPADDING", (0, 0), (-1, -1), 2.5),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
            ("LEFTPADDING", (0, 0), (-1, -1), CELL_PAD),
            ("RIGHTPADDING", (0, 0), (-1, -1), CELL_PAD),
        ]
        for row in spans:
            style += [("SPAN", (1, row), (3, row)), ("BACKGROUND", (1, row), (3, row), colors.white)]
        return style

    def _cell(self, text: str, column_width: float) -> str | TextLines:
        """A pre-wrapped string cell, or a flowable when the text needs another face than the primary."""
        lines = self.ts.wrap(text, self.size, column_width - 2 * CELL_PAD)
        if all(self.ts.fits_primary(line) for line in lines):
            return "\n".join(lines)
        return TextLines(self.ts, lines, self.size, self.size * 1.3)
