"""Numbers calamine cannot turn into dates: the sheet is read again with them as plain numbers.

calamine converts a number in a date- or duration-styled cell itself, and a number no person
types breaks that conversion for the whole sheet: far below zero (`<v>-1e15</v>`, `<v>-INF</v>`)
its date arithmetic panics, which reaches Python as pyo3's PanicException, a BaseException that
`except Exception` lets through; a duration of a billion days or more raises OverflowError. None of
these numbers is a date, so when a sheet cannot be read the workbook is read again with the style
taken off every numeric cell that holds one. calamine then hands over the number itself, and the
date and amount parsers report it on its cell like any other wrong value. Only a sheet that failed
pays for this: a workbook calamine reads is never rewritten.

The panic is also printed, with a Rust backtrace, on the process's stderr before Python can catch
it. So the numbers that panic (far below zero) are looked for while the guard scans the worksheets
anyway (`xmlguard._DATE_BREAKER`, reported by `inspect_xlsx`), and a workbook holding one is read
rewritten from the start; the catch stays for whatever that search does not foresee.
"""

from __future__ import annotations

import io
import re
import zipfile

from validation.parsing import MAX_SERIAL

_CELL = re.compile(rb"<c\b([^>]*?)(?<!/)>((?:[^<]|<(?!/c>|c[\s>/]))*)</c>")
"""A cell with content; the content stops at the next cell, so a cell left unclosed in a crafted sheet
costs one step, not a search to the sheet's end per cell (which made a 480 KB sheet take 50 s)."""
_STYLE = re.compile(rb"""\ss\s*=\s*(?:"[^"]*"|'[^']*')""")
_TYPE = re.compile(rb"""\st\s*=\s*["']([^"']*)["']""")
_VALUE = re.compile(rb"<v>([^<]*)</v>")


def calamine_choked(exc: BaseException) -> bool:
    """What calamine raises on a number it cannot convert: a Rust panic, or Python refusing the result."""
    return isinstance(exc, OverflowError | ValueError) or type(exc).__name__ == "PanicException"


def _no_date(stored: bytes) -> bool:
    try:
        number = float(stored)
    except ValueError:
        return False
    return not 0 <= number <= MAX_SERIAL  # NaN too: every comparison with it is false


def _plain(cell: re.Match[bytes]) -> bytes:
    attributes, content = cell[1], cell[2]
    kind = _TYPE.search(attributes)
    value = _VALUE.search(content)
    if (kind is not None and kind[1] != b"n") or value is None or not _no_date(value[1]):
        return cell[0]
    return b"<c" + _STYLE.sub(b"", attributes) + b">" + content + b"</c>"


def without_date_styles(data: bytes) -> bytes:
    """The workbook with every numeric cell that cannot be a date serial unstyled, all else as it was.

    The container guards have already bounded every member's size, so each is read whole.
    """
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            content = source.read(info)
            if b"<sheetData" in content:
                content = _CELL.sub(_plain, content)
            target.writestr(info, content, compress_type=zipfile.ZIP_DEFLATED)
    return out.getvalue()
