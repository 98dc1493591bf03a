"""Renders a 产权登记表 (platypus, flowing over pages) or a 产权登记证 (one page, drawn).

Both return the PDF bytes and where the seal area landed, so that the signer can put
its visible stamp exactly there. Every string goes through one `Typesetter` per document
(the primary CJK face, fallback faces for what it lacks, a visible placeholder for what no
face has); a document with placeholders also says so in a note, and reports them in
`missing_chars` for the issuance record.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal, InvalidOperation
from typing import Any

from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import BaseDocTemplate, Frame, PageTemplate, Paragraph, Spacer, Table, TableStyle

from documents.flowables import Column, GridTable, SealBox, draw_qr
from documents.fonts import DEFAULT_FALLBACK_FONT_FILES, DEFAULT_FONT_FILE, canvas_maker, font_chain
from documents.labels import (
    BASIC_FIELDS,
    DOCUMENT_COLUMNS,
    INVESTOR_COLUMNS,
    REGISTRATION_FIELDS,
    WIDE_FIELDS,
    display,
    label_for,
)
from documents.model import DocumentData
from documents.templates import CERTIFICATE, FORM, PrintTemplate
from documents.typeset import TextLines, Typesetter

SEAL_RED = colors.Color(0.78, 0.08, 0.08)
LABEL_FILL = colors.Color(0.93, 0.94, 0.96)
SEAL_SIZE = 42 * mm


@dataclass(frozen=True)
class RenderedDocument:
    pdf: bytes
    seal_page: int
    seal_box: tuple[float, float, float, float]
    page_count: int
    missing_chars: tuple[str, ...] = field(default=())  # `U+XXXX` drawn as placeholders (no face has them)


def render(
    data: DocumentData,
    template: PrintTemplate,
    font_file: str = DEFAULT_FONT_FILE,
    fallback_font_files: Sequence[str] = DEFAULT_FALLBACK_FONT_FILES,
) -> RenderedDocument:
    """Dispatches on the document type; the template must be one of that type."""
    if template.doc_type != data.doc_type:
        raise ValueError(f"template {template.name!r} is a {template.doc_type}, not a {data.doc_type}")
    ts = Typesetter(font_chain(font_file, fallback_font_files))
    if data.doc_type == FORM:
        rendered = _render_form(data, template, ts, with_note=False)
        if ts.missing:  # known only once laid out: lay out again, now with the note saying so
            rendered = _render_form(data, template, ts, with_note=True)
        return replace(rendered, missing_chars=ts.missing_chars)
    if data.doc_type == CERTIFICATE:
        return replace(_render_certificate(data, template, ts), missing_chars=ts.missing_chars)
    raise ValueError(f"unknown document type {data.doc_type!r}")


def missing_note(ts: Typesetter) -> str:
    """The sentence a document with placeholders carries, naming the characters."""
    return (
        f"注：本文件所用字体中没有以下字符，文中以“〓U+码位〓”标示：{'、'.join(ts.missing_chars)}。"
        "其内容以账本中的签发记录为准。"
    )


# ---------------------------------------------------------------- 产权登记表


def _page_size(template: PrintTemplate) -> tuple[float, float]:
    return landscape(A4) if template.landscape else A4


def _cell(ts: Typesetter, text: str, size: float, width: float) -> str | TextLines:
    """A pre-wrapped string cell, or a flowable when the text needs another face than the primary."""
    lines = ts.wrap(text, size, width)
    if all(ts.fits_primary(line) for line in lines):
        return "\n".join(lines)
    return TextLines(ts, lines, size, size * 1.3)


def _kv_table(pairs: Sequence[tuple[str, str, bool]], width: float, ts: Typesetter, size: float) -> Table:
    """Label/value pairs two to a row; wide values get a whole row. Values are pre-wrapped strings."""
    font = ts.font
    label_w = width * 0.17
    value_w = width * 0.33
    wide_value_w = width - label_w
    rows: list[list[str | TextLines]] = []
    spans: list[tuple[int, int]] = []
    pending: list[str | TextLines] = []

    def flush() -> None:
        if pending:
            rows.append([*pending, "", ""][:4])
            pending.clear()

    for label, value, wide in pairs:
        if wide:
            flush()
            spans.append((len(rows), 1))
            rows.append([_cell(ts, label, size, label_w - 6), _cell(ts, value, size, wide_value_w - 6), "", ""])
            continue
        pending.extend([_cell(ts, label, size, label_w - 6), _cell(ts, value, size, value_w - 6)])
        if len(pending) == 4:
            flush()
    flush()
    style = [
        ("FONTNAME", (0, 0), (-1, -1), font),
        ("FONTSIZE", (0, 0), (-1, -1), size),
        ("LEADING", (0, 0), (-1, -1), size * 1.3),
        ("GRID", (0, 0), (-1, -1), 0.4, colors.Color(0.35, 0.35, 0.35)),
        ("BACKGROUND", (0, 0), (0, -1), LABEL_FILL),
        ("BACKGROUND", (2, 0), (2, -1), LABEL_FILL),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("TOPPADDING", (0, 0), (-1, -1), 2.5),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
    ]
    for row, _ in spans:
        style.append(("SPAN", (1, row), (3, row)))
        style.append(("BACKGROUND", (1, row), (3, row), colors.white))
    table = Table(rows, colWidths=[label_w, value_w, label_w, value_w])
    table.setStyle(TableStyle(style))
    return table


def _field_pairs(registration: Mapping[str, Any], fields: Sequence[tuple[str, str]]) -> list[tuple[str, str, bool]]:
    return [(label_for(key, label), display(registration.get(key)), key in WIDE_FIELDS) for key, label in fields]


def _investor_rows(registration: Mapping[str, Any]) -> list[list[str]]:
    rows = []
    for n, inv in enumerate(registration.get("investors") or [], start=1):
        rows.append([str(n), *(display(inv.get(key)) if key else "" for key, _ in INVESTOR_COLUMNS)])
    return rows


def _sum(values: Sequence[Any]) -> Decimal:
    total = Decimal(0)
    for value in values:
        try:
            total += Decimal(str(value))
        except (InvalidOperation, ValueError):
            continue
    return total


def _render_form(data: DocumentData, template: PrintTemplate, ts: Typesetter, *, with_note: bool) -> RenderedDocument:
    font = ts.font
    buf = io.BytesIO()
    page_w, page_h = _page_size(template)
    seal: dict[str, Any] = {}
    size = template.font_size
    doc = BaseDocTemplate(
        buf,
        pagesize=(page_w, page_h),
        leftMargin=template.margin_left_mm * mm,
        rightMargin=template.margin_right_mm * mm,
        topMargin=template.margin_top_mm * mm + 8,
        bottomMargin=template.margin_bottom_mm * mm + 10,
        title=f"{template.title} {data.enterprise_name}",
        author=data.authority,
        subject=data.verification_code,
        creator="chanquan",
        invariant=1,
        initialFontName=font,  # else the page preamble selects Helvetica (see fonts.canvas_maker)
    )
    width = doc.width
    frame = Frame(doc.leftMargin, doc.bottomMargin, doc.width, doc.height, id="body", leftPadding=0, rightPadding=0)

    def on_page(canv: Any, _doc: Any) -> None:
        canv.saveState()
        canv.setFont(font, 7.5)
        canv.setFillColor(colors.Color(0.3, 0.3, 0.3))
        top = page_h - template.margin_top_mm * mm
        left = doc.leftMargin
        right = page_w - doc.rightMargin
        ts.draw(canv, left, top, f"{template.title}　{data.enterprise_name}")
        ts.draw(canv, right, top, f"编号：{data.cert_no}", align="right")
        bottom = template.margin_bottom_mm * mm
        ts.draw(canv, left, bottom, f"核验码：{data.verification_code}")
        canv.drawRightString(right, bottom, f"第 {canv.getPageNumber()} 页")
        if template.footer:
            ts.draw(canv, left, bottom - 10, template.footer)
        if template.show_border:
            canv.setStrokeColor(colors.Color(0.6, 0.6, 0.6))
            canv.setLineWidth(0.5)
            canv.line(left, top - 3, right, top - 3)
            canv.line(left, bottom + 9, right, bottom + 9)
        if canv.getPageNumber() == 1:
            qr = 24 * mm
            draw_qr(canv, data.qr_payload, right - qr, page_h - doc.topMargin - qr, qr)
        canv.restoreState()

    doc.addPageTemplates([PageTemplate(id="page", frames=[frame], onPage=on_page)])
    title_style = ParagraphStyle(
        "title", fontName=font, fontSize=template.title_size, leading=template.title_size * 1.4, alignment=TA_CENTER
    )
    heading = ParagraphStyle("h", fontName=font, fontSize=size + 1.5, leading=(size + 1.5) * 1.6, spaceBefore=6)
    body = ParagraphStyle("b", fontName=font, fontSize=size, leading=size * 1.45)
    reg = data.registration
    qr_room = 27 * mm
    head = [
        Paragraph(ts.markup(template.title), title_style),
        Paragraph(ts.markup(f"编号：{data.cert_no}　　数据时点：{data.period}"), body),
        Paragraph(ts.markup(f"填报单位：{data.unit_name}（{data.unit_code}）"), body),
        Paragraph(
            ts.markup(f"批准日期：{data.approved_on}　　打印日期：{data.issued_on}　　流水号：{data.filing_id}"), body
        ),
    ]
    head_table = Table([[head, ""]], colWidths=[width - qr_room, qr_room], rowHeights=[qr_room])
    head_table.setStyle(TableStyle([("FONTNAME", (0, 0), (-1, -1), font), ("LEFTPADDING", (0, 0), (-1, -1), 0)]))
    story: list[Any] = [head_table, Spacer(1, 2 * mm)]
    number = iter("一二三四五六七八九十")
    for section in template.sections:
        if section == "registration":
            story.append(Paragraph(f"{next(number)}、登记信息", heading))
            story.append(_kv_table(_field_pairs(reg, REGISTRATION_FIELDS), width, ts, size))
        elif section == "basic":
            story.append(Paragraph(f"{next(number)}、企业基本信息", heading))
            story.append(_kv_table(_field_pairs(reg, BASIC_FIELDS), width, ts, size))
        elif section == "investors":
            investors = list(reg.get("investors") or [])
            story.append(Paragraph(f"{next(number)}、出资人情况（共 {len(investors)} 名）", heading))
            columns = [Column("序号", 0.5, "center")] + [
                Column(label_for(f"investors.{key}", label), weight, align)
                for (key, label), weight, align in zip(
                    INVESTOR_COLUMNS,
                    (3.4, 1.5, 1.8, 1.0, 1.0, 0.8),
                    ("left", "left", "left", "right", "right", "right"),
                    strict=True,
                )
            ]
            rows = _investor_rows(reg)
            rows.append(
                [
                    "",
                    "合计",
                    "",
                    "",
                    str(_sum([i.get("subscribed") for i in investors])),
                    str(_sum([i.get("paid_in") for i in investors])),
                    str(_sum([i.get("share_pct") for i in investors])),
                ]
            )
            story.append(GridTable(columns, rows, ts, template.table_font_size))
        elif section == "documents":
            docs = list(reg.get("documents") or [])
            story.append(Paragraph(f"{next(number)}、合规性资料目录", heading))
            columns = [Column("序号", 0.5, "center")] + [
                Column(label, weight, "left")
                for (_key, label), weight in zip(DOCUMENT_COLUMNS, (3.0, 0.8, 3.0, 2.0), strict=True)
            ]
            rows = [[str(n), *(display(d.get(key)) for key, _ in DOCUMENT_COLUMNS)] for n, d in enumerate(docs, 1)]
            story.append(GridTable(columns, rows, ts, template.table_font_size))
        elif section == "reviews":
            story.append(Paragraph(f"{next(number)}、审核记录", heading))
            columns = [
                Column("级次", 0.5, "center"),
                Column("审核单位", 2.3),
                Column("审核人", 2.5),
                Column("审核结果", 0.8, "center"),
                Column("审核意见", 2.6),
                Column("审核日期", 1.2),
            ]
            rows = [
                [
                    str(r.level),
                    f"{r.unit_name}（{r.unit_code}）",
                    r.reviewer,
                    r.decision,
                    r.opinion or "—",
                    r.decided_at,
                ]
                for r in data.reviews
            ]
            story.append(GridTable(columns, rows, ts, template.table_font_size))
    story.append(Spacer(1, 6 * mm))
    story.append(Paragraph(ts.markup(f"登记机关：{data.authority}　　核验码：{data.verification_code}"), body))
    if with_note:
        story.append(Paragraph(ts.markup(missing_note(ts)), body))
    story.append(Spacer(1, 3 * mm))
    story.append(SealBox(SEAL_SIZE * 1.6, SEAL_SIZE * 0.8, "电子签章", font, seal))
    doc.build(story, canvasmaker=canvas_maker(font))
    return RenderedDocument(buf.getvalue(), seal["page"], seal["box"], doc.page)


# ---------------------------------------------------------------- 产权登记证


def _state_capital(registration: Mapping[str, Any]) -> tuple[Decimal, Decimal]:
    """The state-held subscribed capital and its share, from investors whose category is state-owned."""
    state = [
        inv
        for inv in registration.get("investors") or []
        if any(word in str(inv.get("investor_category", "")) for word in ("国有", "国家", "国资"))
    ]
    return _sum([i.get("subscribed") for i in state]), _sum([i.get("share_pct") for i in state])


def _render_certificate(data: DocumentData, template: PrintTemplate, ts: Typesetter) -> RenderedDocument:
    from reportlab.pdfgen.canvas import Canvas

    font = ts.font
    buf = io.BytesIO()
    page_w, page_h = _page_size(template)
    canv: Canvas = canvas_maker(font)(buf, pagesize=(page_w, page_h), invariant=1)
    canv.setTitle(f"{template.title} {data.enterprise_name}")
    canv.setAuthor(data.authority)
    canv.setSubject(data.verification_code)
    canv.setCreator("chanquan")
    left = template.margin_left_mm * mm
    right = page_w - template.margin_right_mm * mm
    top = page_h - template.margin_top_mm * mm
    bottom = template.margin_bottom_mm * mm
    size = template.font_size
    if template.show_border:
        canv.setStrokeColor(SEAL_RED)
        canv.setLineWidth(2.2)
        canv.rect(left - 8, bottom - 8, right - left + 16, top - bottom + 16)
        canv.setLineWidth(0.6)
        canv.rect(left - 4, bottom - 4, right - left + 8, top - bottom + 8)
    canv.setFillColor(colors.black)
    canv.setFont(font, size)
    ts.draw(canv, right - 6, top - size - 4, f"证书编号：{data.cert_no}", align="right")
    canv.setFont(font, template.title_size)
    y = top - size - 16 - template.title_size * 1.4
    ts.draw(canv, page_w / 2, y, template.title, align="center")
    y -= template.title_size * 1.8
    reg = data.registration
    capital = display(reg.get("reg_capital"))
    state_amount, state_share = _state_capital(reg)
    currency = display(reg.get("currency")) if reg.get("currency") else "人民币"
    rows: list[tuple[str, str]] = []
    for section in template.sections:
        if section == "identity":
            rows += [
                ("企业名称", data.enterprise_name),
                ("统一社会信用代码", display(reg.get("uscc"))),
                ("组织机构代码", display(reg.get("org_code"))),
                ("企业级次", display(reg.get("ent_level"))),
            ]
        elif section == "registration":
            situation = reg.get("reg_situation")
            kind = display(reg.get("reg_type")) + (f"（{situation}）" if situation else "")
            rows += [("登记类型", kind), ("登记日期", data.approved_on), ("数据时点", data.period)]
        elif section == "capital":
            rows += [
                ("注册资本", f"{capital} 万元（{currency}）"),
                ("与国家出资企业关系", display(reg.get("state_relation"))),
                ("国有资本", f"国有出资 {state_amount} 万元，占 {state_share}%"),
            ]
        elif section == "investors_summary":
            investors = list(reg.get("investors") or [])
            top_five = sorted(investors, key=lambda i: _sum([i.get("share_pct")]), reverse=True)[:5]
            summary = "；".join(f"{i.get('investor_name')} {display(i.get('share_pct'))}%" for i in top_five)
            if len(investors) > 5:
                summary += f"；等共 {len(investors)} 名出资人"
            rows.append(("主要出资人", summary or "—"))
    label_x = left + 18 * mm
    value_x = label_x + 40 * mm
    value_w = right - 12 * mm - value_x
    leading = size * 1.55
    text = canv.beginText()
    text.setFont(font, size, leading)
    for label, value in rows:
        text.setTextOrigin(label_x, y)
        ts.text_out(text, f"{label}：")
        lines = ts.wrap(value, size, value_w)
        for n, line in enumerate(lines):
            text.setTextOrigin(value_x, y - n * leading)
            ts.text_out(text, line)
        y -= len(lines) * leading + size * 0.9
    canv.drawText(text)
    note_y = y
    # authority, date and the seal area at the lower right; QR and verification code at the lower left
    qr = 26 * mm
    foot_y = bottom + 14
    canv.setFont(font, 7.5)
    canv.setFillColor(colors.Color(0.3, 0.3, 0.3))
    ts.draw(canv, left + 6, foot_y, f"核验码：{data.verification_code}")
    if template.footer:
        ts.draw(canv, left + 6, foot_y - 10, template.footer)
    draw_qr(canv, data.qr_payload, left + 6, foot_y + 10, qr)
    seal_x = right - 12 - SEAL_SIZE * 1.5
    seal_y = foot_y + 10
    canv.setFillColor(colors.black)
    canv.setFont(font, size)
    ts.draw(canv, seal_x - 30 * mm, seal_y + SEAL_SIZE + 26, f"发证机关：{data.authority}")
    ts.draw(canv, seal_x - 30 * mm, seal_y + SEAL_SIZE + 10, f"发证日期：{data.issued_on}")
    seal_box = (seal_x, seal_y, seal_x + SEAL_SIZE * 1.5, seal_y + SEAL_SIZE)
    canv.setStrokeColor(SEAL_RED)
    canv.setDash(2, 2)
    canv.setLineWidth(0.6)
    canv.rect(seal_x, seal_y, SEAL_SIZE * 1.5, SEAL_SIZE, stroke=1, fill=0)
    canv.setDash()
    canv.setFont(font, 8)
    canv.setFillColor(colors.Color(0.6, 0.6, 0.6))
    canv.drawCentredString(seal_x + SEAL_SIZE * 0.75, seal_y - 9, "（印章区 · 电子签章）")
    if ts.missing:  # drawn last, when every other string has been through the typesetter
        canv.setFont(font, 8)
        canv.setFillColor(SEAL_RED)
        for n, line in enumerate(ts.wrap(missing_note(ts), 8, right - 12 * mm - label_x)):
            ts.draw(canv, label_x, note_y - 4 - n * 11, line)
    canv.showPage()
    canv.save()
    return RenderedDocument(buf.getvalue(), 0, seal_box, 1)
