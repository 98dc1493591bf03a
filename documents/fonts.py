"""The CJK faces every document uses: one primary face and a fallback chain, registered once per process.

reportlab cannot embed CFF/OTF outlines, so every face must be TrueType (glyf); Debian's
fonts-wqy-zenhei is the primary one. It has no CJK Extension B-G, which the GB 18030-2022
repertoire includes, so characters it lacks go to the first fallback face whose cmap has
them (fonts-hanazono's HanaMinA/HanaMinB, then fonts-babelstone-han). Fallback faces are
loaded only when a text first needs one: BabelStoneHan alone takes ~0.7 s to parse, and
most documents never leave the primary face. A character no face has is drawn as a
visible placeholder and reported (see `documents/typeset.py`), never dropped.

Every text object in our PDFs uses these faces: the standard 14 fonts are never
embedded, and a PDF that relies on them renders differently from reader to reader.
"""

from __future__ import annotations

import functools
import hashlib
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reportlab.pdfbase import pdfdoc, pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

DEFAULT_FONT_FILE = "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"
DEFAULT_FALLBACK_FONT_FILES: tuple[str, ...] = (
    "/usr/share/fonts/truetype/hanazono/HanaMinA.ttf",
    "/usr/share/fonts/truetype/hanazono/HanaMinB.ttf",
    "/usr/share/fonts/truetype/babelstone/BabelStoneHan.ttf",
)
# which Debian package ships a default face, for the message when it is missing
FONT_PACKAGES = {
    DEFAULT_FONT_FILE: "fonts-wqy-zenhei",
    DEFAULT_FALLBACK_FONT_FILES[0]: "fonts-hanazono",
    DEFAULT_FALLBACK_FONT_FILES[1]: "fonts-hanazono",
    DEFAULT_FALLBACK_FONT_FILES[2]: "fonts-babelstone-han",
}
FONT_NAME = "ChanquanCJK"
PLACEHOLDER_MARK = "〓"  # the typesetter's mark for a missing glyph (缺字符号)

_lock = threading.Lock()
_registered: dict[str, str] = {}
_TAG_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def placeholder(code: int) -> str:
    """What the page shows for a character no embedded face has: the mark around its code point."""
    return f"{PLACEHOLDER_MARK}U+{code:04X}{PLACEHOLDER_MARK}"


class FontError(Exception):
    """A configured font cannot be loaded."""

    def __init__(self, font_file: str, message_zh: str) -> None:
        super().__init__(message_zh)
        self.font_file = font_file
        self.message_zh = message_zh


def subset_tag(face_id: bytes, subset: Sequence[int], taken: dict[str, bytes]) -> str:
    """Six letters derived from the face and the subset's code points, distinct within one document.

    reportlab names subset n of every face `AAAAAA+…`, `AAAAAB+…`, so the page's subset and the
    signature stamp's (drawn as a separate document) both came out `AAAAAA+WenQuanYiZenHei-0`;
    PDF readers may treat equal tags of one face as one font program and show wrong glyphs.
    A content hash keeps the tag deterministic (same text, same file) and distinct across
    separately built documents; `taken` resolves the rare collision inside one document.
    """
    key = face_id + b"\0" + ",".join(map(str, subset)).encode("ascii")
    salt = 0
    while True:
        digest = hashlib.sha256(key + (b"#%d" % salt if salt else b"")).digest()
        number = int.from_bytes(digest[:8], "big")
        letters = []
        for _ in range(6):
            number, rest = divmod(number, 26)
            letters.append(_TAG_LETTERS[rest])
        tag = "".join(letters)
        if taken.setdefault(tag, key) == key:
            return tag
        salt += 1


def to_unicode_cmap(fontname: str, subset: Sequence[int]) -> str:
    """reportlab's ToUnicode CMap, but with UTF-16 surrogate pairs for code points beyond the BMP.

    reportlab writes `<%04X>` of the code point, which for 𠮷 (U+20BB7) is the invalid
    five-digit `<20BB7>`: text extraction and copy-paste then lose exactly the characters
    the fallback faces exist for.
    """
    entries = [f"<{i:02X}> <{chr(v).encode('utf-16-be').hex().upper()}>" for i, v in enumerate(subset)]
    return "\n".join(
        [
            "/CIDInit /ProcSet findresource begin",
            "12 dict begin",
            "begincmap",
            "/CIDSystemInfo",
            f"<< /Registry ({fontname})",
            f"/Ordering ({fontname})",
            "/Supplement 0",
            ">> def",
            f"/CMapName /{fontname} def",
            "/CMapType 2 def",
            "1 begincodespacerange",
            f"<00> <{len(subset) - 1:02X}>",
            "endcodespacerange",
            f"{len(subset)} beginbfchar",
            *entries,
            "endbfchar",
            "endcmap",
            "CMapName currentdict /CMap defineresource pop",
            "end",
            "end",
        ]
    )


if TYPE_CHECKING:

    class _TTFontBase:
        """What the type checker sees of reportlab's TTFont: reportlab ships no types."""

        def __init__(self, name: str, filename: str, subfontIndex: int = 0) -> None: ...

        def __getattr__(self, name: str) -> Any: ...

else:
    _TTFontBase = TTFont


class TaggedTTFont(_TTFontBase):
    """reportlab's TTFont with content-derived subset tags and an astral-safe ToUnicode CMap.

    `addObjects` follows reportlab 4/5's own (it is what the document calls when it writes
    the font objects); only the base font name and the CMap differ.
    """

    def addObjects(self, doc: Any) -> None:
        try:
            state = self.state[doc]
        except KeyError:
            state = self.state[doc] = TTFont.State(self._asciiReadable, self)
        state.frozen = 1
        taken: dict[str, bytes] = doc.__dict__.setdefault("_chanquan_subset_tags", {})
        face_id = bytes(self.face.name) + bytes(self.face.subfontNameX)
        font_dict = doc.idToObject["BasicFonts"].dict
        for n, subset in enumerate(state.subsets):
            internal_name = self.getSubsetInternalName(n, doc)[1:]
            base_font_name = f"{subset_tag(face_id, subset, taken)}+{face_id.decode('latin-1')}"
            pdf_font = pdfdoc.PDFTrueTypeFont()
            pdf_font.__Comment__ = f"Font {self.fontName} subset {n}"
            pdf_font.Name = internal_name
            pdf_font.BaseFont = base_font_name
            pdf_font.FirstChar = 0
            pdf_font.LastChar = len(subset) - 1
            pdf_font.Widths = pdfdoc.PDFArray(list(map(self.face.getCharWidth, subset)))
            cmap_stream = pdfdoc.PDFStream()
            cmap_stream.content = to_unicode_cmap(base_font_name, subset)
            if doc.compression:
                cmap_stream.filters = [pdfdoc.PDFZCompress]
            pdf_font.ToUnicode = doc.Reference(cmap_stream, "toUnicodeCMap:" + base_font_name)
            pdf_font.FontDescriptor = self.face.addSubsetObjects(doc, base_font_name, subset)
            doc.Reference(pdf_font, internal_name)
            font_dict[internal_name] = pdf_font
        del self.state[doc]


def register_cjk_font(font_file: str = DEFAULT_FONT_FILE) -> str:
    """Registers the face under a stable name and returns that name (idempotent, thread-safe)."""
    with _lock:
        name = _registered.get(font_file)
        if name is not None:
            return name
        name = FONT_NAME if not _registered else f"{FONT_NAME}{len(_registered)}"
        path = Path(font_file)
        if not path.is_file():
            package = FONT_PACKAGES.get(font_file)
            hint = f"请安装 Debian 软件包 {package}（scripts/bootstrap.sh 会安装），或" if package else "请"
            raise FontError(
                font_file, f"找不到字体文件 {font_file}：{hint}检查 pdf.font_file / pdf.fallback_font_files 设置。"
            )
        try:
            font = TaggedTTFont(name, str(path), subfontIndex=0)
        except Exception as exc:
            raise FontError(font_file, f"无法加载字体 {font_file}：{exc}") from exc
        # reportlab copies whole tables (glyf is ~10 MB here) out of the file for every subset it
        # embeds; the tables never change, so keep each one after its first copy.
        font.face.get_table = functools.lru_cache(maxsize=None)(font.face.get_table)
        pdfmetrics.registerFont(font)
        _registered[font_file] = name
        return name


def _cmap(name: str) -> Any:
    """The face's code point -> glyph map (a dict; only membership is used)."""
    return pdfmetrics.getFont(name).face.charToGlyph


class FontChain:
    """The primary face and its fallbacks; answers which face draws a character.

    Thread-safe: fallback faces are registered under the module lock, and the per-text
    split is an lru_cache (investor categories, labels and dates repeat on every page, and
    a cell is measured, wrapped and drawn: the split must cost one lookup after the first).
    """

    def __init__(self, primary_file: str, fallback_files: Sequence[str]) -> None:
        self.primary = register_cjk_font(primary_file)
        self.files = (primary_file, *fallback_files)
        self._cmaps: list[Any] = [_cmap(self.primary)]
        self._names: list[str] = [self.primary]
        self._load_lock = threading.Lock()
        self.runs = functools.lru_cache(maxsize=16384)(self._runs)

    def face_for(self, code: int) -> str | None:
        """The name of the first face whose cmap has `code`, loading fallbacks as far as needed."""
        for index in range(len(self.files)):
            if index == len(self._cmaps):
                self._load(index)
            if code in self._cmaps[index]:
                return self._names[index]
        return None

    def _load(self, index: int) -> None:
        with self._load_lock:
            if len(self._cmaps) == index:  # another thread may have loaded it meanwhile
                name = register_cjk_font(self.files[index])
                self._names.append(name)
                self._cmaps.append(_cmap(name))

    def _runs(self, text: str) -> tuple[tuple[tuple[str, str], ...], tuple[int, ...]]:
        """Runs of (face name, text to draw) in order, and the code points no face has.

        A character no face has becomes `placeholder(code)` in the primary face. Tab and line
        breaks become spaces (a run is drawn on one line).
        """
        runs: list[tuple[str, str]] = []
        missing: list[int] = []
        current = self.primary
        chars: list[str] = []
        for original in text:
            char = " " if original in "\t\r\n" else original
            face = self.face_for(ord(char))
            if face is None:
                missing.append(ord(char))
                face, char = self.primary, placeholder(ord(char))
            if face != current and chars:
                runs.append((current, "".join(chars)))
                chars = []
            current = face
            chars.append(char)
        if chars or not runs:
            runs.append((current, "".join(chars)))
        return tuple(runs), tuple(dict.fromkeys(missing))


_chains: dict[tuple[str, tuple[str, ...]], FontChain] = {}


def font_chain(
    font_file: str = DEFAULT_FONT_FILE, fallback_files: Sequence[str] = DEFAULT_FALLBACK_FONT_FILES
) -> FontChain:
    """The process-wide chain for these files (its split cache is shared by every document)."""
    key = (font_file, tuple(fallback_files))
    chain = _chains.get(key)
    if chain is None:
        chain = _chains.setdefault(key, FontChain(font_file, key[1]))
    return chain


def canvas_maker(font_name: str) -> Any:
    """A Canvas factory whose initial font is the CJK face.

    With a dynamic (TrueType) initial font reportlab writes no `/F1 12 Tf` preamble,
    so no page ever references Helvetica.
    """
    return functools.partial(Canvas, initialFontName=font_name, pageCompression=1)
