"""Server-side web sessions in the portal's own SQLite file (data/portal.sqlite3).

The cookie holds 256 random bits; the table holds only their SHA-256, so a copy of the file
opens no session. A session remembers the account's credential generation at login
(workflow.accounts): once a password is changed or reset through any door, every session
logged in before it ends on its next request. Sessions end after `idle` without a request
and `absolute` after login, whatever happens in between.
"""

from __future__ import annotations

import hashlib
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    key TEXT PRIMARY KEY,          -- sha256 hex of the cookie value
    username TEXT NOT NULL,
    unit TEXT NOT NULL,
    csrf TEXT NOT NULL,
    generation INTEGER NOT NULL,   -- the account's credential generation at login
    must_change INTEGER NOT NULL,
    created_at REAL NOT NULL,
    seen_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS sessions_by_user ON sessions(username);
CREATE INDEX IF NOT EXISTS sessions_by_seen ON sessions(seen_at);
CREATE TABLE IF NOT EXISTS portal_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
TOKEN_BYTES = 32  # 256 bits
# `seen_at` is written at most this often per session, so a page view is not a write
TOUCH_SECONDS = 60.0


def _key(token: str) -> str:
    return hashlib.sha256(token.encode("ascii", "replace")).hexdigest()


@dataclass(frozen=True)
class Session:
    key: str
    username: str
    unit: str
    csrf: str
    generation: int
    must_change: bool
    created_at: float
    seen_at: float


class SessionStore:
    """Create, find, rotate and end sessions; every method is safe from any thread."""

    def __init__(
        self,
        path: Path,
        *,
        idle_seconds: float,
        absolute_seconds: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = path
        self.idle_seconds = idle_seconds
        self.absolute_seconds = absolute_seconds
        self.clock = clock
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        # losing the last second of logins to a power cut is harmless; an fsync per page view is not
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.executescript(_SCHEMA)
        self._secret = self._load_secret()

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def _load_secret(self) -> bytes:
        """The key of the login form's token (there is no session yet to hold one); made once per data directory."""
        with self._lock:
            self._conn.execute(
                "INSERT OR IGNORE INTO portal_meta(key, value) VALUES ('login_secret', ?)", (secrets.token_hex(32),)
            )
            (value,) = self._conn.execute("SELECT value FROM portal_meta WHERE key = 'login_secret'").fetchone()
        return bytes.fromhex(str(value))

    @property
    def login_secret(self) -> bytes:
        return self._secret

    # -- sessions -------------------------------------------------------------------------

    def create(self, username: str, unit: str, *, generation: int, must_change: bool) -> tuple[str, Session]:
        """A new session (the cookie value and its row); expired rows are swept on the way."""
        token = secrets.token_urlsafe(TOKEN_BYTES)
        now = self.clock()
        session = Session(_key(token), username, unit, secrets.token_urlsafe(32), generation, must_change, now, now)
        with self._lock:
            self._conn.execute(
                "DELETE FROM sessions WHERE seen_at < ? OR created_at < ?",
                (now - self.idle_seconds, now - self.absolute_seconds),
            )
            self._conn.execute(
                "INSERT INTO sessions VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    session.key,
                    username,
                    unit,
                    session.csrf,
                    generation,
                    int(must_change),
                    session.created_at,
                    session.seen_at,
                ),
            )
        return token, session

    def get(self, token: str) -> Session | None:
        """The live session of a cookie value; an expired one is deleted and reads as none."""
        if not token or len(token) > 100:
            return None
        key = _key(token)
        with self._lock:
            row = self._conn.execute(
                "SELECT username, unit, csrf, generation, must_change, created_at, seen_at FROM sessions WHERE key = ?",
                (key,),
            ).fetchone()
        if row is None:
            return None
        session = Session(key, row[0], row[1], row[2], int(row[3]), bool(row[4]), float(row[5]), float(row[6]))
        now = self.clock()
        if now - session.seen_at > self.idle_seconds or now - session.created_at > self.absolute_seconds:
            self.end(session)
            return None
        if now - session.seen_at > TOUCH_SECONDS:
            with self._lock:
                self._conn.execute("UPDATE sessions SET seen_at = ? WHERE key = ?", (now, key))
            session = replace(session, seen_at=now)
        return session

    def rotate(self, session: Session, *, generation: int, must_change: bool) -> tuple[str, Session]:
        """The same login under a new id and token (after a password change); the old id stops working."""
        token = secrets.token_urlsafe(TOKEN_BYTES)
        now = self.clock()
        fresh = replace(
            session,
            key=_key(token),
            csrf=secrets.token_urlsafe(32),
            generation=generation,
            must_change=must_change,
            seen_at=now,
        )
        with self._lock:
            self._conn.execute("BEGIN")
            try:
                self._conn.execute("DELETE FROM sessions WHERE key = ?", (session.key,))
                self._conn.execute(
                    "INSERT INTO sessions VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        fresh.key,
                        fresh.username,
                        fresh.unit,
                        fresh.csrf,
                        generation,
                        int(must_change),
                        fresh.created_at,
                        fresh.seen_at,
                    ),
                )
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")
        return token, fresh

    def end(self, session: Session) -> None:
        with self._lock:
            self._conn.execute("DELETE FROM sessions WHERE key = ?", (session.key,))

    def end_others(self, username: str, keep: Session | None = None) -> int:
        """End every session of the account but `keep`; returns how many ended."""
        with self._lock:
            cursor = self._conn.execute(
                "DELETE FROM sessions WHERE username = ? AND key != ?", (username, keep.key if keep else "")
            )
        return cursor.rowcount

    def count(self, username: str | None = None) -> int:
        with self._lock:
            if username is None:
                row = self._conn.execute("SELECT count(*) FROM sessions").fetchone()
            else:
                row = self._conn.execute("SELECT count(*) FROM sessions WHERE username = ?", (username,)).fetchone()
        return int(row[0])
