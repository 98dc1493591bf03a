"""The one CJK face every document uses, registered once per process.

reportlab cannot embed CFF/OTF outlines, so the face must be a TrueType collection
member; Debian's fonts-wqy-zenhei is one. Loading it costs ~0.2 s, hence the cache.
Every text object in our PDFs must use this face: the standard 14 fonts are never
embedded, and a PDF that relies on them renders differently from reader to reader.
"""

from __future__ import annotations

import functools
import threading
from pathlib import Path
from typing import Any

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

DEFAULT_FONT_FILE = "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"
FONT_NAME = "ChanquanCJK"

_lock = threading.Lock()
_registered: dict[str, str] = {}


class FontError(Exception):
    """The configured CJK font cannot be loaded."""

    def __init__(self, font_file: str, message_zh: str) -> None:
        super().__init__(message_zh)
        self.font_file = font_file
        self.message_zh = message_zh


def register_cjk_font(font_file: str = DEFAULT_FONT_FILE) -> str:
    """Registers the face under a stable name and returns that name (idempotent, thread-safe)."""
    with _lock:
        name = _registered.get(font_file)
        if name is not None:
            return name
        name = FONT_NAME if not _registered else f"{FONT_NAME}{len(_registered)}"
        path = Path(font_file)
        if not path.is_file():
            raise FontError(
                font_file, f"找不到中文字体文件 {font_file}（请安装 fonts-wqy-zenhei，或在 pdf.font_file 中配置）。"
            )
        try:
            font = TTFont(name, str(path), subfontIndex=0)
        except Exception as exc:
            raise FontError(font_file, f"无法加载中文字体 {font_file}：{exc}") from exc
        # reportlab copies whole tables (glyf is ~10 MB here) out of the file for every subset it
        # embeds; the tables never change, so keep each one after its first copy.
        font.face.get_table = functools.lru_cache(maxsize=None)(font.face.get_table)
        pdfmetrics.registerFont(font)
        _registered[font_file] = name
        return name


def canvas_maker(font_name: str) -> Any:
    """A Canvas factory whose initial font is the CJK face.

    With a dynamic (TrueType) initial font reportlab writes no `/F1 12 Tf` preamble,
    so no page ever references Helvetica.
    """
    return functools.partial(Canvas, initialFontName=font_name, pageCompression=1)
