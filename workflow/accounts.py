"""Login accounts: mutable credentials kept in their own SQLite file, never in the ledger.

The original system's rule: the user name is the unit's normalized organization code and
the initial password is that same code, to be changed at once. An account whose row has
no hash is still on that initial password, so importing thousands of units costs no
hashing; the first change stores a salted scrypt hash. What happened to an account (created,
changed, locked, reset) is reported through `notify` so the workflow can record it as a
ledger fact, while the secrets stay here.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import sqlite3
import threading
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ledger import read_only_uri
from workflow.events import AccountLocked, AccountPasswordChanged, AccountReset

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS accounts (
    username TEXT PRIMARY KEY,
    password_hash TEXT,            -- NULL: still the initial password (the user name itself)
    must_change INTEGER NOT NULL DEFAULT 1,
    locked_until TEXT,
    created_at TEXT NOT NULL,
    changed_at TEXT,
    generation INTEGER NOT NULL DEFAULT 0,  -- +1 on every password change or reset (ends web sessions)
    last_login_at TEXT             -- the last successful login through any door (portal or SMTP AUTH)
);
CREATE TABLE IF NOT EXISTS failures (
    username TEXT NOT NULL,
    at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS failures_by_user ON failures(username, at);
"""

AccountFact = AccountLocked | AccountPasswordChanged | AccountReset
Notify = Callable[[AccountFact], None]  # the fact to record in the ledger


def normalize_username(text: str) -> str:
    """Organization code as a user name: full-width folded, hyphens and blanks removed, upper case."""
    if text.isascii() and text.isalnum():
        return text.upper()  # the usual plain code: NFKC and the filter would change nothing but case
    folded = unicodedata.normalize("NFKC", text)
    return "".join(ch for ch in folded if ch not in "-– \t\r\n").upper()


class PasswordPolicyError(Exception):
    """A password change was refused; `reason_zh` tells the user why, in Chinese."""

    def __init__(self, reason_zh: str) -> None:
        super().__init__(reason_zh)
        self.reason_zh = reason_zh


@dataclass(frozen=True)
class AuthResult:
    ok: bool
    username: str
    must_change: bool = False
    locked: bool = False
    reason_zh: str = ""


@dataclass(frozen=True)
class PasswordPolicy:
    min_length: int = 10
    min_classes: int = 3

    def problem(self, username: str, password: str) -> str | None:
        """The Chinese reason the password is refused, or None when it is acceptable."""
        if len(password) < self.min_length:
            return f"密码至少需要 {self.min_length} 个字符。"
        if normalize_username(password) == normalize_username(username):
            return "密码不能与用户名（组织机构代码）相同。"
        classes = sum(
            [
                any(ch.islower() for ch in password),
                any(ch.isupper() for ch in password),
                any(ch.isdigit() for ch in password),
                any(not ch.isalnum() for ch in password),
            ]
        )
        if classes < self.min_classes:
            return f"密码须包含小写字母、大写字母、数字、符号中的至少 {self.min_classes} 类。"
        return None


@dataclass(frozen=True)
class ScryptParams:
    """scrypt cost; tests may lower `n`, the stored hash records what was used."""

    n: int = 2**14
    r: int = 8
    p: int = 1


def hash_password(password: str, params: ScryptParams) -> str:
    salt = os.urandom(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=params.n, r=params.r, p=params.p, dklen=32)
    return f"scrypt${params.n}${params.r}${params.p}${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt_hex, digest_hex = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    digest = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt_hex), n=int(n), r=int(r), p=int(p), dklen=32)
    return hmac.compare_digest(digest.hex(), digest_hex)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds")


class AccountStore:
    """The credentials table and its rules: policy, must-change, lockout."""

    def __init__(
        self,
        path: Path,
        *,
        policy: PasswordPolicy | None = None,
        lockout_failures: int = 5,
        lockout_window: timedelta = timedelta(minutes=15),
        is_known: Callable[[str], bool] = lambda _name: False,
        notify: Notify = lambda _fact: None,
        scrypt: ScryptParams | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        read_only: bool = False,
    ) -> None:
        self.path = path
        self.policy = policy or PasswordPolicy()
        self.lockout_failures = lockout_failures
        self.lockout_window = lockout_window
        self.is_known = is_known
        self.notify = notify
        self.scrypt = scrypt or ScryptParams()
        self.clock = clock
        self._lock = threading.Lock()
        self._read_only = read_only
        self._local = threading.local()  # per-thread read connections (generation look-ups)
        self._readers: list[sqlite3.Connection] = []
        if read_only:
            # for commands that only look: nothing is created or changed (an absent file reads as no accounts)
            if path.exists():
                self._conn = sqlite3.connect(
                    read_only_uri(path), uri=True, check_same_thread=False, isolation_level=None
                )
            else:
                self._conn = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
                self._conn.executescript(_SCHEMA)
            self._conn.execute("PRAGMA query_only = ON")
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.executescript(_SCHEMA)
        columns = {str(row[1]) for row in self._conn.execute("PRAGMA table_info(accounts)")}
        # files made before credential generations, or before last logins, were kept
        for column, ddl in (("generation", "INTEGER NOT NULL DEFAULT 0"), ("last_login_at", "TEXT")):
            if column in columns:
                continue
            try:
                self._conn.execute(f"ALTER TABLE accounts ADD COLUMN {column} {ddl}")
            except sqlite3.OperationalError as exc:  # another process added it between the look and the change
                if "duplicate column" not in str(exc):
                    raise

    def close(self) -> None:
        with self._lock:
            self._conn.close()
            for reader in self._readers:
                reader.close()
            self._readers.clear()

    # -- rows -----------------------------------------------------------------------------

    def exists(self, username: str) -> bool:
        return self._row(normalize_username(username)) is not None

    def _row(self, username: str) -> tuple[str | None, int, str | None] | None:
        row = self._conn.execute(
            "SELECT password_hash, must_change, locked_until FROM accounts WHERE username = ?", (username,)
        ).fetchone()
        return None if row is None else (row[0], int(row[1]), row[2])

    def _ensure_row(self, username: str) -> bool:
        """Create the initial-password row if absent; True when it was created."""
        cursor = self._conn.execute(
            "INSERT OR IGNORE INTO accounts(username, password_hash, must_change, created_at) VALUES (?, NULL, 1, ?)",
            (username, _iso(self.clock())),
        )
        return cursor.rowcount == 1

    def create(self, username: str) -> bool:
        """An account on the initial rule (password = user name, must change). False if it existed."""
        name = normalize_username(username)
        with self._lock:
            return self._ensure_row(name)

    def create_many(self, usernames: list[str]) -> int:
        """Initial-rule accounts for many units in one transaction (an import); returns how many were new."""
        now = _iso(self.clock())
        rows = [(normalize_username(name), now) for name in usernames]
        with self._lock:
            before = self._conn.total_changes
            self._conn.execute("BEGIN")
            try:
                self._conn.executemany(
                    "INSERT OR IGNORE INTO accounts(username, password_hash, must_change, created_at)"
                    " VALUES (?, NULL, 1, ?)",
                    rows,
                )
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")
            return self._conn.total_changes - before

    def must_change(self, username: str) -> bool:
        row = self._row(normalize_username(username))
        return True if row is None else bool(row[1])

    def generation(self, username: str) -> int:
        """How many times the password was changed or reset: a web session remembers the number it
        logged in under and ends once it differs, whichever door (portal, SMTP mail, admin) changed it."""
        conn = self._conn if self._read_only else self._reader()
        try:
            row = conn.execute(
                "SELECT generation FROM accounts WHERE username = ?", (normalize_username(username),)
            ).fetchone()
        except sqlite3.OperationalError:  # read-only view of a file made before generations existed
            return 0
        return 0 if row is None else int(row[0])

    def _reader(self) -> sqlite3.Connection:
        """This thread's own read connection: a WAL reader never waits, so a look-up on every web request
        does not queue behind a login that holds the store's lock while it hashes a password."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            conn.execute("PRAGMA query_only = ON")
            with self._lock:
                self._readers.append(conn)
            self._local.conn = conn
        return conn

    # -- login ----------------------------------------------------------------------------

    def authenticate(self, username: str, password: str) -> AuthResult:
        name = normalize_username(username)
        wrong = AuthResult(ok=False, username=name, reason_zh="用户名或密码错误。")
        with self._lock:
            row = self._row(name)
            if row is None:
                if not self.is_known(name):
                    return wrong
                self._ensure_row(name)
                row = self._row(name)
                assert row is not None
            password_hash, must_change, locked_until = row
            now = self.clock()
            if locked_until is not None and datetime.fromisoformat(locked_until) > now:
                until = datetime.fromisoformat(locked_until).astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
                return AuthResult(
                    ok=False,
                    username=name,
                    must_change=bool(must_change),
                    locked=True,
                    reason_zh=f"账户因多次密码错误已锁定，请在 {until} 之后重试，或请管理员重置。",
                )
            if password_hash is None:
                good = hmac.compare_digest(normalize_username(password).encode(), name.encode())
            else:
                good = verify_password(password, password_hash)
            if good:
                self._conn.execute("DELETE FROM failures WHERE username = ?", (name,))
                self._conn.execute(
                    "UPDATE accounts SET locked_until = NULL, last_login_at = ? WHERE username = ?", (_iso(now), name)
                )
                return AuthResult(ok=True, username=name, must_change=bool(must_change))
            return self._record_failure(name, bool(must_change), now) or wrong

    def _record_failure(self, name: str, must_change: bool, now: datetime) -> AuthResult | None:
        self._conn.execute("INSERT INTO failures(username, at) VALUES (?, ?)", (name, _iso(now)))
        since = _iso(now - self.lockout_window)
        (count,) = self._conn.execute(
            "SELECT count(*) FROM failures WHERE username = ? AND at > ?", (name, since)
        ).fetchone()
        if count < self.lockout_failures:
            return None
        until = now + self.lockout_window
        self._conn.execute("UPDATE accounts SET locked_until = ? WHERE username = ?", (_iso(until), name))
        self._conn.execute("DELETE FROM failures WHERE username = ?", (name,))
        log.warning(AccountLocked.kind, extra={"username": name})
        self.notify(AccountLocked(username=name, failures=int(count), until=_iso(until)))
        return AuthResult(
            ok=False,
            username=name,
            must_change=must_change,
            locked=True,
            reason_zh="密码错误次数过多，账户已锁定"
            f" {int(self.lockout_window.total_seconds() // 60)} 分钟；如需立即解锁请联系管理员。",
        )

    # -- changes --------------------------------------------------------------------------

    def change_password(self, username: str, old: str, new: str) -> None:
        """The user's own change: the old password must be right and the new one acceptable."""
        result = self.authenticate(username, old)
        if not result.ok:
            raise PasswordPolicyError(result.reason_zh if result.locked else "原密码错误。")
        self.set_password(result.username, new)

    def set_password(self, username: str, new: str) -> None:
        """Store a new password (policy-checked) and clear must-change; used by the admin's `passwd`."""
        name = normalize_username(username)
        problem = self.policy.problem(name, new)
        if problem is not None:
            raise PasswordPolicyError(problem)
        if not self.is_known(name) and not self.exists(name):
            raise PasswordPolicyError(f"账户 {name} 不存在。")
        stored = hash_password(new, self.scrypt)
        with self._lock:
            self._ensure_row(name)
            self._conn.execute(
                "UPDATE accounts SET password_hash = ?, must_change = 0, locked_until = NULL, changed_at = ?,"
                " generation = generation + 1 WHERE username = ?",
                (stored, _iso(self.clock()), name),
            )
            self._conn.execute("DELETE FROM failures WHERE username = ?", (name,))
        log.info(AccountPasswordChanged.kind, extra={"username": name})
        self.notify(AccountPasswordChanged(username=name))

    def reset(self, username: str, *, by: str = "") -> None:
        """Back to the initial rule: password = user name, must change, unlocked; `by` as in AccountReset."""
        name = normalize_username(username)
        if not self.is_known(name) and not self.exists(name):
            raise PasswordPolicyError(f"账户 {name} 不存在。")
        with self._lock:
            self._ensure_row(name)
            self._conn.execute(
                "UPDATE accounts SET password_hash = NULL, must_change = 1, locked_until = NULL, changed_at = ?,"
                " generation = generation + 1 WHERE username = ?",
                (_iso(self.clock()), name),
            )
            self._conn.execute("DELETE FROM failures WHERE username = ?", (name,))
        log.info(AccountReset.kind, extra={"username": name})
        self.notify(AccountReset(username=name, by=by))

    # -- what an administrator sees and may do ----------------------------------------------

    def login_facts(self, username: str) -> dict[str, object] | None:
        """The last successful login, the lock and the failures counting towards one (never a credential)."""
        name = normalize_username(username)
        row = self._conn.execute(
            "SELECT last_login_at, locked_until, must_change, changed_at FROM accounts WHERE username = ?", (name,)
        ).fetchone()
        if row is None:
            return None
        since = _iso(self.clock() - self.lockout_window)
        (failures,) = self._conn.execute(
            "SELECT count(*) FROM failures WHERE username = ? AND at > ?", (name, since)
        ).fetchone()
        locked_until = row[1]
        locked = locked_until is not None and datetime.fromisoformat(locked_until) > self.clock()
        return {
            "last_login_at": row[0],
            "locked_until": locked_until if locked else None,
            "locked": locked,
            "must_change": bool(row[2]),
            "changed_at": row[3],
            "recent_failures": int(failures),
        }

    def unlock(self, username: str) -> bool:
        """Ends a lockout now and forgets the failures counting towards the next; True when it was locked.

        Only the caller records it (workflow.admin.unlock_account), so that the ledger names who unlocked.
        """
        name = normalize_username(username)
        with self._lock:
            row = self._conn.execute("SELECT locked_until FROM accounts WHERE username = ?", (name,)).fetchone()
            was_locked = row is not None and row[0] is not None and datetime.fromisoformat(row[0]) > self.clock()
            self._conn.execute("UPDATE accounts SET locked_until = NULL WHERE username = ?", (name,))
            self._conn.execute("DELETE FROM failures WHERE username = ?", (name,))
        if was_locked:
            log.info("account_unlocked", extra={"username": name})
        return was_locked
