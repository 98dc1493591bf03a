"""The error workbook: the filer's own workbook, wrong cells marked, and a first sheet 审核错误.

This is the writer side, so openpyxl may load and save here. The filer fixes the returned file
itself: every row of 审核错误 is an internal hyperlink straight to the cell it is about, which
is the original system's promise that a click on an error goes to the wrong cell.
"""

from __future__ import annotations

import io
from collections.abc import Iterable

from openpyxl import load_workbook
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.worksheet.hyperlink import Hyperlink

from validation.findings import ERROR, Finding

ERRORS_SHEET = "审核错误"
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


def annotate_workbook(workbook_bytes: bytes, findings: Iterable[Finding]) -> bytes:
    """Returns the workbook with each finding's cell filled and commented, and 审核错误 first."""
    findings = list(findings)
    wb = load_workbook(io.BytesIO(workbook_bytes))
    try:
        if ERRORS_SHEET in wb.sheetnames:
            del wb[ERRORS_SHEET]
        located = [f for f in findings if f.sheet in wb.sheetnames]
        unplaced = [f for f in findings if f.sheet not in wb.sheetnames]
        notes: dict[tuple[str, str], list[Finding]] = {}
        for f in located:
            if f.cell:
                notes.setdefault((f.sheet, f.cell), []).append(f)
        for (sheet, cell), group in notes.items():
            target = wb[sheet][cell]
            is_error = any(f.severity == ERROR for f in group)
            target.fill = ERROR_FILL if is_error else WARNING_FILL
            target.border = ERROR_BORDER
            text = "\n".join(f"【{'错误' if f.severity == ERROR else '提示'}】{f.message}" for f in group)
            comment = Comment(text, "产权登记审核")
            comment.width = 320
            comment.height = min(60 + 40 * len(group), 400)
            target.comment = comment
        ws = wb.create_sheet(ERRORS_SHEET, 0)
        ws["A1"] = f"审核发现 {sum(f.severity == ERROR for f in located + unplaced)} 个错误、" + (
            f"{sum(f.severity != ERROR for f in located + unplaced)} 个提示。点击“单元格”列的链接可直接跳到出错位置，"
            "改正后请重新报送整个工作簿。"
        )
        ws["A1"].font = Font(bold=True, color="C00000")
        for col, (title, width) in enumerate(COLUMNS, start=1):
            cell = ws.cell(row=2, column=col, value=title)
            cell.font = HEADER_FONT
            cell.fill = HEADER_FILL
            ws.column_dimensions[cell.column_letter].width = width
        for n, f in enumerate(located + unplaced, start=1):
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
        ws.sheet_properties.tabColor = "C00000"
        for sheet in wb.worksheets:
            sheet.sheet_view.tabSelected = False
        wb.active = 0
        ws.sheet_view.tabSelected = True
        buf = io.BytesIO()
        wb.save(buf)
        return buf.getvalue()
    finally:
        wb.close()
