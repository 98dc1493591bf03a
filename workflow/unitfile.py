"""The units import file (.xlsx or .csv): its columns, its template, and reading it into rows.

Headers may be the column keys (code, name, ...), the Chinese labels, or both as the
template writes them ("组织机构代码(code)"); rows that are entirely empty are skipped.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

from validation.numbercells import calamine_choked
from workflow.unitimport import UnitRow

COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("code", "组织机构代码", "9位组织机构代码或18位统一社会信用代码；境外单位填已分配的用户名或留空"),
    ("name", "单位名称", "企业全称"),
    ("parent_code", "上级单位代码", "直接上级单位的组织机构代码；一级企业留空（即市国资委）"),
    ("level", "级次", "可留空；填写时须与上级单位级次加一相符（1、2、… 或 一级、二级、…）"),
    ("overseas", "是否境外", "是 / 否，留空为否"),
    ("holding", "持股类型", "国有全资 / 国有绝对控股 / 国有实际控制 / 国有参股，留空为国有全资"),
    ("filer_emails", "填报联系人邮箱", "多个地址用分号或逗号分隔"),
    ("reviewer_emails", "审核人邮箱", "多个地址用分号或逗号分隔；审核下级单位申报的人"),
)
_LABELS = {label: key for key, label, _ in COLUMNS}
_KEYS = {key for key, _, _ in COLUMNS}


class UnitFileError(Exception):
    """The file cannot be read as a units list; `message_zh` says why."""

    def __init__(self, message_zh: str) -> None:
        super().__init__(message_zh)
        self.message_zh = message_zh


def _header_key(text: str) -> str | None:
    value = text.strip()
    inner = re.search(r"[（(]\s*([a-z_]+)\s*[)）]", value)
    if inner and inner.group(1) in _KEYS:
        return inner.group(1)
    if value.lower() in _KEYS:
        return value.lower()
    return _LABELS.get(value)


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _rows_from_table(table: list[list[object]], source: str) -> list[UnitRow]:
    if not table:
        raise UnitFileError(f"{source} 是空文件。")
    header = [_header_key(_cell_text(v)) for v in table[0]]
    missing = [label for key, label, _ in COLUMNS[:3] if key not in header]
    if missing:
        raise UnitFileError(
            f"{source} 第1行缺少必需的列：{'、'.join(missing)}（可用 `chanquan units template` 生成模板）。"
        )
    rows: list[UnitRow] = []
    for number, raw in enumerate(table[1:], start=2):
        values = {key: _cell_text(raw[i]) for i, key in enumerate(header) if key and i < len(raw)}
        if not any(values.values()):
            continue
        rows.append(UnitRow(row=number, **{key: values.get(key, "") for key in _KEYS}))
    return rows


def read_unit_rows(path: Path) -> list[UnitRow]:
    """Rows of a .csv (UTF-8, UTF-8 with BOM, or GB18030) or .xlsx units file."""
    suffix = path.suffix.lower()
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UnitFileError(f"无法读取文件 {path}：{exc.strerror or exc}") from exc
    if suffix == ".csv":
        for encoding in ("utf-8-sig", "gb18030"):
            try:
                text = data.decode(encoding)
                break
            except UnicodeDecodeError:
                continue
        else:
            raise UnitFileError(f"{path.name} 的编码无法识别，请另存为 UTF-8 编码的 CSV。")
        table: list[list[object]] = [list(r) for r in csv.reader(io.StringIO(text))]
        return _rows_from_table(table, path.name)
    if suffix == ".xlsx":
        from python_calamine import CalamineWorkbook

        try:
            workbook = CalamineWorkbook.from_filelike(io.BytesIO(data))
            sheet = workbook.get_sheet_by_index(0)
            table = [list(r) for r in sheet.to_python(skip_empty_area=False)]
        except Exception as exc:  # calamine raises its own error types for every kind of damage
            raise UnitFileError(f"{path.name} 不是可读取的 .xlsx 工作簿。") from exc
        except BaseException as exc:  # a Rust panic (e.g. a date cell far out of range) is a BaseException
            if not calamine_choked(exc):
                raise
            raise UnitFileError(
                f"{path.name} 中有无法读取的单元格数值（例如设为日期格式的极大或极小数字），请检查后重新保存。"
            ) from exc
        return _rows_from_table(table, path.name)
    raise UnitFileError(f"不支持的文件类型 {suffix or '（无扩展名）'}：请使用 .xlsx 或 .csv。")


def write_unit_template(path: Path) -> None:
    """A blank units file with the header row (and, for .xlsx, a sheet explaining each column)."""
    headers = [f"{label}({key})" for key, label, _ in COLUMNS]
    example = [
        "500100008",
        "重庆示例集团有限公司",
        "",
        "1",
        "否",
        "国有全资",
        "filer@example.com",
        "reviewer@example.com",
    ]
    if path.suffix.lower() == ".csv":
        with path.open("w", encoding="utf-8-sig", newline="") as out:
            writer = csv.writer(out)
            writer.writerow(headers)
            writer.writerow(example)
        return
    if path.suffix.lower() != ".xlsx":
        raise UnitFileError(f"不支持的文件类型 {path.suffix or '（无扩展名）'}：请使用 .xlsx 或 .csv。")
    from openpyxl import Workbook
    from openpyxl.styles import Font

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "单位名录"
    sheet.append(headers)
    sheet.append(example)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for index, (_, label, _) in enumerate(COLUMNS, start=1):
        sheet.column_dimensions[chr(64 + index)].width = max(14, len(label) * 3)
    for row in sheet.iter_rows(min_row=2, max_row=500, min_col=1, max_col=1):
        for cell in row:
            cell.number_format = "@"  # codes stay text: leading zeros survive
    notes = workbook.create_sheet("填写说明")
    notes.append(["列", "说明"])
    for key, label, help_text in COLUMNS:
        notes.append([f"{label}({key})", help_text])
    notes.column_dimensions["A"].width = 24
    notes.column_dimensions["B"].width = 80
    workbook.save(path)
    workbook.close()
