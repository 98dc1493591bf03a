"""The limits every container guard enforces, and the error that refuses a file.

Kept apart from the guards themselves (validation/zipguard.py, validation/xmlguard.py,
validation/safety.py) so that each of them, and bundle.py, imports one definition without a
cycle. docs/findings.md ("Bundle and file codes") states the same numbers for filers.
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_INFLATED_TOTAL = 50 * 1024 * 1024
"""Largest total inflated size of a workbook or of a bundle zip."""

MAX_RATIO = 100
"""Largest inflated:compressed ratio of one member (above RATIO_FLOOR bytes)."""

RATIO_FLOOR = 1024 * 1024
"""Members inflating to less than this are not ratio-checked: tiny repetitive parts compress well."""

MAX_MEMBERS = 2000
"""Most entries a workbook or bundle zip may hold."""

MAX_SHEET_ROWS = 100_000
"""A worksheet whose <dimension> or cells reach beyond this row is refused (the reader also caps rows)."""

MAX_SHEET_CELLS = 2_000_000
"""Largest rows x columns grid a worksheet may span: calamine allocates it densely (~32 bytes a cell)."""

MAX_SHARED_STRINGS = 200_000
"""Most shared strings a workbook may hold; a 10,000-investor filing needs a few tens of thousands."""

STRINGS_SCAN_BYTES = 1024 * 1024
"""Shared-strings parts above this declared size have their strings counted."""

MAX_PROLOG_BYTES = 64 * 1024
"""How far into an XML part the root element must start; the DOCTYPE can only live before it."""

DEFLATE_MAX_RATIO = 1033
"""Upper bound of deflate's expansion: a member cannot inflate beyond this many times its size."""

KEEP_INFLATED_BYTES = 8 * 1024 * 1024
"""Most inflated XML that verify_inflation hands on to the worksheet checks instead of inflating it twice."""


class BundleError(Exception):
    """A bundle or workbook that cannot be read at all (exit 2), with a Chinese message for the filer.

    `code` is stable kebab-case (documented in docs/findings.md), `message` says what is wrong
    and where in Chinese, `detail` carries technical context for logs (never shown as the reason).
    """

    def __init__(self, code: str, message: str, detail: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.detail = detail

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"BundleError(code={self.code!r}, message={self.message!r}, detail={self.detail!r})"


@dataclass(frozen=True)
class ContainerKind:
    """Wording and code prefix for the container being inspected: a workbook or a bundle zip."""

    prefix: str
    label: str

    def where(self, name: str) -> str:
        """How messages name the file: by its name when known, else by what it is."""
        return f"“{name}”" if name else self.label


WORKBOOK = ContainerKind("workbook", "登记表工作簿")
BUNDLE = ContainerKind("bundle", "报送压缩包")


def plain_member(member: str) -> str:
    """How messages name a member that is not a worksheet: its name in quotes."""
    return f"“{member}”"
