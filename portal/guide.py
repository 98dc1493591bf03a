"""The user guide (用户手册) for filers and reviewers: one source, served as 帮助 pages and as one PDF.

The chapters are Markdown written in Chinese under templates/web/help/, passed through Jinja2
first so that what depends on this deployment (the portal's address, the SMTP settings to
enter in Outlook, the support contact, the password policy) and what depends on the code (the
workbook's fields sheet by sheet, from validation's field spec; every finding code, from
help/findings.toml) are filled in where they are written. The Markdown is parsed once into
tokens (markdown-it, raw HTML off: nothing in a chapter becomes markup it did not ask for);
the pages render those tokens to HTML and `portal.guide_pdf` lays the same tokens out as a PDF.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markdown_it import MarkdownIt
from markdown_it.token import Token
from markupsafe import Markup

from portal.config import PortalConfig
from validation.catalogue import ALLOWED_EXTENSIONS, DOC_APPLICATION, DOC_KINDS, MAX_ATTACHMENT_BYTES, REQUIRED_DOCS
from validation.spec import FIELD_LIST, TABLES

# (slug, title, source file): the order of the guide
CHAPTERS: tuple[tuple[str, str, str], ...] = (
    ("login", "登录与修改密码", "01-login.md.j2"),
    ("workbook", "填写登记表工作簿", "02-workbook.md.j2"),
    ("attachments", "附件（合规性资料）", "03-attachments.md.j2"),
    ("submit", "报送的三种方式", "04-submit.md.j2"),
    ("answers", "回执与错误工作簿", "05-answers.md.j2"),
    ("review", "审核", "06-review.md.j2"),
    ("print", "打表/打证", "07-print.md.j2"),
    ("verify", "文件核验", "08-verify.md.j2"),
    ("findings", "错误代码说明", "09-findings.md.j2"),
    ("support", "技术支持", "10-support.md.j2"),
)
SEVERITY_ZH = {"error": "错误", "warning": "提示", "refused": "无法受理"}
SHEET_INTRO = {
    "登记信息": "本次登记的类型、情形、时期和填报单位。",
    "基本信息": "企业的基本情况，按营业执照和章程填写。",
}
_HEADING_ID = re.compile(r"\s*\[#([a-z0-9-]+)\]\s*$")


def findings_path(help_dir: Path) -> Path:
    return help_dir / "findings.toml"


def finding_groups(help_dir: Path) -> list[dict[str, Any]]:
    """The finding catalogue of the guide (help/findings.toml), group by group."""
    with findings_path(help_dir).open("rb") as handle:
        groups: list[dict[str, Any]] = tomllib.load(handle)["group"]
    return groups


def finding_codes(help_dir: Path) -> list[str]:
    return [f["code"] for group in finding_groups(help_dir) for f in group["finding"]]


@dataclass(frozen=True)
class Chapter:
    slug: str
    title: str
    tokens: list[Token]
    html: Markup

    @property
    def anchors(self) -> list[str]:
        return [str(t.attrs["id"]) for t in self.tokens if t.type == "heading_open" and "id" in t.attrs]


def markdown() -> MarkdownIt:
    return MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).enable("table")


def _take_heading_ids(tokens: list[Token]) -> None:
    """`### title [#id]` gives the heading that id (the anchors every finding code links to)."""
    for index, token in enumerate(tokens):
        if token.type != "heading_open" or index + 1 >= len(tokens):
            continue
        inline = tokens[index + 1]
        found = _HEADING_ID.search(inline.content)
        if found is None:
            continue
        token.attrSet("id", found.group(1))
        inline.content = inline.content[: found.start()]
        if inline.children:
            last = inline.children[-1]
            last.content = _HEADING_ID.sub("", last.content)


class Guide:
    """The chapters for one deployment, rendered once (they change only with the configuration)."""

    def __init__(self, config: PortalConfig, help_dir: Path, *, policy: Any, lockout: tuple[int, int]) -> None:
        self.config = config
        self.help_dir = help_dir
        self.policy = policy
        self.lockout = lockout
        self.site_name = f"{config.supervisor_name}产权登记系统"

    def context(self) -> dict[str, Any]:
        sheets: dict[str, list[dict[str, str]]] = {}
        for spec in FIELD_LIST:
            sheets.setdefault(spec.sheet, []).append(
                {"cell": spec.cell, "label": spec.label, "requirement": spec.requirement.describe(), "help": spec.help}
            )
        door = self.config.mail_door
        optional = [kind for kind in DOC_KINDS if not any(kind in kinds for kinds in REQUIRED_DOCS.values())]
        return {
            "site_name": self.site_name,
            "supervisor_name": self.config.supervisor_name,
            "public_url": self.config.public_url.rstrip("/"),
            "support": self.config.support,
            "door": door,
            "door_max_mb": f"{door.max_message_bytes / (1024 * 1024):g}",
            "verify_max_mb": f"{self.config.verify_max_bytes / (1024 * 1024):g}",
            "policy": self.policy,
            "lockout": {"failures": self.lockout[0], "minutes": self.lockout[1]},
            "idle_minutes": self.config.session_idle_minutes,
            "sheets": [
                {"name": name, "intro": SHEET_INTRO.get(name, ""), "fields": rows} for name, rows in sheets.items()
            ],
            "tables": [
                {
                    "sheet": table.sheet,
                    "label": table.label,
                    "help": table.help,
                    "columns": [
                        {"column": c.column, "label": c.label, "requirement": c.requirement.describe(), "help": c.help}
                        for c in table.columns
                    ],
                }
                for table in TABLES
            ],
            "extensions": "、".join(ext.upper() for ext in ALLOWED_EXTENSIONS),
            "max_attachment_mb": f"{MAX_ATTACHMENT_BYTES / (1024 * 1024):g}",
            "required_docs": [(kind, "、".join(docs)) for kind, docs in REQUIRED_DOCS.items()],
            "optional_docs": "、".join(k for k in optional if k != DOC_APPLICATION) or "无",
            "findings": [{**g, "findings": g["finding"]} for g in finding_groups(self.help_dir)],
            "severity_zh": SEVERITY_ZH,
        }

    @cached_property
    def chapters(self) -> list[Chapter]:
        env = Environment(
            loader=FileSystemLoader(str(self.help_dir)),
            autoescape=False,  # the output is Markdown, parsed with raw HTML off
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
        )
        context = self.context()
        md = markdown()
        out = []
        for slug, title, source in CHAPTERS:
            text = env.get_template(source).render(context)
            tokens = md.parse(text)
            _take_heading_ids(tokens)
            out.append(Chapter(slug, title, tokens, Markup(md.renderer.render(tokens, md.options, {}))))
        return out

    def chapter(self, slug: str) -> Chapter | None:
        return next((c for c in self.chapters if c.slug == slug), None)
