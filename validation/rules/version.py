"""The workbook must be a template version this service understands."""

from __future__ import annotations

from collections.abc import Iterator

from validation.findings import ERROR, Finding, where
from validation.rules.base import RuleContext
from validation.spec import SUPPORTED_TEMPLATE_VERSIONS, TEMPLATE_SOURCE_HINT, VERSION_CELL, VERSION_SHEET

VERSION_CODES = frozenset({"template-version-missing", "template-version-unknown"})


def check_template_version(ctx: RuleContext) -> Iterator[Finding]:
    version = ctx.registration.template_version
    loc = where(VERSION_SHEET, VERSION_CELL)
    if version is None:
        yield Finding(
            "template-version-missing",
            ERROR,
            VERSION_SHEET,
            VERSION_CELL,
            "template_version",
            "",
            f"这不是标准登记表模板（缺少模板版本 template_version，应在{loc}），无法审核。{TEMPLATE_SOURCE_HINT}。",
        )
    elif version not in SUPPORTED_TEMPLATE_VERSIONS:
        current = "、".join(sorted(SUPPORTED_TEMPLATE_VERSIONS))
        yield Finding(
            "template-version-unknown",
            ERROR,
            VERSION_SHEET,
            VERSION_CELL,
            "template_version",
            version,
            f"{loc}的模板版本“{version}”不是当前使用的版本（{current}），无法审核。{TEMPLATE_SOURCE_HINT}，"
            "将数据填入新模板后重新报送。",
        )
