"""用户手册 as one PDF, laid out from the same Markdown tokens the 帮助 pages render.

reportlab's platypus with the CJK face the documents use (documents.fonts), so the manual
prints the same on every reader and embeds no standard-14 font. Only what the chapters use is
laid out: headings, paragraphs, lists, tables, code blocks and rules; emphasis is colour (the
face has no bold), and a link inside the portal becomes its text.
"""

from __future__ import annotations

from datetime import date
from io import BytesIO
from typing import Any
from xml.sax.saxutils import escape

from markdown_it.token import Token
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import (
    KeepTogether,
    PageBreak,
    Paragraph,
    Preformatted,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from documents.fonts import canvas_maker, register_cjk_font
from portal.guide import Guide

BRAND = colors.HexColor("#a61b1b")
INK = colors.HexColor("#1f2933")
LINE = colors.HexColor("#d9dee4")


def _styles(font: str) -> dict[str, ParagraphStyle]:
    base = ParagraphStyle(
        "body", fontName=font, bulletFontName=font, fontSize=10, leading=16, textColor=INK, wordWrap="CJK", spaceAfter=4
    )
    return {
        "body": base,
        "title": ParagraphStyle("title", parent=base, fontSize=26, leading=36, alignment=TA_CENTER, textColor=BRAND),
        "subtitle": ParagraphStyle("subtitle", parent=base, fontSize=13, leading=22, alignment=TA_CENTER),
        "h1": ParagraphStyle("h1", parent=base, fontSize=18, leading=26, textColor=BRAND, spaceBefore=4, spaceAfter=10),
        "h2": ParagraphStyle(
            "h2", parent=base, fontSize=13.5, leading=20, textColor=BRAND, spaceBefore=10, spaceAfter=6
        ),
        "h3": ParagraphStyle("h3", parent=base, fontSize=11, leading=17, spaceBefore=8, spaceAfter=2),
        "cell": ParagraphStyle("cell", parent=base, fontSize=8.5, leading=12, spaceAfter=0),
        "code": ParagraphStyle("code", parent=base, fontSize=9, leading=13, backColor=colors.HexColor("#f3f5f7")),
        "toc": ParagraphStyle("toc", parent=base, fontSize=12, leading=22),
    }


def _inline(token: Token) -> str:
    """An inline token's children as reportlab paragraph markup (escaped text, colour for emphasis)."""
    out: list[str] = []
    for child in token.children or []:
        if child.type == "text":
            out.append(escape(child.content))
        elif child.type == "code_inline":
            out.append(f'<font color="#1d4f91">{escape(child.content)}</font>')
        elif child.type == "strong_open":
            out.append('<font color="#a61b1b">')
        elif child.type == "strong_close":
            out.append("</font>")
        elif child.type in ("softbreak", "hardbreak"):
            out.append("<br/>" if child.type == "hardbreak" else " ")
    return "".join(out)


class _Layout:
    """Walks one chapter's tokens and collects flowables."""

    def __init__(self, styles: dict[str, ParagraphStyle], width: float) -> None:
        self.styles = styles
        self.width = width
        self.story: list[Any] = []

    def chapter(self, number: int, title: str, tokens: list[Token]) -> None:
        self.story.append(Paragraph(f"{number}　{escape(title)}", self.styles["h1"]))
        index = 0
        while index < len(tokens):
            index = self._block(tokens, index)
        self.story.append(PageBreak())

    def _block(self, tokens: list[Token], index: int) -> int:
        token = tokens[index]
        if token.type == "heading_open":
            style = self.styles["h2" if token.tag in ("h1", "h2") else "h3"]
            self.story.append(Paragraph(_inline(tokens[index + 1]), style))
            return index + 3
        if token.type == "paragraph_open":
            self.story.append(Paragraph(_inline(tokens[index + 1]), self.styles["body"]))
            return index + 3
        if token.type in ("bullet_list_open", "ordered_list_open"):
            return self._list(tokens, index)
        if token.type == "table_open":
            return self._table(tokens, index)
        if token.type in ("fence", "code_block"):
            self.story.append(Preformatted(token.content.rstrip("\n"), self.styles["code"]))
            return index + 1
        if token.type == "hr":
            self.story.append(Spacer(1, 6))
        return index + 1

    def _list(self, tokens: list[Token], index: int) -> int:
        ordered = tokens[index].type == "ordered_list_open"
        close = tokens[index].type.replace("_open", "_close")
        depth, number, index = 0, 0, index + 1
        while index < len(tokens):
            token = tokens[index]
            if token.type == close and depth == 0:
                return index + 1
            if token.type == "list_item_open":
                depth += 1
                number += 1
            elif token.type == "list_item_close":
                depth -= 1
            elif token.type == "inline" and depth == 1:
                mark = f"{number}." if ordered else "●"
                style = ParagraphStyle("item", parent=self.styles["body"], leftIndent=14, bulletIndent=2)
                self.story.append(Paragraph(_inline(token), style, bulletText=mark))
            index += 1
        return index

    def _table(self, tokens: list[Token], index: int) -> int:
        rows: list[list[Paragraph]] = []
        row: list[Paragraph] = []
        index += 1
        while tokens[index].type != "table_close":
            token = tokens[index]
            if token.type == "tr_open":
                row = []
            elif token.type == "inline":
                row.append(Paragraph(_inline(token), self.styles["cell"]))
            elif token.type == "tr_close":
                rows.append(row)
            index += 1
        columns = max(len(r) for r in rows) if rows else 1
        widths = _column_widths(rows, columns, self.width)
        table = Table(rows, colWidths=widths, repeatRows=1)
        table.setStyle(
            TableStyle(
                [
                    ("FONT", (0, 0), (-1, -1), self.styles["cell"].fontName, 8.5),  # never the default Helvetica
                    ("GRID", (0, 0), (-1, -1), 0.5, LINE),
                    ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#f7f8fa")),
                    ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ]
            )
        )
        self.story.append(table)
        self.story.append(Spacer(1, 6))
        return index + 1


def _column_widths(rows: list[list[Paragraph]], columns: int, width: float) -> list[float]:
    """Widths by the longest text of each column, with a floor so short columns stay readable."""
    longest = [1] * columns
    for row in rows:
        for i, cell in enumerate(row[:columns]):
            longest[i] = max(longest[i], min(len(cell.getPlainText()), 40))
    weights = [max(n, 6) for n in longest]
    return [width * n / sum(weights) for n in weights]


def guide_pdf(guide: Guide, font_file: str, *, today: date | None = None) -> bytes:
    """The whole guide as one PDF (cover, contents, one chapter per part)."""
    font = register_cjk_font(font_file)
    styles = _styles(font)
    out = BytesIO()
    document = SimpleDocTemplate(
        out,
        pagesize=A4,
        leftMargin=20 * mm,
        rightMargin=20 * mm,
        topMargin=20 * mm,
        bottomMargin=20 * mm,
        title="用户手册",
        author=guide.site_name,
        subject="国家出资企业产权登记 填报与审核用户手册",
        initialFontName=font,  # else the page preamble selects Helvetica (see documents.fonts.canvas_maker)
    )
    layout = _Layout(styles, document.width)
    story = layout.story
    story += [
        Spacer(1, 60 * mm),
        Paragraph(escape(guide.site_name), styles["subtitle"]),
        Spacer(1, 8 * mm),
        Paragraph("用户手册", styles["title"]),
        Spacer(1, 8 * mm),
        Paragraph("填报单位和审核单位适用", styles["subtitle"]),
        Spacer(1, 40 * mm),
        Paragraph(f"网页版：{escape(guide.config.public_url.rstrip('/'))}/help", styles["subtitle"]),
        Paragraph(f"{(today or date.today()).isoformat()}", styles["subtitle"]),
        PageBreak(),
        Paragraph("目录", styles["h1"]),
    ]
    chapters = guide.chapters
    story.append(KeepTogether([Paragraph(f"{n}　{escape(c.title)}", styles["toc"]) for n, c in enumerate(chapters, 1)]))
    story.append(PageBreak())
    for number, chapter in enumerate(chapters, 1):
        layout.chapter(number, chapter.title, chapter.tokens)
    if story and isinstance(story[-1], PageBreak):
        story.pop()

    def footer(canvas: Any, doc: Any) -> None:
        canvas.saveState()
        canvas.setFont(font, 8)
        canvas.setFillColor(colors.HexColor("#66727f"))
        canvas.drawCentredString(A4[0] / 2, 10 * mm, f"{guide.site_name} · 用户手册 · 第 {doc.page} 页")
        canvas.restoreState()

    document.build(story, onFirstPage=lambda c, d: None, onLaterPages=footer, canvasmaker=canvas_maker(font))
    return out.getvalue()
