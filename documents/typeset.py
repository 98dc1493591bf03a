"""Drawing text through the font chain: per-character fallback, measured widths, visible placeholders.

reportlab draws a string in one font, and a character that font lacks becomes glyph 0
(.notdef): blank on the page and absent from the text layer, so a name with 𠮷 was printed
without it while the ledger had it. Every string of a document therefore goes through one
`Typesetter` per render, which splits it into runs by the first face of the chain that has
each character, and draws a character no face has as `〓U+XXXX〓` in the primary face while
remembering it (`missing`), so the issuer can record it and the page can say so.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any
from xml.sax.saxutils import escape

from reportlab.pdfbase.pdfmetrics import stringWidth

from documents.fonts import FontChain, placeholder

if TYPE_CHECKING:

    class TypedFlowable:
        """What the type checker sees of reportlab's Flowable: reportlab ships no types."""

        canv: Any
        width: float
        height: float

        def __init__(self) -> None: ...

        def __getattr__(self, name: str) -> Any: ...

else:
    from reportlab.platypus import Flowable as TypedFlowable

_LINE_BREAK = re.compile(r"\r\n|\r|\n")
# The units a line may break between (a light 禁则, kinsoku): a run of ASCII letters, digits and the marks
# inside codes, dates, amounts and addresses (a USCC, 2025-11-03, 12000.5, a@b.cn) is one unit; any other
# character is a unit of its own, and so is a short bracketed note like （万元） or （%）. Opening brackets
# stick to the unit after them, closing brackets and punctuation to the unit before, so no line starts
# with "）" or "，" or ends with "（".
_OPENERS = "（《“‘〔【「『([{<"
_CLOSERS = "）》”’〕】」』)]}>，。、；：！？,;!?%％"
_UNIT = re.compile(
    rf"(?:（[^（）\n]{{1,10}}）|\([^()\n]{{1,10}}\)|[{re.escape(_OPENERS)}]*(?:[A-Za-z0-9@._\-+/#:&=~]+|.))"
    rf"[{re.escape(_CLOSERS)}]*",
    re.DOTALL,
)
Run = tuple[str, str]  # (face name, text to draw in it)


def code_point_label(code: int) -> str:
    return f"U+{code:04X}"


class Typesetter:
    """One document's text drawing; collects the characters no face could draw."""

    def __init__(self, chain: FontChain) -> None:
        self.chain = chain
        self.font = chain.primary
        self.missing: set[int] = set()

    @property
    def missing_chars(self) -> tuple[str, ...]:
        """`U+XXXX` labels of the characters drawn as placeholders, in code point order."""
        return tuple(code_point_label(code) for code in sorted(self.missing))

    def runs(self, text: str) -> tuple[Run, ...]:
        """The text as runs of (face, text); placeholders replace what no face has."""
        if text.isascii() and text.isprintable():  # every primary face has ASCII; most cells are
            return ((self.font, text),)
        runs, missing = self.chain.runs(text)
        if missing:
            self.missing.update(missing)
        return runs

    def fits_primary(self, text: str) -> bool:
        """True when the text is one run in the primary face (reportlab may draw it directly)."""
        runs = self.runs(text)
        return len(runs) == 1 and runs[0][0] == self.font and runs[0][1] == text

    def width(self, text: str, size: float) -> float:
        if text.isascii() and text.isprintable():  # the fast path of `runs`, without building a tuple
            return float(stringWidth(text, self.font, size))
        runs = self.runs(text)
        if len(runs) == 1:
            return float(stringWidth(runs[0][1], runs[0][0], size))
        return float(sum(stringWidth(part, face, size) for face, part in runs))

    def _unit_width(self, char: str, size: float) -> float:
        if char in "\t\r\n":
            char = " "
        face = self.chain.face_for(ord(char))
        if face is None:
            return float(stringWidth(placeholder(ord(char)), self.font, size))
        return float(stringWidth(char, face, size))

    def wrap(self, text: str, size: float, width: float) -> list[str]:
        """Lines of at most `width`, broken only between units (see `_UNIT`); line breaks in the text are kept.

        Lines are slices of the original text, so drawing them splits and records the same way;
        a placeholder is measured as a whole and never broken. Only a unit wider than the line
        (a long code in a narrow column) is broken inside, by character.
        """
        lines: list[str] = []
        for paragraph in _LINE_BREAK.split(text) if "\n" in text or "\r" in text else (text,):
            if self.width(paragraph, size) <= width:
                lines.append(paragraph)
                continue
            current = ""
            current_width = 0.0
            for unit in _UNIT.findall(paragraph):
                unit_width = sum(self._unit_width(char, size) for char in unit)
                if current and current_width + unit_width > width:
                    lines.append(current)
                    current, current_width = "", 0.0
                if unit_width > width:  # alone on a line and still too wide: break it by character
                    for char in unit:
                        char_width = self._unit_width(char, size)
                        # a closing mark hangs at the end of the line rather than start the next one
                        if current and current_width + char_width > width and char not in _CLOSERS:
                            lines.append(current)
                            current, current_width = "", 0.0
                        current += char
                        current_width += char_width
                    continue
                current += unit
                current_width += unit_width
            if current:
                lines.append(current)
        return lines

    def text_out(self, textobj: Any, text: str) -> None:
        """`textobj.textOut(text)` with per-run faces; the text object's font is restored afterwards."""
        if text.isascii() and text.isprintable() and textobj._fontname == self.font:
            textobj.textOut(text)
            return
        runs = self.runs(text)
        if len(runs) == 1 and runs[0][0] == textobj._fontname:
            textobj.textOut(runs[0][1])
            return
        font, size, leading = textobj._fontname, textobj._fontsize, textobj._leading
        for face, part in runs:
            if face != textobj._fontname:
                textobj.setFont(face, size, leading)
            textobj.textOut(part)
        if textobj._fontname != font:
            textobj.setFont(font, size, leading)

    def draw(self, canv: Any, x: float, y: float, text: str, align: str = "left") -> None:
        """`drawString` / `drawRightString` / `drawCentredString` in the canvas's current size."""
        runs = self.runs(text)
        size = canv._fontsize
        if len(runs) == 1 and runs[0][0] == canv._fontname:
            draw = {"left": canv.drawString, "right": canv.drawRightString, "center": canv.drawCentredString}[align]
            draw(x, y, runs[0][1])
            return
        width = sum(stringWidth(part, face, size) for face, part in runs)
        start = x - width if align == "right" else x - width / 2 if align == "center" else x
        textobj = canv.beginText(start, y)
        self.text_out(textobj, text)
        canv.drawText(textobj)

    def markup(self, text: str) -> str:
        """Paragraph markup: the text escaped, fallback runs wrapped in `<font face=…>`."""
        parts = []
        for face, part in self.runs(text):
            escaped = escape(part)
            parts.append(escaped if face == self.font else f'<font face="{face}">{escaped}</font>')
        return "".join(parts)


class TextLines(TypedFlowable):
    """Pre-wrapped lines drawn through a typesetter: a table cell that needs a fallback face.

    reportlab's Table draws a string cell in one font; cells whose text needs another face
    (rare) become this flowable, the others stay plain strings (cheaper to lay out).
    """

    def __init__(self, ts: Typesetter, lines: list[str], size: float, leading: float) -> None:
        super().__init__()
        self.ts = ts
        self.lines = lines
        self.size = size
        self.leading = leading

    def wrap(self, avail_width: float, avail_height: float) -> tuple[float, float]:
        self.width = max((self.ts.width(line, self.size) for line in self.lines), default=0.0)
        self.height = len(self.lines) * self.leading
        return self.width, self.height

    def draw(self) -> None:
        canv: Any = self.canv
        textobj = canv.beginText()
        textobj.setFont(self.ts.font, self.size, self.leading)
        for n, line in enumerate(self.lines):
            textobj.setTextOrigin(0, self.height - self.size * 0.95 - n * self.leading)
            self.ts.text_out(textobj, line)
        canv.drawText(textobj)
