"""The standard workbook, written with openpyxl from the field spec (contract 1).

openpyxl is only ever used to write (and, in annotate.py, to rewrite the filer's own file);
reading goes through calamine in reader.py. Table body protection and number formats are set
as column styles rather than per cell, so the blank template stays small and the used range
stays a few rows long however many rows are unlocked. Everything written here is saved the way
Excel saves it, with a shared string table (excel_form.py, docs/performance.md).
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from openpyxl import Workbook, load_workbook
from openpyxl.comments import Comment
from openpyxl.formatting.rule import FormulaRule
from openpyxl.styles import Alignment, Border, Font, PatternFill, Protection, Side
from openpyxl.utils import column_index_from_string, get_column_letter
from openpyxl.workbook.defined_name import DefinedName
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.table import Table, TableStyleInfo

from validation.catalogue import BACKFILL_CUTOFF
from validation.excel_form import excel_form
from validation.findings import human_size
from validation.spec import (
    ALLOWED_EXTENSIONS,
    BASIC_FIELDS,
    DOC_KINDS,
    DOCUMENTS,
    FIELD_SPEC,
    INVESTORS,
    MAX_ATTACHMENT_BYTES,
    MAX_TABLE_ROWS,
    REGISTRATION_FIELDS,
    REQUIRED_DOCS,
    SHEET_BASIC,
    SHEET_GUIDE,
    SHEET_REGISTRATION,
    TABLE_SPEC,
    TABLES,
    TEMPLATE_TABLE_ROWS,
    TEMPLATE_VERSION,
    VERSION_CELL,
    VERSION_NAME,
    VERSION_SHEET,
    ColumnSpec,
    FieldSpec,
    FieldType,
    TableSpec,
    doc_required_label,
)

if TYPE_CHECKING:
    from validation.model import Registration

LISTS_SHEET = "选项"
"""Hidden sheet holding the drop-down lists (inline lists are limited to 255 characters)."""

TITLE_FONT = Font(name="宋体", size=14, bold=True)
HEADER_FONT = Font(name="宋体", size=11, bold=True)
LABEL_FONT = Font(name="宋体", size=11)
REQUIRED_FONT = Font(name="宋体", size=11, color="C00000")
HELP_FONT = Font(name="宋体", size=9, color="595959")
HEADER_FILL = PatternFill("solid", fgColor="D9E1F2")
INPUT_FILL = PatternFill("solid", fgColor="FFF2CC")
THIN = Side(style="thin", color="A6A6A6")
BOX = Border(left=THIN, right=THIN, top=THIN, bottom=THIN)
LOCKED = Protection(locked=True)
UNLOCKED = Protection(locked=False)
WRAP = Alignment(wrap_text=True, vertical="center")

NUMBER_FORMATS: dict[FieldType, str] = {
    "amount": "#,##0.0000",
    "percent": "0.00",
    "date": "yyyy-mm-dd",
}
TEXT_FORMAT = "@"
"""Codes and text are stored as text so that leading zeros of a code survive."""

GUIDE_LINES: tuple[str, ...] = (
    "一、本工作簿是国家出资企业产权登记的标准登记表，请勿增删工作表、修改黄色以外的单元格。",
    "二、黄色单元格为填写项；带下拉箭头的单元格请从列表中选择。标“*”的项目必填，其余按“填写说明”列的条件填写。",
    "三、组织机构代码为9位（GB 11714，可写作 XXXXXXXX-X），统一社会信用代码为18位（GB 32100），"
    "其第9至17位须与组织机构代码一致；系统会校验末位校验码。境外企业免填这两项。",
    "四、金额单位为万元，最多保留4位小数；股权比例单位为%，最多保留2位小数。",
    "五、出资人情况：每个出资人一行；各出资人认缴出资额之和须等于注册资本，股权比例之和须为100%，"
    "每人的股权比例应约等于其认缴额除以注册资本，实缴额不得大于认缴额，出资人名称与代码不得重复。"
    "表格上方的“合计”一行自动计算认缴额、实缴额和股权比例的合计，与注册资本或100%不符时显示为红色。",
    "六、与国家出资企业关系须与国有出资人合计持股比例一致：国有全资=100%；国有绝对控股大于50%且小于100%；"
    "国有实际控制不超过50%且国有出资人为第一大股东；国有参股不超过50%。",
    "七、登记情形须与登记类型相符。登记情形为“补录历史数据”时须填写产权登记形式（已办无变化、已办有变化、未办）"
    f"和数据时点（{BACKFILL_CUTOFF.isoformat()}，以市国资委通知的补录时点为准），其他情形不填这两项；"
    "补录的是已办理工商登记的企业，“是否已办工商”应为“是”。",
    "八、日期可写作 2012-06-30、2012/6/30、2012.6.30 或 2012年6月30日；"
    "日期不得晚于今天，经济行为日期不得早于成立日期。",
    "九、合规性资料目录：每份资料一行，“文件名”须与随表报送的附件文件名完全一致。"
    f"附件格式限 {'/'.join(e.upper() for e in ALLOWED_EXTENSIONS)}，"
    f"每个不超过 {human_size(MAX_ATTACHMENT_BYTES)}；"
    "同一文件不要重复列出，报送的附件都要在目录中列出。",
    "十、各登记类型必需的资料：",
    *(f"    {kind}：{'、'.join(docs)}" for kind, docs in REQUIRED_DOCS.items()),
    "十一、填好后将本工作簿与附件一起打包为 .zip 报送（放入报送文件夹或发送邮件）。审核发现的问题会以"
    "“审核错误”工作表的形式退回，点击其中的链接即可跳到出错的单元格。",
    f"十二、本模板版本：{TEMPLATE_VERSION}。请使用最新版本的模板，可向上级单位或市国资委索取。",
)


def _enum_values(spec: FieldSpec | ColumnSpec) -> tuple[str, ...]:
    return spec.allowed


def _style_input(cell: Any, ftype: FieldType) -> None:
    cell.fill = INPUT_FILL
    cell.border = BOX
    cell.protection = UNLOCKED
    cell.alignment = Alignment(vertical="center", wrap_text=ftype == "text")
    cell.number_format = NUMBER_FORMATS.get(ftype, TEXT_FORMAT)


class _Lists:
    """Writes each distinct drop-down list once into the hidden 选项 sheet."""

    def __init__(self, wb: Workbook) -> None:
        self.ws = wb.create_sheet(LISTS_SHEET)
        self.ws.sheet_state = "hidden"
        self.ws.protection.sheet = True
        self.ranges: dict[tuple[str, ...], str] = {}

    def formula(self, values: tuple[str, ...]) -> str:
        found = self.ranges.get(values)
        if found is None:
            col = get_column_letter(len(self.ranges) + 1)
            for i, value in enumerate(values, start=1):
                self.ws[f"{col}{i}"] = value
            found = f"'{LISTS_SHEET}'!${col}$1:${col}${len(values)}"
            self.ranges[values] = found
        return found


def _add_list_validation(ws: Any, lists: _Lists, values: tuple[str, ...], target: str, title: str) -> None:
    dv = DataValidation(
        type="list",
        formula1=lists.formula(values),
        allow_blank=True,
        showErrorMessage=True,
        errorTitle=title,
        error="请从下拉列表中选择。",
        promptTitle=title,
        prompt="请从下拉列表中选择",
        showInputMessage=True,
    )
    dv.add(target)
    ws.add_data_validation(dv)


def _setup_print(ws: Any, landscape: bool, title_rows: str | None = None) -> None:
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.orientation = "landscape" if landscape else "portrait"
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_options.horizontalCentered = True
    ws.oddFooter.center.text = "第 &P 页，共 &N 页"
    if title_rows:
        ws.print_title_rows = title_rows


def _protect(ws: Any) -> None:
    """Locks labels; inputs carry their own unlocked style. No password: this guards mistakes, not secrets."""
    ws.protection.sheet = True
    ws.protection.formatColumns = False
    ws.protection.formatRows = False
    ws.protection.insertRows = False
    ws.protection.deleteRows = False
    ws.protection.autoFilter = False
    ws.protection.sort = False


def _write_guide(wb: Workbook) -> None:
    ws = wb.active
    ws.title = SHEET_GUIDE
    ws["A1"] = "国家出资企业产权登记表 填表说明"
    ws["A1"].font = TITLE_FONT
    ws.column_dimensions["A"].width = 120
    for row, line in enumerate(GUIDE_LINES, start=3):
        cell = ws.cell(row=row, column=1, value=line)
        cell.alignment = Alignment(wrap_text=True, vertical="top")
        cell.font = LABEL_FONT
    _protect(ws)
    _setup_print(ws, landscape=False)


def _write_field_sheet(wb: Workbook, lists: _Lists, title: str, fields: Iterable[FieldSpec]) -> Any:
    ws = wb.create_sheet(title)
    ws["A1"] = title
    ws["A1"].font = TITLE_FONT
    for col, (head, width) in enumerate((("项目", 28), ("填写内容", 42), ("填写说明", 72)), start=1):
        cell = ws.cell(row=2, column=col, value=head)
        cell.font = HEADER_FONT
        cell.fill = HEADER_FILL
        cell.border = BOX
        ws.column_dimensions[get_column_letter(col)].width = width
    for spec in fields:
        row = int(spec.cell[1:])
        label = ws.cell(row=row, column=1, value=("* " if spec.required else "") + spec.label)
        label.font = REQUIRED_FONT if spec.required else LABEL_FONT
        label.border = BOX
        cell = ws[spec.cell]
        _style_input(cell, spec.type)
        help_text = spec.help
        condition = spec.requirement.describe()
        if condition not in {"必填", "选填"}:
            help_text = f"{help_text}（{condition}）"
        note = ws.cell(row=row, column=3, value=help_text)
        note.font = HELP_FONT
        note.alignment = WRAP
        note.border = BOX
        if spec.allowed:
            _add_list_validation(ws, lists, spec.allowed, spec.cell, spec.label)
        wb.defined_names[spec.key] = DefinedName(spec.key, attr_text=f"'{title}'!${spec.cell[0]}${row}")
    _protect(ws)
    _setup_print(ws, landscape=False)
    ws.freeze_panes = "A3"
    return ws


def _write_table_sheet(wb: Workbook, lists: _Lists, table: TableSpec) -> Any:
    ws = wb.create_sheet(table.sheet)
    ws["A1"] = table.label
    ws["A1"].font = TITLE_FONT
    ws["A2"] = table.help
    ws["A2"].font = HELP_FONT
    h = table.header_row
    body_first = h + 1
    body_last = h + MAX_TABLE_ROWS  # drop-downs reach every row a table can hold
    for col in table.columns:
        letter = col.column
        head = ws[f"{letter}{h}"]
        head.value = col.label
        head.font = HEADER_FONT
        head.protection = LOCKED
        dim = ws.column_dimensions[letter]
        dim.width = 34 if col.type == "text" else 20
        dim.protection = UNLOCKED
        dim.number_format = NUMBER_FORMATS.get(col.type, TEXT_FORMAT)
        if col.allowed:
            _add_list_validation(ws, lists, col.allowed, f"{letter}{body_first}:{letter}{body_last}", col.label)
        if col.help:
            head.comment = Comment(col.help, "chanquan")
    for row in (1, 2):
        for col in table.columns:
            ws[f"{col.column}{row}"].protection = LOCKED
    rows = TEMPLATE_TABLE_ROWS[table.name]
    tab = Table(displayName=table.name, name=table.name, ref=f"{table.first_column}{h}:{table.last_column}{h + rows}")
    tab.tableStyleInfo = TableStyleInfo(name="TableStyleMedium2", showRowStripes=True)
    ws.add_table(tab)
    if table is INVESTORS:
        _write_totals(ws, table, body_first, body_last)
    _protect(ws)
    _setup_print(ws, landscape=True, title_rows=f"{h}:{h}")
    ws.freeze_panes = f"A{body_first}"
    return ws


TOTALS_LABEL = "合计（自动计算）"
TOTALS_FILL = PatternFill("solid", fgColor="EDEDED")
MISMATCH_FILL = PatternFill("solid", fgColor="FFC7CE")


def _write_totals(ws: Any, table: TableSpec, first: int, last: int) -> None:
    """Running totals of the amount and share columns in the row above the header: locked formulas
    over every row the table can hold (rows typed below the table too), so a filer sees while typing
    whether the subscriptions reach the registered capital and the shares 100%."""
    row = table.header_row - 1
    numeric = [col for col in table.columns if col.type in ("amount", "percent")]
    label = ws.cell(row=row, column=column_index_from_string(numeric[0].column) - 1, value=TOTALS_LABEL)
    label.font = HEADER_FONT
    label.alignment = Alignment(horizontal="right", vertical="center")
    label.protection = LOCKED
    for col in numeric:
        cell = ws[f"{col.column}{row}"]
        cell.value = f"=SUM({col.column}{first}:{col.column}{last})"
        cell.number_format = NUMBER_FORMATS[col.type]
        cell.font = HEADER_FONT
        cell.fill = TOTALS_FILL
        cell.border = BOX
        cell.protection = LOCKED
    letter = {col.key: col.column for col in numeric}
    sub, share = letter["subscribed"], letter["share_pct"]
    capital = FIELD_SPEC["reg_capital"].key  # its defined name
    mismatches = {
        f"{sub}{row}": f"AND(ISNUMBER({capital}),ABS({sub}{row}-{capital})>0.00005)",
        f"{share}{row}": f"AND(COUNT({share}{first}:{share}{last})>0,ABS({share}{row}-100)>0.01)",
    }
    for target, formula in mismatches.items():
        ws.conditional_formatting.add(target, FormulaRule(formula=[formula], fill=MISMATCH_FILL))


def build_template() -> Workbook:
    """The blank standard workbook as an openpyxl Workbook (callers save or prefill it)."""
    wb = Workbook()
    _write_guide(wb)
    lists = _Lists(wb)
    reg = _write_field_sheet(wb, lists, SHEET_REGISTRATION, REGISTRATION_FIELDS)
    _write_field_sheet(wb, lists, SHEET_BASIC, BASIC_FIELDS)
    for table in TABLES:
        _write_table_sheet(wb, lists, table)
    version_label = reg[f"D{VERSION_CELL[1:]}"]
    version_label.value = "模板版本"
    version_label.font = HELP_FONT
    reg[VERSION_CELL] = TEMPLATE_VERSION
    reg[VERSION_CELL].font = HELP_FONT
    wb.defined_names[VERSION_NAME] = DefinedName(
        VERSION_NAME, attr_text=f"'{VERSION_SHEET}'!${VERSION_CELL[0]}${VERSION_CELL[1:]}"
    )
    documents_ws = wb[DOCUMENTS.sheet]
    for i, kind in enumerate(DOC_KINDS, start=DOCUMENTS.header_row + 1):
        documents_ws[f"{DOCUMENTS.column('doc_kind').column}{i}"] = kind
        documents_ws[f"{DOCUMENTS.column('required').column}{i}"] = doc_required_label(kind)
    # The lists sheet goes last so that 填表说明 stays first and sheet order matches the spec.
    wb.move_sheet(LISTS_SHEET, offset=len(wb.sheetnames) - 1 - wb.sheetnames.index(LISTS_SHEET))
    wb.active = 0
    return wb


def write_template(path: Path | str, prefill: Registration | None = None) -> None:
    """Writes the standard workbook, filled with `prefill` (e.g. the last approved data) if given."""
    Path(path).write_bytes(template_bytes(prefill))


NOT_PREFILLED = frozenset(spec.key for spec in REGISTRATION_FIELDS) - {"filer_org_code"}
"""The 登记信息 sheet describes one filing (登记类型, 登记情形, 产权登记形式, 数据时点, 是否已办工商,
经济行为日期, 批准文号), not the enterprise: the next filing is another act, so a prefill leaves these
for the filer to state rather than carry last time's over unnoticed. Who fills the form stays."""


def template_bytes(prefill: Registration | None = None) -> bytes:
    wb = build_template()
    if prefill is not None:
        from validation.model import INVESTOR_KEYS

        values = {
            k: getattr(prefill, k) for k in FIELD_SPEC if k not in NOT_PREFILLED and getattr(prefill, k) is not None
        }
        investors = [{k: getattr(i, k) for k in INVESTOR_KEYS} for i in prefill.investors]
        # The catalogue stays the template's: last time's file names are not attached to the new filing.
        _fill(wb, values, investors, None)
    buf = io.BytesIO()
    wb.save(buf)
    return excel_form(buf.getvalue())


# --- filling by defined name and table column, as an outside tool would ---------------------


def _cell_value(value: object) -> object:
    """What a person would type: 是/否 for booleans, numbers as numbers, dates as dates."""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, Decimal | int | float | str | dt.date) or value is None:
        return value
    return str(value)


def _resolve(wb: Workbook, name: str) -> tuple[Any, str]:
    dn = wb.defined_names.get(name)
    if dn is None:
        raise KeyError(f"workbook has no defined name {name!r}")
    sheet, coord = next(iter(dn.destinations))
    return wb[sheet], coord.replace("$", "").split(":")[0]


def _table(wb: Workbook, name: str) -> tuple[Any, Any]:
    for ws in wb.worksheets:
        if name in ws.tables:
            return ws, ws.tables[name]
    raise KeyError(f"workbook has no table {name!r}")


def _write_table(wb: Workbook, name: str, rows: Sequence[Mapping[str, object]]) -> None:
    """Replaces the table body with `rows` (dicts by column key or header label), extending its ref."""
    ws, tab = _table(wb, name)
    first, last = tab.ref.split(":")
    first_col = "".join(ch for ch in first if ch.isalpha())
    last_col = "".join(ch for ch in last if ch.isalpha())
    header_row = int("".join(ch for ch in first if ch.isdigit()))
    end_row = int("".join(ch for ch in last if ch.isdigit()))
    c0, c1 = column_index_from_string(first_col), column_index_from_string(last_col)
    headers = {str(ws.cell(row=header_row, column=c).value or "").strip(): c for c in range(c0, c1 + 1)}
    by_key = {col.key: headers.get(col.label) for col in TABLE_SPEC[name].columns}
    for r in range(header_row + 1, max(end_row, header_row + len(rows)) + 1):
        for c in range(c0, c1 + 1):
            ws.cell(row=r, column=c).value = None
    for offset, row in enumerate(rows, start=1):
        for key, value in row.items():
            col = by_key.get(key) or headers.get(key)
            if col is None:
                raise KeyError(f"table {name!r} has no column {key!r}")
            ws.cell(row=header_row + offset, column=col).value = _cell_value(value)
    new_end = max(end_row, header_row + max(len(rows), 1))
    if new_end != end_row:
        tab.ref = f"{first_col}{header_row}:{last_col}{new_end}"
        if tab.autoFilter is not None:
            tab.autoFilter.ref = tab.ref


def _fill(
    wb: Workbook,
    values: Mapping[str, object],
    investors: Sequence[Mapping[str, object]] | None,
    documents: Sequence[Mapping[str, object]] | None,
) -> None:
    for key, value in values.items():
        ws, coord = _resolve(wb, key)
        ws[coord].value = _cell_value(value)
    if investors is not None:
        _write_table(wb, INVESTORS.name, investors)
    if documents is not None:
        _write_table(wb, DOCUMENTS.name, documents)


def fill_workbook(
    template: bytes | Path | str,
    values: Mapping[str, object],
    investors: Sequence[Mapping[str, object]] | None = None,
    documents: Sequence[Mapping[str, object]] | None = None,
    *,
    shared_strings: bool = True,
) -> bytes:
    """Fills a workbook by defined name and table column, exactly as an outside tool would.

    `values` maps defined names to values; `investors`/`documents` replace the table bodies
    (None leaves a table as it is). Returns the saved .xlsx bytes, by default in the form Excel
    saves (a shared string table, see excel_form.py); `shared_strings=False` keeps openpyxl's
    inline strings, so that tests and the benchmark can show the reader handles both.
    """
    source = io.BytesIO(template) if isinstance(template, bytes) else Path(template)
    wb = load_workbook(source)
    _fill(wb, values, investors, documents)
    buf = io.BytesIO()
    wb.save(buf)
    wb.close()
    return excel_form(buf.getvalue()) if shared_strings else buf.getvalue()
