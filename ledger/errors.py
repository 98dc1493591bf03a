"""Exceptions of the ledger; each carries its context as fields so callers can report it."""

from __future__ import annotations

import base64


class LedgerError(Exception):
    """Base class: anything the ledger refuses or cannot do."""


class PayloadError(LedgerError):
    """A payload cannot be written canonically (a float, a non-string key, a secret-looking field)."""

    def __init__(self, kind: str, path: str, problem: str) -> None:
        super().__init__(f"{kind}: payload field {path or '<root>'}: {problem}")
        self.kind = kind
        self.path = path
        self.problem = problem


class UnknownKindError(LedgerError):
    """An event kind that no `@event_kind` declaration registered."""

    def __init__(self, kind: str) -> None:
        super().__init__(f"unknown event kind {kind!r}")
        self.kind = kind


class UnexpectedKindError(LedgerError):
    """An event read as one kind is of another: the caller's filter and its reading disagree."""

    def __init__(self, seq: int, kind: str, expected: str) -> None:
        super().__init__(f"event {seq} is a {kind!r}, not a {expected!r}")
        self.seq = seq
        self.kind = kind
        self.expected = expected


class EventNotFoundError(LedgerError):
    """A sequence number beyond the tree or below 1."""

    def __init__(self, seq: int, size: int) -> None:
        super().__init__(f"no event with seq {seq} (ledger size {size})")
        self.seq = seq
        self.size = size


class LedgerClosedError(LedgerError):
    """An append after `close()`."""


class BlobError(LedgerError):
    """A blob that is missing or does not hash to its name."""

    def __init__(self, digest: str, problem: str) -> None:
        super().__init__(f"blob {digest}: {problem}")
        self.digest = digest
        self.problem = problem


class ProofError(LedgerError):
    """A proof that cannot be produced for the requested sizes or indexes."""


class KeyFileError(LedgerError):
    """A signing or verifier key that cannot be read."""

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"key {path}: {problem}")
        self.path = path
        self.problem = problem


class LedgerRefusedError(LedgerError):
    """The ledger will not do what was asked in its current state; `message_zh` tells the operator why and what to do.

    These reach users of the command line unchanged, so the text is the Chinese message.
    """

    def __init__(self, message_zh: str) -> None:
        super().__init__(message_zh)
        self.message_zh = message_zh


class LedgerMissingError(LedgerRefusedError):
    """A read-only open of a database that does not exist or was never initialised (nothing is created)."""

    def __init__(self, path: str) -> None:
        super().__init__(f"账本不存在或尚未初始化：{path}（请先运行 chanquan init）")
        self.path = path


class LedgerReadOnlyError(LedgerRefusedError):
    """A write through a ledger opened read-only."""

    def __init__(self, path: str) -> None:
        super().__init__(f"账本以只读方式打开，不能写入：{path}")
        self.path = path


class ProjectionsOutdatedError(LedgerRefusedError):
    """A read-only open found projection tables that must be rebuilt first (a read-only open never writes)."""

    def __init__(self, path: str, names: list[str]) -> None:
        super().__init__(
            f"账本中的查询表需要按新版本重建（{'、'.join(names)}），只读命令不会写入账本：{path}。"
            "请先运行 chanquan init（或启动 chanquan serve）完成重建，再运行本命令。"
        )
        self.path = path
        self.names = names


class WitnessUnavailableError(LedgerRefusedError):
    """The configured witness folder is missing (e.g. the share is not mounted): writing is refused."""

    def __init__(self, path: str) -> None:
        super().__init__(
            f"见证目录不可用：{path}。账本写入前必须能与见证副本核对，也要把新检查点追加到那里。"
            "请挂载或恢复该目录（若确实不再使用见证副本，在 chanquan.toml 的 [ledger] 中把 witness_dir 设为空），"
            "然后重试。"
        )
        self.path = path


def _b64(root: bytes | None) -> str:
    return base64.b64encode(root).decode("ascii") if root is not None else "—"


FORK_REASONS = {
    "missing": "数据库缺失或为空，而检查点文件中已有签名记录（不会重新建一个空账本）",
    "behind": "数据库比已签名的检查点旧（可能被回滚到旧副本或被截断）",
    "root_differs": "数据库与已签名的历史分叉：相同条目数下的根哈希不同",
    "damaged": "检查点文件的最后一行无法用 keys/ledger.pub 核验（文件被改动或损坏）",
}


class LedgerForkError(LedgerRefusedError):
    """The database does not extend the newest signed checkpoint of `source` (checkpoints.log or the witness).

    Appending would sign a checkpoint that conflicts with one already given out: the service's own
    key would sign a fork. `reason` is one of FORK_REASONS; sizes are None where there is nothing
    to count (no database file, an unreadable checkpoint line).
    """

    def __init__(
        self,
        *,
        reason: str,
        db_path: str,
        db_size: int | None,
        db_root: bytes | None,
        source: str,
        log_size: int | None,
        log_root: bytes | None,
        db_root_at_log_size: bytes | None = None,
        detail: str = "",
    ) -> None:
        self.reason = reason
        self.db_path = db_path
        self.db_size = db_size
        self.db_root = db_root
        self.db_root_at_log_size = db_root_at_log_size
        self.source = source
        self.log_size = log_size
        self.log_root = log_root
        self.detail = detail
        super().__init__(self._message())

    def _message(self) -> str:
        if self.db_size is None:
            db = "不存在"
        else:
            db = f"共 {self.db_size} 条事件，根哈希 {_b64(self.db_root)}"
            if self.db_root_at_log_size is not None and self.log_size is not None and self.log_size != self.db_size:
                db += f"；其前 {self.log_size} 条的根哈希 {_b64(self.db_root_at_log_size)}"
        if self.log_size is None:
            log = f"最后一行无法核验：{self.detail}"
        else:
            log = f"最后一行签名了 {self.log_size} 条事件，根哈希 {_b64(self.log_root)}"
        lines = [
            "账本数据库与已签名的检查点不一致：为免用本机密钥签出分叉的检查点，拒绝写入"
            "（chanquan serve 和所有写入命令都不会启动）。",
            f"原因：{FORK_REASONS.get(self.reason, self.reason)}。",
            f"  数据库 {self.db_path}：{db}",
            f"  检查点 {self.source}：{log}",
            "恢复办法：",
            "  1. 停止 chanquan serve；不要删除或改写 checkpoints.log 和见证副本；",
        ]
        if self.reason == "damaged":
            lines += [
                "  2. 从见证副本或文件备份找回原来的检查点文件，与该文件逐字节比较，查明是谁改动了它；",
                "  3. 放回原文件后运行 chanquan ledger verify 确认。切勿用现有数据库重新签名来覆盖它。",
            ]
        else:
            needed = self.log_size if self.log_size is not None else 0
            lines += [
                "  2. 用 chanquan ledger backup 文件名 把当前数据库另存一份，留作调查（数据库缺失时跳过）；",
                f"  3. 找到条目数不少于 {needed} 的最新账本备份，运行 chanquan ledger restore 备份文件："
                "它先核对备份与检查点一致，再换入备份，原数据库改名保留；",
                "  4. 运行 chanquan ledger verify 确认。",
            ]
        if self.reason != "missing":
            lines.append("只读命令（ledger log / verify / backup、filings list、print --list、units tree）仍可使用。")
        return "\n".join(lines)
