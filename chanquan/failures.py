"""The command line's one error guard: an expected failure becomes `错误：…` on stderr and a documented status.

Every command runs inside `chanquan.cli.main`, which hands any exception to `failure_for`. The
exit statuses are those of the contracts (DESIGN.md, README, docs/findings.md, docs/documents.md):

* 1 — refused: the request was understood and the answer is no (a print for a period that is not
  approved, a withdrawal the workflow refuses, a unit file with bad rows, an unknown account, a
  password the policy rejects, a mail the server refused);
* 2 — unusable input or setup: configuration, key files, a ledger that refuses to be written or
  cannot be read, an unreadable bundle, fonts, print templates, the signing identity, files that
  cannot be read or written.

Commands whose own contract gives a status a meaning (`check` 1 = the workbook has errors,
`ledger verify` and `verify-pdf` 1 = a check failed, `init` 1 = a step failed) print and return that
themselves. An exception not named here is a bug: it keeps its traceback.

The errors are named by module and class rather than imported, so that a failing `chanquan config`
does not load the PDF stack to find out what it is not; tests/test_cli_errors.py checks every name.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

EXIT_REFUSED = 1
EXIT_UNUSABLE = 2


@dataclass(frozen=True)
class Failure:
    status: int
    message: str
    details: tuple[str, ...] = ()

    def report(self, stream: TextIO | None = None) -> int:
        """Prints the failure (one line, then any details indented) and returns its exit status."""
        out = stream if stream is not None else sys.stderr
        print(f"错误：{self.message}", file=out)
        for line in self.details:
            print(f"  {line}", file=out)
        return self.status


def fail(message: str, status: int = EXIT_UNUSABLE) -> int:
    """For a command's own checks (bad usage, a missing file): the same line and status as the guard's."""
    return Failure(status, message).report()


def _ledger_db(data_dir: Path) -> Path:
    from chanquan.app import DataDir

    return DataDir(data_dir).ledger_db


def _os_error(exc: OSError, data_dir: Path) -> Failure:
    if exc.filename:
        return Failure(EXIT_UNUSABLE, f"文件操作失败：{exc.filename}：{exc.strerror or exc}")
    return Failure(EXIT_UNUSABLE, f"系统操作失败：{exc.strerror or exc}")  # a socket, a process


def _unit_error(exc: Any, data_dir: Path) -> Failure:
    rows = tuple(f"第 {row} 行：{problem}" for row, problem in getattr(exc, "problems", ()))
    return Failure(EXIT_REFUSED, exc.message_zh, rows)


def _refused(exc: Any, data_dir: Path) -> Failure:
    return Failure(EXIT_REFUSED, exc.message_zh)


def _unusable(exc: Any, data_dir: Path) -> Failure:
    return Failure(EXIT_UNUSABLE, exc.message_zh)


# "module.Class" -> the failure it is; an exception matches its own class or the nearest listed base.
RULES: dict[str, Callable[[Any, Path], Failure]] = {
    "chanquan.config.ConfigError": lambda e, d: Failure(EXIT_UNUSABLE, f"配置文件无法使用：{e.path}：{e.problem}"),
    "chanquan.client.SendError": lambda e, d: Failure(EXIT_REFUSED, f"服务器拒绝（{e.stage}）：{e.code} {e.text}"),
    "ledger.errors.KeyFileError": lambda e, d: Failure(EXIT_UNUSABLE, f"密钥文件无法使用：{e.path}：{e.problem}"),
    "ledger.errors.LedgerRefusedError": _unusable,
    "ledger.errors.LedgerError": lambda e, d: Failure(EXIT_UNUSABLE, f"账本操作失败：{e}"),
    "sqlite3.DatabaseError": lambda e, d: Failure(EXIT_UNUSABLE, f"账本数据库无法读取：{_ledger_db(d)}：{e}"),
    "validation.limits.BundleError": lambda e, d: Failure(EXIT_UNUSABLE, f"无法读取：{e.message}"),
    "workflow.service.WorkflowError": _refused,
    "workflow.units.UnitError": _unit_error,
    "workflow.unitfile.UnitFileError": _refused,
    "workflow.accounts.PasswordPolicyError": lambda e, d: Failure(EXIT_REFUSED, f"密码未修改：{e.reason_zh}"),
    "documents.issue.PrintRefused": _refused,
    "documents.fonts.FontError": _unusable,
    "documents.templates.TemplateError": _unusable,
    "documents.keys.SigningIdentityError": _unusable,
    "builtins.OSError": _os_error,
}


def failure_for(exc: BaseException, data_dir: Path) -> Failure | None:
    """The failure an expected exception is; None for anything else (a bug, shown with its traceback)."""
    for cls in type(exc).__mro__:
        rule = RULES.get(f"{cls.__module__}.{cls.__qualname__}")
        if rule is not None:
            return rule(exc, data_dir)
    return None
