"""The portal's plain settings; the application fills them from chanquan.toml (section `web`).

Like intake and the outbox, the portal never reads the application's settings object, so
tests and the benchmark build it exactly as `chanquan serve` will.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class SupportContact:
    """Who people call or write to for help (settings service.support_*); shown in the footer and the guide."""

    name: str = "产权登记系统技术支持"
    phone: str = ""
    email: str = ""


@dataclass(frozen=True)
class MailDoor:
    """What the guide tells filers to enter in their mail program (the SMTP listener's public face)."""

    smtp_host: str = "127.0.0.1"
    smtp_port: int = 8025
    starttls: bool = False
    mail_domain: str = "chanquan.localhost"
    max_message_bytes: int = 30 * 1024 * 1024


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
    # keep page parts until an event concerns them (off: every request reads and renders anew; for measuring)
    page_cache: bool = True
    support: SupportContact = field(default_factory=SupportContact)
    mail_door: MailDoor = field(default_factory=MailDoor)
    verify_max_bytes: int = 20 * 1024 * 1024  # web.verify_max_bytes
    verify_rate_per_minute: int = 30  # web.verify_rate_per_minute, per client address
    # web.admin_users: accounts with the admin pages besides the supervising body's own
    admin_users: frozenset[str] = frozenset()
