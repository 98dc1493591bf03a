"""Print templates: data files under templates/print/, chosen by name.

A template only says how a document looks (orientation, margins, sizes, titles, which
sections); what it says comes from the registration. Keeping them as TOML lets an
administrator add a layout without touching code.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

FORM = "登记表"
CERTIFICATE = "登记证"
DOC_TYPES = (FORM, CERTIFICATE)

FORM_SECTIONS = ("registration", "basic", "investors", "documents", "reviews")
CERTIFICATE_SECTIONS = ("identity", "registration", "capital", "investors_summary")

DEFAULT_TEMPLATES_DIR = Path(__file__).resolve().parents[1] / "templates" / "print"


class TemplateError(Exception):
    """A template is unknown or malformed; `message_zh` is shown to the user."""

    def __init__(self, name: str, message_zh: str) -> None:
        super().__init__(message_zh)
        self.name = name
        self.message_zh = message_zh


@dataclass(frozen=True)
class PrintTemplate:
    name: str
    doc_type: str
    title: str
    description: str = ""
    landscape: bool = False
    margin_top_mm: float = 18.0
    margin_bottom_mm: float = 18.0
    margin_left_mm: float = 15.0
    margin_right_mm: float = 15.0
    title_size: float = 18.0
    font_size: float = 9.5
    table_font_size: float = 8.5
    sections: tuple[str, ...] = field(default_factory=tuple)
    show_border: bool = True
    footer: str = ""
    path: Path | None = None


_FIELDS = {
    "name": str,
    "document": str,
    "title": str,
    "description": str,
    "orientation": str,
    "margins_mm": dict,
    "title_size": (int, float),
    "font_size": (int, float),
    "table_font_size": (int, float),
    "sections": list,
    "show_border": bool,
    "footer": str,
}


def parse_template(path: Path) -> PrintTemplate:
    """Reads one template file; every mistake is reported with the file and the key."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise TemplateError(path.stem, f"打印模板 {path.name} 无法读取：{exc}") from exc
    for key, value in raw.items():
        expected = _FIELDS.get(key)
        if expected is None:
            raise TemplateError(path.stem, f"打印模板 {path.name} 中有未知的设置项 {key}。")
        if not isinstance(value, expected):  # type: ignore[arg-type]
            raise TemplateError(path.stem, f"打印模板 {path.name} 中 {key} 的取值类型不正确。")
    doc_type = raw.get("document", "")
    if doc_type not in DOC_TYPES:
        raise TemplateError(path.stem, f"打印模板 {path.name} 的 document 必须是 登记表 或 登记证。")
    allowed = FORM_SECTIONS if doc_type == FORM else CERTIFICATE_SECTIONS
    sections = tuple(str(s) for s in raw.get("sections", allowed))
    unknown = [s for s in sections if s not in allowed]
    if unknown:
        raise TemplateError(
            path.stem, f"打印模板 {path.name} 中的栏目 {'、'.join(unknown)} 不存在；可用：{'、'.join(allowed)}。"
        )
    orientation = raw.get("orientation", "portrait")
    if orientation not in ("portrait", "landscape"):
        raise TemplateError(path.stem, f"打印模板 {path.name} 的 orientation 必须是 portrait 或 landscape。")
    margins = raw.get("margins_mm", {})
    return PrintTemplate(
        name=str(raw.get("name", path.stem.split("-", 1)[-1])),
        doc_type=doc_type,
        title=str(raw.get("title", "")),
        description=str(raw.get("description", "")),
        landscape=orientation == "landscape",
        margin_top_mm=float(margins.get("top", 18)),
        margin_bottom_mm=float(margins.get("bottom", 18)),
        margin_left_mm=float(margins.get("left", 15)),
        margin_right_mm=float(margins.get("right", 15)),
        title_size=float(raw.get("title_size", 18)),
        font_size=float(raw.get("font_size", 9.5)),
        table_font_size=float(raw.get("table_font_size", 8.5)),
        sections=sections,
        show_border=bool(raw.get("show_border", True)),
        footer=str(raw.get("footer", "")),
        path=path,
    )


class TemplateCatalog:
    """All templates of one folder, by document type and name."""

    def __init__(self, directory: Path = DEFAULT_TEMPLATES_DIR) -> None:
        self.directory = directory
        self._by_type: dict[str, dict[str, PrintTemplate]] = {t: {} for t in DOC_TYPES}
        for path in sorted(directory.glob("*.toml")):
            template = parse_template(path)
            self._by_type[template.doc_type][template.name] = template

    def names(self, doc_type: str) -> list[str]:
        return list(self._by_type[doc_type])

    def all(self) -> list[PrintTemplate]:
        return [t for by_name in self._by_type.values() for t in by_name.values()]

    def get(self, doc_type: str, name: str) -> PrintTemplate:
        template = self._by_type[doc_type].get(name)
        if template is None:
            available = "、".join(self.names(doc_type)) or "（无）"
            raise TemplateError(name, f"没有名为“{name}”的{doc_type}打印模板；可用的模板：{available}。")
        return template
