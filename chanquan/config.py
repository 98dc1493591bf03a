"""Every setting of chanquan, declared once with its default and its description.

The data directory holds one TOML file (`chanquan.toml`) whose tables mirror the
sections below. Lower layers never read this module: the application passes them
the values they need, so the declaration stays the single source of truth and the
reference in docs/configuration.md is generated from it (`chanquan config docs`).
"""

from __future__ import annotations

import datetime as dt
import tomllib
import zoneinfo
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

CONFIG_FILE_NAME = "chanquan.toml"
DEFAULT_DATA_DIR = Path("data")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True)


class ServiceSettings(_Section):
    """Who runs this service."""

    supervisor_code: str = Field(
        "SASAC0001", description="Code of the supervising body at the root of the unit tree (市国资委)."
    )
    supervisor_name: str = Field(
        "重庆市国资委", description="Chinese name of the supervising body, printed on certificates and mail."
    )
    ledger_origin: str = Field(
        "chanquan.example/ledger",
        description="Origin line of signed checkpoints (C2SP signed-note); unique per deployment.",
    )
    mail_domain: str = Field(
        "chanquan.localhost",
        description="Domain of the service's own addresses: review+TOKEN@, noreply@, the SMTP banner.",
    )
    log_level: str = Field("INFO", description="Minimum level of the structured (JSON lines) log.")
    timezone: str = Field(
        "Asia/Shanghai",
        description="The supervising body's time zone (an IANA name): every date and time a person reads (documents,"
        " mails and 回执, the portal, CLI lists) is in it and says so (北京时间 for China's zone, else the"
        " zone's name); `--json` output stays UTC.",
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        """An unknown zone is refused when the configuration is read, not when the first document is printed."""
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}; use an IANA name such as Asia/Shanghai") from exc
        return value

    support_name: str = Field(
        "产权登记系统技术支持",
        description="Who filers and reviewers contact for help: shown in the portal's footer, every mail's"
        " footer and the user guide (用户手册).",
    )
    support_phone: str = Field("", description="Support telephone number shown beside `support_name`; empty: none.")
    support_email: str = Field("", description="Support mail address shown beside `support_name`; empty: none.")


class LedgerSettings(_Section):
    """The append-only event store."""

    checkpoint_interval_seconds: float = Field(
        2.0, description="Most seconds between signed checkpoints while events keep arriving."
    )
    max_batch: int = Field(1000, description="Most events one group commit may carry before it is written.")
    witness_dir: str = Field(
        "",
        description="Folder outside the data directory (ideally another machine's share) that every new signed"
        " checkpoint is also appended to, as checkpoints.log beside a copy of keys/ledger.pub; the ledger refuses"
        " to write when its database is behind it, and `ledger verify` checks it. Empty: no witness copy"
        " (`chanquan init` sets one up beside the data directory).",
    )


class WorkflowSettings(_Section):
    """Accounts, reviews and the rules of who files for whom."""

    lockout_failures: int = Field(5, description="Failed logins within the window that lock an account.")
    lockout_window_minutes: int = Field(15, description="Window for counting failed logins, in minutes.")
    min_password_length: int = Field(10, description="Shortest password the policy accepts.")


class IntakeSettings(_Section):
    """The drop folder and the SMTP listener."""

    dropbox_dir: str = Field("dropbox", description="Drop folder root (relative paths are inside the data directory).")
    settle_seconds: float = Field(
        2.0, description="A dropped item is taken once its size and mtime stayed unchanged this long."
    )
    empty_settle_seconds: float = Field(
        60.0,
        description="An empty (0-byte) dropped item is usually a copy that has only just begun: it is taken,"
        " and answered as empty, only after staying empty this long.",
    )
    rescan_seconds: float = Field(
        30.0, description="Interval of the full rescan that catches events the watcher missed."
    )
    polling_observer: bool = Field(
        False, description="Poll the drop folder instead of inotify (network mounts, containers)."
    )
    smtp_host: str = Field("127.0.0.1", description="Address the SMTP listener binds to.")
    smtp_port: int = Field(8025, description="Port of the SMTP listener (0 picks a free port).")
    smtp_max_message_bytes: int = Field(
        30 * 1024 * 1024, description="Largest message accepted; larger ones get 552 before DATA ends."
    )
    tls_cert_file: str = Field("", description="PEM certificate for STARTTLS; empty disables STARTTLS.")
    tls_key_file: str = Field("", description="PEM private key for STARTTLS.")
    accept_contact_filings: bool = Field(
        False,
        description="Accept unauthenticated filings from a unit's registered contact address, "
        "filed only after a confirmation reply.",
    )


class OutboxSettings(_Section):
    """Outgoing mail and the receipts folder."""

    relay_host: str = Field("", description="SMTP relay host; empty delivers into the local Maildir.")
    relay_port: int = Field(25, description="SMTP relay port.")
    relay_security: str = Field("starttls", description="none, starttls or smtps.")
    relay_user: str = Field("", description="SMTP AUTH user at the relay; empty for no AUTH.")
    relay_password: str = Field("", description="SMTP AUTH password at the relay.")
    from_address: str = Field("", description="From address of service mail; empty: noreply@<mail_domain>.")
    maildir: str = Field("maildir", description="Local Maildir used when no relay is configured.")
    max_attempts: int = Field(8, description="Delivery attempts before a message goes to dead letters.")
    backoff_base_seconds: float = Field(30.0, description="First retry delay; doubles on every retry.")
    backoff_max_seconds: float = Field(3600.0, description="Longest delay between two retries.")
    attach_limit_bytes: int = Field(
        10 * 1024 * 1024, description="Attachments of a review request above this total are listed, not attached."
    )
    reminder_working_days: int = Field(
        5, description="Working days a review may wait before its reviewers get a reminder."
    )
    relay_timeout_seconds: float = Field(
        30.0, description="Socket timeout of one SMTP conversation with the relay; a timeout is retried later."
    )
    poll_seconds: float = Field(
        2.0, description="Pause between two outbox passes (dispatch new ledger events, send the queue) in `serve`."
    )
    reminder_check_seconds: float = Field(
        3600.0, description="How often `serve` looks for reviews that waited too long (reminders are sent once each)."
    )


class PdfSettings(_Section):
    """Printed and signed registration forms and certificates."""

    font_file: str = Field(
        "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", description="TrueType CJK font embedded in PDFs."
    )
    fallback_font_files: tuple[str, ...] = Field(
        (
            "/usr/share/fonts/truetype/hanazono/HanaMinA.ttf",
            "/usr/share/fonts/truetype/hanazono/HanaMinB.ttf",
            "/usr/share/fonts/truetype/babelstone/BabelStoneHan.ttf",
        ),
        description="TrueType fonts tried in order for characters `font_file` lacks (CJK Extension B-G);"
        " loaded only when a document needs one. A character none of them has is printed as"
        " 〓U+XXXX〓 and recorded in `document.issued`.",
    )
    pkcs12_file: str = Field(
        "", description="Existing PKCS#12 signing identity; empty uses the one `chanquan init` created."
    )
    pkcs12_password: str = Field("", description="Password of the configured PKCS#12 file.")
    timestamp_url: str = Field("", description="RFC 3161 timestamp authority URL; empty signs without one.")
    default_template: str = Field("标准", description="Print template used when none is named.")


class WebSettings(_Section):
    """The web portal (pages, sessions, login limits)."""

    host: str = Field("127.0.0.1", description="Address the web portal binds to.")
    port: int = Field(8080, description="Port of the web portal (0 picks a free port).")
    public_url: str = Field(
        "",
        description="Base URL people reach the portal at (printed in QR codes and mail);"
        " empty: http://<web.host>:<web.port>.",
    )
    session_idle_minutes: int = Field(
        30, description="A portal session ends after this many minutes without a request."
    )
    session_max_hours: int = Field(
        12, description="A portal session ends this many hours after its login, however active it is."
    )
    secure_cookies: bool = Field(
        False,
        description="Mark the session cookie Secure (only sent over HTTPS); turn on when the portal is"
        " served behind HTTPS.",
    )
    login_rate_per_minute: int = Field(
        20,
        description="Most login attempts one client address may make per minute (on top of the per-account"
        " lockout shared with SMTP).",
    )

    verify_max_bytes: int = Field(
        20 * 1024 * 1024,
        description="Largest PDF the public verification page (/verify) accepts; a larger upload is refused"
        " before it is read.",
    )
    verify_rate_per_minute: int = Field(
        30,
        description="Most verification requests (uploads and QR-code links) one client address may make per"
        " minute on the public /verify pages.",
    )
    admin_users: tuple[str, ...] = Field(
        (),
        description="User names (organization codes) whose accounts may use the portal's admin pages besides the"
        " supervising body's own account (a TOML list of strings); each must be the account of a unit in the tree.",
    )

    def base_url(self) -> str:
        """`public_url`, or the address the portal listens on when none is set."""
        return self.public_url.rstrip("/") or f"http://{self.host}:{self.port}"


class ValidationSettings(_Section):
    """The checks of a filed workbook that the operator may tune."""

    backfill_cutoff: dt.date = Field(
        dt.date(2012, 6, 30),
        description="数据时点 every 补录历史数据 (backfill) filing must have: the cut-off date of the backfill"
        " campaign (the original one was 2012-06-30). A backfill with another date gets `backfill-as-of-date`.",
    )
    backfill_cutoff_severity: Literal["warning", "error"] = Field(
        "warning",
        description="How `backfill-as-of-date` is reported: warning (the filing goes on) or error (it is refused).",
    )


class Settings(_Section):
    """All settings; each attribute is one table of chanquan.toml."""

    service: ServiceSettings = Field(default_factory=ServiceSettings, description="Who runs this service.")
    ledger: LedgerSettings = Field(default_factory=LedgerSettings, description="The event store.")
    workflow: WorkflowSettings = Field(default_factory=WorkflowSettings, description="Accounts and reviews.")
    intake: IntakeSettings = Field(default_factory=IntakeSettings, description="Drop folder and SMTP.")
    outbox: OutboxSettings = Field(default_factory=OutboxSettings, description="Outgoing mail.")
    pdf: PdfSettings = Field(default_factory=PdfSettings, description="Signed documents.")
    web: WebSettings = Field(default_factory=WebSettings, description="The web portal.")
    validation: ValidationSettings = Field(default_factory=ValidationSettings, description="Workbook checks.")


class ConfigError(Exception):
    """The configuration file cannot be used; `path` says which one."""

    def __init__(self, path: Path, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.problem = problem


def load_settings(data_dir: Path) -> Settings:
    """Read `chanquan.toml` from the data directory; a missing file means all defaults."""
    path = data_dir / CONFIG_FILE_NAME
    if not path.exists():
        return Settings()
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(path, f"cannot be read: {exc}") from exc
    try:
        return Settings.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(path, str(exc)) from exc


def iter_settings() -> list[tuple[str, str, Any, str]]:
    """(section, key, default, description) for every setting, in declaration order."""
    rows: list[tuple[str, str, Any, str]] = []
    for section_name, section_field in Settings.model_fields.items():
        section_type = section_field.annotation
        assert isinstance(section_type, type) and issubclass(section_type, _Section)
        for key, field in section_type.model_fields.items():
            rows.append((section_name, key, field.default, field.description or ""))
    return rows


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, tuple | list):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    text = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'


def render_default_toml(values: dict[str, Any] | None = None) -> str:
    """The configuration file `chanquan init` writes: every setting, commented with its description.

    `values` ("section.key" -> value) replaces defaults chosen for this data directory
    (e.g. the witness folder beside it).
    """
    values = values or {}
    lines = ["# chanquan configuration. Every setting is listed with its default and what it does.", ""]
    current = None
    for section, key, default, description in iter_settings():
        if section != current:
            if current is not None:
                lines.append("")
            lines.append(f"[{section}]")
            current = section
        lines.append(f"# {description}")
        lines.append(f"{key} = {_toml_value(values.get(f'{section}.{key}', default))}")
    return "\n".join(lines) + "\n"


def render_markdown_reference() -> str:
    """The configuration reference for docs/configuration.md and the README."""
    out = [
        "| setting | default | description |",
        "| --- | --- | --- |",
    ]
    for section, key, default, description in iter_settings():
        shown = _toml_value(default).replace("|", "\\|")
        out.append(f"| `{section}.{key}` | `{shown}` | {description} |")
    return "\n".join(out) + "\n"


def resolve_in_data_dir(data_dir: Path, value: str) -> Path:
    """Relative paths in settings live inside the data directory."""
    path = Path(value)
    return path if path.is_absolute() else data_dir / path
