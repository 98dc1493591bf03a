"""The enterprise tree: units, their place under the supervising body, and lookups over it.

Units live in the `wf_units` projection (rebuilt from `unit.*` events); this module reads
it. A unit is never deleted from that table, which is what keeps assigned overseas user
names from ever being handed out twice.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field

from validation.codes import is_uscc_format, is_valid_org_code, is_valid_uscc, normalize_org_code, org_code_of_uscc

HOLDINGS: tuple[str, ...] = ("国有全资", "国有绝对控股", "国有实际控制", "国有参股")
MINORITY = "国有参股"
_HOLDING_ALIASES = {
    "全资": "国有全资",
    "独资": "国有全资",
    "国有独资": "国有全资",
    "绝对控股": "国有绝对控股",
    "控股": "国有绝对控股",
    "实际控制": "国有实际控制",
    "参股": "国有参股",
}
LEVEL_NAMES: tuple[str, ...] = ("一级", "二级", "三级", "四级", "五级")
OVERSEAS_PREFIX = "JW"

# Who files the registrations below a first-level enterprise (docs/workflow.md, "Who files for whom"):
# the manual's base rule, or, once SASAC approved the group's application, its holder or one named unit.
SELF, HOLDER, DESIGNATED = "self", "holder", "designated"
DESIGNATION_MODES: tuple[str, ...] = (SELF, HOLDER, DESIGNATED)
MODE_ZH = {SELF: "各单位自行填报", HOLDER: "产权持有单位填报", DESIGNATED: "指定单位填报"}


class UnitError(Exception):
    """A unit change was refused; `message_zh` says why (and `row` where, for imports)."""

    def __init__(self, message_zh: str, row: int | None = None) -> None:
        super().__init__(message_zh)
        self.message_zh = message_zh
        self.row = row


def normalize_unit_code(text: str) -> tuple[str, str | None]:
    """(code, problem): a 9-character organization code, or the one inside an 18-character USCC."""
    code = normalize_org_code(text)
    if len(code) == 18 and is_uscc_format(code):
        if not is_valid_uscc(code):
            return code, f"统一社会信用代码 {code} 校验位错误"
        code = org_code_of_uscc(code)
    if not is_valid_org_code(code):
        return code, f"组织机构代码 {code or '（空）'} 不是有效的9位组织机构代码（GB 11714，校验位错误或位数不对）"
    return code, None


Reader = Callable[[], AbstractContextManager[sqlite3.Connection]]


def normalize_holding(text: str) -> str | None:
    """One of HOLDINGS for what people type (全资, 参股, ...), or None when it is not one."""
    value = text.strip()
    if not value:
        return "国有全资"
    if value in HOLDINGS:
        return value
    return _HOLDING_ALIASES.get(value)


def level_name(level: int) -> str:
    """The workbook's 企业级次 for a tree level (1 = 一级 ... 6 and deeper = 六级及以下)."""
    if level <= 0:
        return ""
    return LEVEL_NAMES[level - 1] if level <= len(LEVEL_NAMES) else "六级及以下"


_EMAIL_RE = re.compile(r"^[^@\s;,<>]+@[^@\s;,<>]+\.[^@\s;,<>]+$")


def split_emails(text: str) -> tuple[list[str], list[str]]:
    """(valid addresses lowercased and deduplicated, rejected pieces) from `a@x; b@y, c@z`."""
    good: list[str] = []
    bad: list[str] = []
    for piece in re.split(r"[;,；，\s]+", text.strip()):
        if not piece:
            continue
        address = piece.strip().lower()
        if _EMAIL_RE.match(address):
            if address not in good:
                good.append(address)
        else:
            bad.append(piece)
    return good, bad


@dataclass(frozen=True)
class Unit:
    code: str
    name: str
    level: int
    parent: str
    overseas: bool = False
    holding: str = "国有全资"
    filer_emails: list[str] = field(default_factory=list)
    reviewer_emails: list[str] = field(default_factory=list)
    username: str = ""
    designated_filer: str = ""  # on a first-level enterprise in the approved "designated" mode: the unit that files

    @property
    def is_root(self) -> bool:
        return self.level == 0

    @property
    def label(self) -> str:
        """「name」（code）, the way messages name a unit."""
        return f"「{self.name}」（{self.code}）"


@dataclass(frozen=True)
class PendingDesignation:
    """An application waiting for SASAC: it changes nothing until approved."""

    mode: str
    unit: str
    reason: str
    by: str
    seq: int  # of its designation.applied event
    at: str

    @property
    def mode_zh(self) -> str:
        return MODE_ZH.get(self.mode, self.mode)


@dataclass(frozen=True)
class Designation:
    """Who files below one first-level enterprise: the approved mode, and any application pending."""

    first_level: str
    mode: str = SELF
    unit: str = ""  # designated mode: the unit that files for every subordinate
    reference: str = ""  # SASAC's 批准文号
    reason: str = ""  # the approved application's reason
    approved_by: str = ""
    approved_at: str = ""
    legacy: bool = False  # from `unit.designated`, recorded before applications existed: no reference
    pending: PendingDesignation | None = None
    rejected_opinion: str = ""  # the last rejected application's opinion, until the next application
    rejected_at: str = ""

    @property
    def mode_zh(self) -> str:
        return MODE_ZH.get(self.mode, self.mode)

    @property
    def reference_zh(self) -> str:
        """The approval as people cite it: 批准文号, or why there is none."""
        if self.reference:
            return self.reference
        return "旧记录，无批准文号" if self.legacy else ""


DESIGNATION_COLUMNS = (
    "first_level, mode, unit, reference, reason, approved_by, approved_at, legacy, pending_mode, pending_unit,"
    " pending_reason, pending_by, pending_seq, pending_at, rejected_opinion, rejected_at"
)


def designation_from_row(row: tuple[object, ...]) -> Designation:
    pending = None
    if int(str(row[12] or 0)):
        pending = PendingDesignation(
            mode=str(row[8]),
            unit=str(row[9]),
            reason=str(row[10]),
            by=str(row[11]),
            seq=int(str(row[12])),
            at=str(row[13]),
        )
    return Designation(
        first_level=str(row[0]),
        mode=str(row[1]),
        unit=str(row[2]),
        reference=str(row[3]),
        reason=str(row[4]),
        approved_by=str(row[5]),
        approved_at=str(row[6]),
        legacy=bool(row[7]),
        pending=pending,
        rejected_opinion=str(row[14]),
        rejected_at=str(row[15]),
    )


UNIT_COLUMNS = "code, name, level, parent, overseas, holding, filer_emails, reviewer_emails, username, designated_filer"


def unit_from_row(row: tuple[object, ...]) -> Unit:
    return Unit(
        code=str(row[0]),
        name=str(row[1]),
        level=int(str(row[2])),
        parent=str(row[3]),
        overseas=bool(row[4]),
        holding=str(row[5]),
        filer_emails=list(json.loads(str(row[6]))),
        reviewer_emails=list(json.loads(str(row[7]))),
        username=str(row[8]),
        designated_filer=str(row[9] or ""),
    )


class UnitsView:
    """Read access to the unit tree (the `wf_units` projection)."""

    def __init__(self, reader: Reader, root_code: str) -> None:
        self._reader = reader
        self.root_code = root_code

    def _query(self, sql: str, params: tuple[object, ...] = ()) -> list[Unit]:
        with self._reader() as conn:
            return [unit_from_row(r) for r in conn.execute(sql, params).fetchall()]

    def get(self, code: str) -> Unit | None:
        found = self._query(f"SELECT {UNIT_COLUMNS} FROM wf_units WHERE code = ?", (code.strip().upper(),))
        return found[0] if found else None

    def by_username(self, username: str) -> Unit | None:
        found = self._query(f"SELECT {UNIT_COLUMNS} FROM wf_units WHERE username = ?", (username.strip().upper(),))
        return found[0] if found else None

    def all(self) -> list[Unit]:
        return self._query(f"SELECT {UNIT_COLUMNS} FROM wf_units ORDER BY level, code")

    def children(self, code: str) -> list[Unit]:
        return self._query(f"SELECT {UNIT_COLUMNS} FROM wf_units WHERE parent = ? ORDER BY code", (code,))

    def designation(self, first_level: str) -> Designation:
        """Who files below `first_level` (the base rule when nothing was ever approved or applied for)."""
        code = first_level.strip().upper()
        with self._reader() as conn:
            row = conn.execute(
                f"SELECT {DESIGNATION_COLUMNS} FROM wf_designations WHERE first_level = ?", (code,)
            ).fetchone()
        return Designation(first_level=code) if row is None else designation_from_row(row)

    def count(self) -> int:
        with self._reader() as conn:
            return int(conn.execute("SELECT count(*) FROM wf_units").fetchone()[0])

    def ancestors(self, code: str) -> list[Unit]:
        """Parent, grandparent, ... up to the root (the unit itself excluded)."""
        chain: list[Unit] = []
        unit = self.get(code)
        seen = {code}
        while unit is not None and unit.parent and unit.parent not in seen:
            seen.add(unit.parent)
            unit = self.get(unit.parent)
            if unit is not None:
                chain.append(unit)
        return chain

    def first_level_of(self, code: str) -> Unit | None:
        """The first-level enterprise whose tree holds `code` (itself when it is one); None for the root."""
        unit = self.get(code)
        if unit is None or unit.level == 0:
            return None
        if unit.level == 1:
            return unit
        for ancestor in self.ancestors(code):
            if ancestor.level == 1:
                return ancestor
        return None

    def subtree(self, code: str) -> list[Unit]:
        """The unit and everything below it, depth first."""
        top = self.get(code)
        if top is None:
            return []
        by_parent: dict[str, list[Unit]] = {}
        for unit in self.all():
            by_parent.setdefault(unit.parent, []).append(unit)
        out: list[Unit] = []

        def walk(unit: Unit) -> None:
            out.append(unit)
            for child in sorted(by_parent.get(unit.code, []), key=lambda u: u.code):
                walk(child)

        walk(top)
        return out

    def iter_tree(self, code: str | None = None) -> Iterator[tuple[int, Unit]]:
        """(depth below `code`, unit) depth first, for printing."""
        top = code or self.root_code
        base = self.get(top)
        if base is None:
            return
        for unit in self.subtree(top):
            yield unit.level - base.level, unit

    def search(self, text: str, limit: int = 50) -> list[Unit]:
        """Name search as the original's 单位搜索: exact, then prefix, then substring; shorter names first."""
        needle = text.strip()
        if not needle:
            return []
        pattern = "%" + needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        found = self._query(
            f"SELECT {UNIT_COLUMNS} FROM wf_units WHERE name LIKE ? ESCAPE '\\' OR code = ?",
            (pattern, needle.upper()),
        )

        def rank(unit: Unit) -> tuple[int, int, str]:
            if unit.name == needle or unit.code == needle.upper():
                tier = 0
            elif unit.name.startswith(needle):
                tier = 1
            else:
                tier = 2
            return tier, len(unit.name), unit.code

        return sorted(found, key=rank)[:limit]

    def next_overseas_username(self, first_level: Unit) -> str:
        """JW + last four characters of the first-level code + a four-digit serial, never reused."""
        prefix = OVERSEAS_PREFIX + first_level.code[-4:]
        with self._reader() as conn:
            rows = conn.execute("SELECT username FROM wf_units WHERE username LIKE ?", (prefix + "%",)).fetchall()
        serials = [int(r[0][len(prefix) :]) for r in rows if r[0][len(prefix) :].isdigit()]
        return f"{prefix}{(max(serials) + 1 if serials else 1):04d}"
