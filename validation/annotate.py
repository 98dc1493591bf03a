"""The error workbook: the filer's own workbook, wrong cells marked, and a first sheet 审核错误.

This is the writer side, so openpyxl may load and save here. The filer fixes the returned file
itself: every row of 审核错误 is an internal hyperlink straight to the cell it is about, which
is the original system's promise that a click on an error goes to the wrong cell.

The filer sends that same file back, so it is annotated again: the marks of the earlier check
are undone first, or a cell fixed since would stay red with a stale comment. Each marked cell's
own fill, border and comment are kept in the very hidden sheet 审核标记 for that purpose.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Iterable
from typing import Any

from openpyxl import load_workbook
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.styles.fills import Fill
from openpyxl.worksheet.hyperlink import Hyperlink
from openpyxl.xml.functions import fromstring, tostring

from validation.findings import ERROR, Finding

OUT_OF_RANGE_DATE_WARNING = r"Cell \S+ is marked as a date but the serial value"
"""openpyxl's warning on a date-styled number that is no date (-1e15): it keeps the cell as #VALUE!,
and the reader has already reported that cell. Ignored here, so that annotating the file is the
same with warnings as errors; pyproject.toml repeats it for the tests."""
warnings.filterwarnings("ignore", message=OUT_OF_RANGE_DATE_WARNING, category=UserWarning)

ERRORS_SHEET = "审核错误"
NOTES_SHEET = "审核提示"
"""The first sheet's name when there is no error: nothing to correct, only notes to read."""
MARKS_SHEET = "审核标记"
COMMENT_AUTHOR = "产权登记审核"
ERROR_FILL = PatternFill("solid", fgColor="FFC7CE")
WARNING_FILL = PatternFill("solid", fgColor="FFEB9C")
LINK_FONT = Font(color="0563C1", underline="single")
HEADER_FONT = Font(bold=True)
HEADER_FILL = PatternFill("solid", fgColor="D9E1F2")
THIN = Side(style="thin", color="A6A6A6")
ERROR_BORDER = Border(
    left=Side(style="medium", color="C00000"),
    right=Side(style="medium", color="C00000"),
    top=Side(style="medium", color="C00000"),
    bottom=Side(style="medium", color="C00000"),
)
COLUMNS = (
    ("序号", 6),
    ("级别", 8),
    ("工作表", 16),
    ("单元格", 10),
    ("代码", 28),
    ("问题说明（点击单元格链接跳转）", 100),
)


def quote_sheet(sheet: str) -> str:
    return "'" + sheet.replace("'", "''") + "'"


def link_location(finding: Finding) -> str:
    """The internal hyperlink target of a finding: its cell, or A1 of its sheet when it has none."""
    return f"{quote_sheet(finding.sheet)}!{finding.cell or 'A1'}"


def _style_xml(style: Any) -> str:
    return str(tostring(style.to_tree()).decode("utf-8"))


def _is_mark(cell: Any) -> bool:
    fill = cell.fill
    colour = getattr(getattr(fill, "fgColor", None), "rgb", None)
    return getattr(fill, "fill_type", None) == "solid" and colour in (ERROR_FILL.fgColor.rgb, WARNING_FILL.fgColor.rgb)


def _clear_earlier_marks(wb: Any) -> None:
    """Give every cell an earlier check marked its own fill, border and comment back.

    Cells recorded in 审核标记 get exactly what they had; a cell that still carries our
    comment without a record (annotated before records were kept, or by a program that
    dropped the hidden sheet) loses the comment and, if it still shows our fill and border,
    those too.
    """
    restored: set[tuple[str, str]] = set()
    if MARKS_SHEET in wb.sheetnames:
        rows = wb[MARKS_SHEET].iter_rows(min_row=2, max_col=6, values_only=True)
        for sheet, cell, fill_xml, border_xml, text, author in rows:
            if sheet not in wb.sheetnames or not cell:
                continue
            target = wb[sheet][cell]
            target.fill = (Fill.from_tree(fromstring(fill_xml)) if fill_xml else None) or PatternFill()
            target.border = Border.from_tree(fromstring(border_xml)) if border_xml else Border()
            target.comment = Comment(str(text), str(author or "")) if text else None
            restored.add((sheet, cell))
        del wb[MARKS_SHEET]
    for ws in wb.worksheets:
        for cell in list(ws._cells.values()):
            comment = cell.comment
            if comment is None or comment.author != COMMENT_AUTHOR or (ws.title, cell.coordinate) in restored:
                continue
            cell.comment = None
            if _is_mark(cell):
                cell.fill = PatternFill()
            if cell.border == ERROR_BORDER:
                cell.border = Border()


def _record_marks(wb: Any, originals: list[tuple[str, str, str, str, str | None, str | None]]) -> None:
    if not originals:
        return
    ws = wb.create_sheet(MARKS_SHEET)
    ws.sheet_state = "veryHidden"
    ws.append(["工作表", "单元格", "原填充", "原边框", "原批注", "原批注作者"])
    for row in originals:
        ws.append(list(row))
    ws.protection.sheet = True


def annotate_workbook(workbook_bytes: bytes, findings: Iterable[Finding]) -> bytes:
    """Returns the workbook with each finding's cell filled and commented, and 审核错误 first.

    Marks left by an earlier annotation of the same file are cleared first: only the current
    findings are marked.
    """
    findings = list(findings)
    wb = load_workbook(io.BytesIO(workbook_bytes))
    try:
        for earlier in (ERRORS_SHEET, NOTES_SHEET):
            if earlier in wb.sheetnames:
                del wb[earlier]
        _clear_earlier_marks(wb)
        if not findings:  # nothing found: the filer's own workbook back, without a report sheet
            return _saved_first_sheet_active(wb)
        located = [f for f in findings if f.sheet in wb.sheetnames]
        unplaced = [f for f in findings if f.sheet not in wb.sheetnames]
        notes: dict[tuple[str, str], list[Finding]] = {}
        for f in located:
            if f.cell:
                notes.setdefault((f.sheet, f.cell), []).append(f)
        originals: list[tuple[str, str, str, str, str | None, str | None]] = []
        for (sheet, cell), group in notes.items():
            target = wb[sheet][cell]
            before = target.comment
            originals.append(
                (
                    sheet,
                    cell,
                    _style_xml(target.fill),
                    _style_xml(target.border),
                    before.text if before is not None else None,
                    before.author if before is not None else None,
                )
            )
            is_error = any(f.severity == ERROR for f in group)
            target.fill = ERROR_FILL if is_error else WARNING_FILL
            target.border = ERROR_BORDER
            text = "\n".join(f"【{'错误' if f.severity == ERROR else '提示'}】{f.message}" for f in group)
            comment = Comment(text, COMMENT_AUTHOR)
            comment.width = 320
            comment.height = min(60 + 40 * len(group), 400)
            target.comment = comment
        _write_report(wb, located + unplaced)
        _record_marks(wb, originals)
        return _saved_first_sheet_active(wb)
    finally:
        wb.close()


def _summary(errors: int, notes: int) -> str:
    """The first line of the report sheet: only a workbook with errors is asked to be corrected and sent again."""
    if errors:
        return (
            f"审核发现 {errors} 个错误、{notes} 个提示。点击“单元格”列的链接可直接跳到出错位置，"
            "改正后请重新报送整个工作簿。"
        )
    return f"审核未发现错误，可以报送。以下 {notes} 个提示供参考，点击“单元格”列的链接可直接跳到相关位置。"


def _saved_first_sheet_active(wb: Any) -> bytes:
    for sheet in wb.worksheets:
        sheet.sheet_view.tabSelected = False
    wb.active = 0
    wb.active.sheet_view.tabSelected = True
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _write_report(wb: Any, listed: list[Finding]) -> None:
    """The first sheet: 审核错误 when there are errors (correct and send again), else 审核提示 (may be filed);
    one row per finding, its cell a hyperlink to the cell it is about."""
    errors = sum(f.severity == ERROR for f in listed)
    ws = wb.create_sheet(ERRORS_SHEET if errors else NOTES_SHEET, 0)
    ws["A1"] = _summary(errors, len(listed) - errors)
    ws["A1"].font = Font(bold=True, color="C00000" if errors else "7F6000")
    for col, (title, width) in enumerate(COLUMNS, start=1):
        cell = ws.cell(row=2, column=col, value=title)
        cell.font = HEADER_FONT
        cell.fill = HEADER_FILL
        ws.column_dimensions[cell.column_letter].width = width
    for n, f in enumerate(listed, start=1):
        row = n + 2
        ws.cell(row=row, column=1, value=n)
        ws.cell(row=row, column=2, value="错误" if f.severity == ERROR else "提示")
        ws.cell(row=row, column=3, value=f.sheet)
        link = ws.cell(row=row, column=4, value=f.cell or "（整表）")
        ws.cell(row=row, column=5, value=f.code)
        message = ws.cell(row=row, column=6, value=f.message)
        message.alignment = Alignment(wrap_text=True, vertical="top")
        if f.sheet in wb.sheetnames:
            for target in (link, message):
                target.hyperlink = Hyperlink(
                    ref=target.coordinate, location=link_location(f), display=str(target.value)
                )
                target.font = LINK_FONT
    ws.freeze_panes = "A3"
    ws.page_setup.orientation = "landscape"
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.sheet_properties.tabColor = "C00000" if errors else "BF8F00"
