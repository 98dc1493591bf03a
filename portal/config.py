"""The portal's plain settings; the application fills them from chanquan.toml (section `web`).

Like intake and the outbox, the portal never reads the application's settings object, so
tests and the benchmark build it exactly as `chanquan serve` will.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class PortalConfig:
    sessions_db: Path  # the portal's own SQLite file (sessions, login limiter state): data/portal.sqlite3
    supervisor_name: str = "重庆市国资委"
    public_url: str = "http://127.0.0.1:8080"
    session_idle_minutes: int = 30
    session_max_hours: int = 12
    secure_cookies: bool = False
    login_rate_per_minute: int = 20
    # the same limit as SMTP (intake.smtp_max_message_bytes): a web upload may not be larger than a mail
    max_upload_bytes: int = 30 * 1024 * 1024
    templates_dir: Path | None = None  # None: the templates shipped with chanquan (templates/web)
    # keep page parts until the ledger grows (off: every request reads and renders anew; for measuring)
    page_cache: bool = True
