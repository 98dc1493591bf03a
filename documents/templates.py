"""Print templates: TOML files under templates/print/, read into pydantic models, chosen by name.

A template only says how a document looks (orientation, margins, sizes, which sections);
what it says comes from the registration, and what a document is called is not a layout
choice: the title is the document type's official name in every template. Keeping layouts as
TOML lets an administrator add one without touching code; the model states every key, its
type, range and default once, so a mistake is refused naming the file and the key.

The files ship as package data of `documents.print_templates` (pyproject.toml maps that
package onto templates/print/), so an installed wheel reads them exactly as a checkout does.
"""

from __future__ import annotations

import tomllib
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_core import ErrorDetails

FORM = "登记表"
CERTIFICATE = "登记证"
DOC_TYPES = (FORM, CERTIFICATE)
TITLES = {FORM: "国家出资企业产权登记表", CERTIFICATE: "国家出资企业产权登记证"}

FORM_SECTIONS = ("registration", "basic", "investors", "documents", "reviews")
CERTIFICATE_SECTIONS = ("identity", "registration", "capital", "investors_summary")
SECTIONS = {FORM: FORM_SECTIONS, CERTIFICATE: CERTIFICATE_SECTIONS}

PRINT_TEMPLATES_PACKAGE = "documents.print_templates"


class TemplateError(Exception):
    """A template is unknown or malformed; `message_zh` is shown to the user."""

    def __init__(self, name: str, message_zh: str) -> None:
        super().__init__(message_zh)
        self.name = name
        self.message_zh = message_zh


class _Strict(BaseModel):
    # strict: TOML is typed, so "18" for a size or "true" for a flag is a mistake to report, not to coerce
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class Margins(_Strict):
    top: float = Field(18.0, ge=0, le=80)
    bottom: float = Field(18.0, ge=0, le=80)
    left: float = Field(15.0, ge=0, le=80)
    right: float = Field(15.0, ge=0, le=80)


class PrintTemplate(_Strict):
    """One template file; `name` is what `--template` takes, `document` the type it lays out."""

    name: str = Field(min_length=1)
    document: Literal["登记表", "登记证"]
    description: str = ""
    orientation: Literal["portrait", "landscape"] = "portrait"
    margins_mm: Margins = Field(default_factory=Margins)
    title_size: float = Field(18.0, gt=0, le=48)
    font_size: float = Field(9.5, gt=0, le=24)
    table_font_size: float = Field(8.5, gt=0, le=24)
    sections: tuple[str, ...] = Field((), strict=False)  # TOML arrays arrive as lists; empty: all, in order
    show_border: bool = True
    footer: str = ""

    @model_validator(mode="after")
    def _known_sections(self) -> PrintTemplate:
        allowed = SECTIONS[self.document]
        unknown = [s for s in self.sections if s not in allowed]
        if unknown:
            raise ValueError(f"栏目 {'、'.join(unknown)} 不存在；{self.document}可用的栏目：{'、'.join(allowed)}")
        return self

    @property
    def doc_type(self) -> str:
        return self.document

    @property
    def title(self) -> str:
        return TITLES[self.document]

    @property
    def parts(self) -> tuple[str, ...]:
        """The sections in print order: the file's list, or every section of the document type."""
        return self.sections or SECTIONS[self.document]

    @property
    def landscape(self) -> bool:
        return self.orientation == "landscape"


_TYPE_NAMES = {"float_type": "数字", "bool_type": "true 或 false", "string_type": "文字", "model_type": "表"}


def _problem(error: ErrorDetails) -> str:
    """One pydantic error as the Chinese clause after the file name."""
    key = ".".join(str(part) for part in error["loc"]) or "（整个文件）"
    kind = error["type"]
    ctx = error.get("ctx") or {}
    if kind == "extra_forbidden":
        return f"中有未知的设置项 {key}"
    if kind == "missing":
        return f"缺少设置项 {key}"
    if kind == "literal_error":
        return f"的 {key} 必须是 {str(ctx.get('expected', '')).replace(' or ', ' 或 ')}"
    if kind in _TYPE_NAMES:
        return f"中 {key} 的取值类型不正确，应为{_TYPE_NAMES[kind]}"
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal", "string_too_short"):
        return f"中 {key} 的取值 {error['input']!r} 超出允许范围"
    if kind == "value_error":
        return f"中{ctx.get('error', error['msg'])}"
    return f"中 {key} 的取值类型不正确"


def parse_template_text(text: str, file_name: str) -> PrintTemplate:
    """Reads one template file's text; every mistake is reported with the file and the key."""
    stem = file_name.removesuffix(".toml")
    try:
        raw: dict[str, Any] = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise TemplateError(stem, f"打印模板 {file_name} 无法读取：{exc}") from exc
    if "title" in raw:
        official = TITLES.get(str(raw.get("document")), "、".join(TITLES.values()))
        raise TemplateError(
            stem, f"打印模板 {file_name} 中不能设置 title：文件标题统一为“{official}”，请删除 title 这一行。"
        )
    raw.setdefault("name", stem.split("-", 1)[-1])
    try:
        return PrintTemplate.model_validate(raw)
    except ValidationError as exc:
        raise TemplateError(stem, f"打印模板 {file_name} {_problem(exc.errors()[0])}。") from exc


def parse_template(path: Path) -> PrintTemplate:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise TemplateError(path.stem, f"打印模板 {path.name} 无法读取：{exc}") from exc
    return parse_template_text(text, path.name)


def packaged_templates() -> Traversable:
    """templates/print as shipped: a package resource, in a wheel as in a checkout."""
    return files(PRINT_TEMPLATES_PACKAGE)


class TemplateCatalog:
    """All templates of one folder (the shipped ones by default), by document type and name."""

    def __init__(self, directory: Traversable | None = None) -> None:
        self.directory = directory if directory is not None else packaged_templates()
        self._by_type: dict[str, dict[str, PrintTemplate]] = {t: {} for t in DOC_TYPES}
        sources: dict[tuple[str, str], str] = {}
        entries = sorted((e for e in self.directory.iterdir() if e.name.endswith(".toml")), key=lambda e: e.name)
        for entry in entries:
            try:
                text = entry.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise TemplateError(entry.name, f"打印模板 {entry.name} 无法读取：{exc}") from exc
            template = parse_template_text(text, entry.name)
            key = (template.doc_type, template.name)
            if key in sources:
                raise TemplateError(
                    template.name,
                    f"打印模板 {sources[key]} 和 {entry.name} 都是名为“{template.name}”的{template.doc_type}模板，"
                    "请改名其中一个。",
                )
            sources[key] = entry.name
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
