"""Fast drawing primitives: the investor grid and the QR code.

reportlab's Table builds a cell object per value and measures every one; for a
2,000-row investor list that dominates the render. `GridTable` draws plain text
straight onto the canvas, wraps only the cells that overflow, and splits across
pages with the header row repeated. Text goes through the document's `Typesetter`
(fallback faces, placeholders); a cell of plain ASCII or primary-face text costs one
cached lookup more than drawing it directly.

Columns are sized so that nothing a reader must take in at once is broken: a `keep`
column (codes, amounts, dates) is as wide as its widest cell, and every column at least
as wide as the longest word of its title, so a header never splits 是否必需 into characters
nor leaves "（万元" on one line and "）" on the next.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import qrcode
from reportlab.lib import colors

from documents.typeset import TypedFlowable, Typesetter

PAD = 2.5
RULE = colors.Color(0.35, 0.35, 0.35)
HEADER_FILL = colors.Color(0.9, 0.92, 0.95)


@dataclass(frozen=True)
class Column:
    title: str
    weight: float
    align: str = "left"  # left | right | center
    keep: bool = False  # codes, amounts, dates: never broken, the column is as wide as its widest cell


def title_words(title: str) -> list[str]:
    """A column title's words: 认缴出资额（万元） is 认缴出资额 and （万元）; each stays on one line."""
    return [word for word in re.split(r"(?=[（(])", title) if word] or [""]


def fit_widths(
    columns: Sequence[Column], rows: Sequence[Sequence[str]], ts: Typesetter, size: float, avail: float
) -> list[float]:
    """Column widths filling `avail`: `keep` columns at their content's width, the rest by weight.

    Every column gets at least its title's widest word; when even that does not fit (a page far
    too narrow), the widths fall back to plain proportions and cells wrap by character.
    """
    least = [max(ts.width(word, size) for word in title_words(c.title)) + 2 * PAD for c in columns]
    for i, column in enumerate(columns):
        if column.keep:
            widest = max((ts.width(row[i], size) for row in rows), default=0.0)
            least[i] = max(least[i], widest + 2 * PAD)
    flexible = [i for i, c in enumerate(columns) if not c.keep]
    rest = avail - sum(least[i] for i, c in enumerate(columns) if c.keep)
    total = sum(columns[i].weight for i in flexible)
    if rest <= 0 or (flexible and total <= 0) or sum(least) > avail:
        weights = sum(c.weight for c in columns)
        return [avail * c.weight / weights for c in columns]
    widths = list(least)
    # share out by weight, but never below a column's least: settle those first, then split what remains
    pending = set(flexible)
    while pending:
        weight_left = sum(columns[i].weight for i in pending)
        short = [i for i in pending if rest * columns[i].weight / weight_left < least[i]]
        if not short:
            for i in pending:
                widths[i] = rest * columns[i].weight / weight_left
            break
        for i in short:
            widths[i] = least[i]
            rest -= least[i]
            pending.discard(i)
    if not flexible:  # every column keeps its content: the slack goes to all, in proportion
        scale = avail / sum(widths)
        widths = [w * scale for w in widths]
    return widths


class GridTable(TypedFlowable):
    """A ruled table of text rows that splits across frames, repeating its header row."""

    def __init__(
        self,
        columns: Sequence[Column],
        rows: Sequence[Sequence[str]],
        ts: Typesetter,
        size: float,
        *,
        _widths: list[float] | None = None,
        _layout: list[list[list[str]]] | None = None,
        _header: list[list[str]] | None = None,
        _heights: list[float] | None = None,
    ) -> None:
        super().__init__()
        self.columns = list(columns)
        self.rows = list(rows)
        self.ts = ts
        self.size = size
        self.leading = size * 1.3
        self._widths = _widths
        self._layout = _layout
        self._header: list[list[str]] = _header or []
        self._heights: list[float] = _heights or []

    def _prepare(self, avail_width: float) -> None:
        if (
            self._widths is not None
            and abs(sum(self._widths) - avail_width) < 0.5
            and self._layout is not None
            and self._header
        ):
            return
        self._widths = fit_widths(self.columns, self.rows, self.ts, self.size, avail_width)
        inner = [w - 2 * PAD for w in self._widths]
        self._layout = [[self.ts.wrap(cell, self.size, inner[i]) for i, cell in enumerate(row)] for row in self.rows]
        self._header = [self.ts.wrap(c.title, self.size, inner[i]) for i, c in enumerate(self.columns)]
        self._heights = [self._row_height(lines) for lines in self._layout]

    def _row_height(self, lines: list[list[str]]) -> float:
        return max(len(cell) for cell in lines) * self.leading + 2 * PAD

    @property
    def header_height(self) -> float:
        return self._row_height(self._header)

    def wrap(self, avail_width: float, avail_height: float) -> tuple[float, float]:
        self._prepare(avail_width)
        assert self._layout is not None
        self.width = avail_width
        self.height = self.header_height + sum(self._heights)
        return self.width, self.height

    def split(self, avail_width: float, avail_height: float) -> list[Any]:
        self._prepare(avail_width)
        assert self._layout is not None
        used = self.header_height
        count = 0
        for h in self._heights:
            if used + h > avail_height:
                break
            used += h
            count += 1
        if count == 0:
            return []
        if count == len(self.rows):
            return [self]
        return [
            GridTable(
                self.columns,
                self.rows[part],
                self.ts,
                self.size,
                _widths=self._widths,
                _layout=self._layout[part],
                _header=self._header,
                _heights=self._heights[part],
            )
            for part in (slice(0, count), slice(count, None))
        ]

    def draw(self) -> None:
        assert self._widths is not None and self._layout is not None
        canv: Any = self.canv
        canv.saveState()
        top = self.height
        header_h = self.header_height
        canv.setFillColor(HEADER_FILL)
        canv.rect(0, top - header_h, self.width, header_h, stroke=0, fill=1)
        canv.setFillColor(colors.black)
        canv.setStrokeColor(RULE)
        canv.setLineWidth(0.4)
        text = canv.beginText()
        text.setFont(self.ts.font, self.size, self.leading)
        xs = [0.0]
        for w in self._widths:
            xs.append(xs[-1] + w)
        y = top
        h_lines: list[float] = [y]
        self._draw_row(text, xs, y, self._header, header=True)
        y -= header_h
        h_lines.append(y)
        for lines, height in zip(self._layout, self._heights, strict=True):
            self._draw_row(text, xs, y, lines, header=False)
            y -= height
            h_lines.append(y)
        canv.drawText(text)
        path = canv.beginPath()
        for hy in h_lines:
            path.moveTo(0, hy)
            path.lineTo(self.width, hy)
        for x in xs:
            path.moveTo(x, top)
            path.lineTo(x, y)
        canv.drawPath(path, stroke=1, fill=0)
        canv.restoreState()

    def _draw_row(self, text: Any, xs: list[float], y: float, lines: list[list[str]], *, header: bool) -> None:
        baseline = y - PAD - self.size * 0.95
        for i, cell in enumerate(lines):
            align = "center" if header else self.columns[i].align
            for n, line in enumerate(cell):
                if align == "left":
                    x = xs[i] + PAD
                else:
                    w = self.ts.width(line, self.size)
                    x = xs[i + 1] - PAD - w if align == "right" else (xs[i] + xs[i + 1] - w) / 2
                text.setTextOrigin(x, baseline - n * self.leading)
                self.ts.text_out(text, line)


def draw_qr(canv: Any, payload: str, x: float, y: float, size: float) -> None:
    """Draws a QR code of `payload` with its lower-left corner at (x, y), runs merged per row."""
    # a fixed mask skips qrcode's trial of all eight (most of its cost); any mask is valid
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=2, mask_pattern=4)
    code.add_data(payload)
    code.make(fit=True)
    matrix = code.get_matrix()
    n = len(matrix)
    cell = size / n
    canv.saveState()
    canv.setFillColor(colors.black)
    path = canv.beginPath()
    for r, row in enumerate(matrix):
        c = 0
        while c < n:
            if row[c]:
                start = c
                while c < n and row[c]:
                    c += 1
                path.rect(x + start * cell, y + (n - 1 - r) * cell, (c - start) * cell, cell)
            else:
                c += 1
    canv.drawPath(path, stroke=0, fill=1)
    canv.restoreState()
