"""Wiring: builds the layers for one data directory, the only place that knows them all.

Commands get their objects from here rather than constructing them, so that key
paths, projections and settings are chosen once. Each `open_*` function belongs to
the layer it opens; keep them small.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, cast

from chanquan.config import Settings, load_settings, resolve_in_data_dir
from ledger import Ledger, NoteVerifier, Projection, load_verifier
from ledger.durable import write_new
from ledger.localtime import set_reader_zone

if TYPE_CHECKING:
    from starlette.applications import Starlette

    from documents import DocumentIssuer
    from intake.service import IntakeService
    from outbox import Outbox, OutboxConfig
    from outbox.transport import RelaySecurity
    from portal import PortalConfig
    from validation import Registration, RuleOptions
    from workflow import Workflow, WorkflowConfig


class DataDir:
    """Paths inside one data directory (see docs/architecture.md)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    @property
    def ledger_db(self) -> Path:
        return self.root / "ledger.sqlite3"

    @property
    def checkpoint_file(self) -> Path:
        return self.root / "checkpoints.log"

    @property
    def keys(self) -> Path:
        return self.root / "keys"

    @property
    def default_witness_dir(self) -> Path:
        """Where `chanquan init` puts the witness copy unless told otherwise: beside the data directory, outside it."""
        root = self.root.absolute()
        return root.parent / f"{root.name}-witness"

    @property
    def blobs(self) -> Path:
        return self.root / "blobs"

    @property
    def accounts_db(self) -> Path:
        return self.root / "accounts.sqlite3"

    @property
    def inbound(self) -> Path:
        return self.root / "inbound"

    @property
    def processing(self) -> Path:
        return self.root / "processing"

    @property
    def outbox(self) -> Path:
        return self.root / "outbox"


def settings_for(data_dir: Path) -> Settings:
    return load_settings(data_dir)


def rule_options(settings: Settings) -> RuleOptions:
    """The `validation.*` settings as validation takes them (it never reads the configuration itself)."""
    from validation import RuleOptions

    v = settings.validation
    return RuleOptions(backfill_cutoff=v.backfill_cutoff, backfill_cutoff_severity=v.backfill_cutoff_severity)


def all_projections() -> list[Projection]:
    """Every projection kept in the ledger database, in the order they are applied.

    Workflow's projections (units, filings, reviews, ...) are registered here, so that
    every process opening the ledger maintains the same derived tables and
    `chanquan ledger rebuild` replays all of them.
    """
    from intake.state import IntakeProjection
    from workflow import all_projections as workflow_projections

    return [*workflow_projections(), IntakeProjection()]


WITNESS_LOG = "checkpoints.log"
RETIRED_KEYS = "retired"


def retired_verifiers(data_dir: Path) -> list[NoteVerifier]:
    """Verifier keys of earlier checkpoint keys (keys/retired/*.pub): what was signed before a rotation."""
    folder = DataDir(data_dir).keys / RETIRED_KEYS
    return [load_verifier(path) for path in sorted(folder.glob("*.pub"))] if folder.is_dir() else []


def witness_dir(data_dir: Path, settings: Settings) -> Path | None:
    """The configured witness folder (setting ledger.witness_dir), or None."""
    value = settings.ledger.witness_dir
    return resolve_in_data_dir(data_dir, value) if value else None


def open_ledger(
    data_dir: Path,
    settings: Settings | None = None,
    projections: Sequence[Projection] = (),
    *,
    read_only: bool = False,
) -> Ledger:
    """The ledger of a data directory, signing checkpoints with keys/ledger.key when it exists.

    Checkpoint lines (checkpoints.log and the witness copy) are checked with keys/ledger.pub;
    a database that does not extend them raises LedgerForkError, or, `read_only`, opens for
    reading with `ledger.fork` set. A read-only ledger never creates or changes a file.
    """
    settings = settings if settings is not None else load_settings(data_dir)
    paths = DataDir(data_dir)
    key_path = paths.keys / "ledger.key"
    pub_path = paths.keys / "ledger.pub"
    witness = witness_dir(data_dir, settings)
    return Ledger.open(
        paths.ledger_db,
        signing_key_path=key_path if key_path.exists() else None,
        checkpoint_file=paths.checkpoint_file,
        origin=settings.service.ledger_origin,
        projections=projections,
        blobs_dir=paths.blobs,
        checkpoint_interval_seconds=settings.ledger.checkpoint_interval_seconds,
        max_batch=settings.ledger.max_batch,
        witness_file=witness / WITNESS_LOG if witness is not None else None,
        verifier=load_verifier(pub_path) if pub_path.exists() else None,
        retired_verifiers=retired_verifiers(data_dir),
        read_only=read_only,
    )


def fork_notice(ledger: Ledger) -> str | None:
    """What a looking-only command prints to stderr first when the ledger disagrees with its checkpoints."""
    if ledger.fork is None:
        return None
    return "注意：以下内容仅供查看——账本处于只读状态，写入命令都会被拒绝。\n" + ledger.fork.message_zh


def missing_ledger_message(data_dir: Path) -> str | None:
    """Why a command cannot open the data directory's ledger, or None when the database is there.

    A missing database next to signed checkpoints is a lost ledger, not a new installation:
    `init` would refuse it, so the message names the recovery instead of sending people to `init`.
    """
    paths = DataDir(data_dir)
    if paths.ledger_db.exists():
        return None
    log = paths.checkpoint_file
    if log.exists() and log.stat().st_size > 0:
        return (
            f"账本数据库缺失或为空，而检查点文件 {log} 中已有签名记录：账本已丢失，不会重新建一个空账本。"
            "请用 chanquan ledger restore 备份文件 从最近的备份恢复（见 docs/ledger.md）。"
        )
    return f"账本不存在或尚未初始化：{paths.ledger_db}（请先运行 chanquan init）"


REVIEW_TOKEN_KEY = "review-token.key"


def init_review_token_key(data_dir: Path, settings: Settings) -> str:
    """Init step: 32 random bytes for review-token HMACs (0600); an existing key is never replaced."""
    path = DataDir(data_dir).keys / REVIEW_TOKEN_KEY
    if path.exists():
        return f"审核令牌密钥已存在，未改动：{path}"
    write_new(path, secrets.token_bytes(32), mode=0o600)
    return f"已生成审核令牌密钥：{path}（权限 0600）"


def workflow_config(settings: Settings) -> WorkflowConfig:
    from workflow import WorkflowConfig

    return WorkflowConfig(
        supervisor_code=settings.service.supervisor_code,
        supervisor_name=settings.service.supervisor_name,
        lockout_failures=settings.workflow.lockout_failures,
        lockout_window_minutes=settings.workflow.lockout_window_minutes,
        min_password_length=settings.workflow.min_password_length,
    )


def open_workflow(
    data_dir: Path, settings: Settings | None = None, ledger: Ledger | None = None, *, read_only: bool = False
) -> Workflow:
    """The workflow of a data directory; it owns (and closes) the ledger unless one is passed in.

    The review-token key is created on first use when `chanquan init` has not made it yet.
    `read_only` is for commands that only look (filings list, units tree, print --list): the
    ledger and the accounts are opened read-only, nothing is created or recorded (not even
    the supervising body's root unit), and a ledger that disagrees with its signed checkpoints
    can still be read (`workflow.ledger.fork` says how).
    """
    from workflow import Workflow

    settings = settings if settings is not None else load_settings(data_dir)
    key_path = DataDir(data_dir).keys / REVIEW_TOKEN_KEY
    if not key_path.exists() and not read_only:
        init_review_token_key(data_dir, settings)
    owns = ledger is None
    if ledger is None:
        ledger = open_ledger(data_dir, settings, all_projections(), read_only=read_only)
    try:
        workflow = Workflow(
            ledger,
            accounts_db=DataDir(data_dir).accounts_db,
            # a looking-only workflow issues no review tokens: without the key file any key will do
            token_key=key_path.read_bytes() if key_path.exists() else secrets.token_bytes(32),
            settings=workflow_config(settings),
            owns_ledger=owns,
        )
    except BaseException:
        if owns:
            ledger.close()
        raise
    if not ledger.read_only:
        workflow.units.ensure_root()
    return workflow


def prefill_registration(data_dir: Path, code: str) -> Registration | None:
    """The unit's last approved registration, for `chanquan template --unit CODE`."""
    from workflow.accounts import normalize_username

    with open_workflow(data_dir) as workflow:
        return workflow.last_approved(normalize_username(code))


def init_signing_identity(data_dir: Path, settings: Settings) -> str:
    """Init step: the document-signing CA and certificate in keys/ (never replaced once made)."""
    from documents import create_signing_identity

    if settings.pdf.pkcs12_file:
        return f"使用已配置的签章证书：{settings.pdf.pkcs12_file}"
    keys = DataDir(data_dir).keys
    if create_signing_identity(keys, settings.service.supervisor_name, mail_domain=settings.service.mail_domain):
        return f"已生成文书签章 CA 和签章证书：{keys / 'ca.pem'}、{keys / 'signer.p12'}（私钥权限 0600）"
    return f"文书签章证书已存在，未改动：{keys / 'signer.p12'}"


def open_document_issuer(
    data_dir: Path, settings: Settings | None = None, workflow: Workflow | None = None
) -> DocumentIssuer:
    """The PDF issuer of a data directory; it opens (and on close, closes) a workflow unless one is passed in."""
    from documents import DocumentIssuer, TemplateCatalog, identity_files

    settings = settings if settings is not None else load_settings(data_dir)
    paths = DataDir(data_dir)
    owned = workflow is None
    wf = workflow if workflow is not None else open_workflow(data_dir, settings)
    try:
        return DocumentIssuer(
            wf.ledger,
            wf,
            identity_files(paths.keys, settings.pdf.pkcs12_file, settings.pdf.pkcs12_password),
            authority=settings.service.supervisor_name,
            templates=TemplateCatalog(),
            default_template=settings.pdf.default_template,
            font_file=settings.pdf.font_file,
            fallback_font_files=settings.pdf.fallback_font_files,
            timestamp_url=settings.pdf.timestamp_url,
            ledger_pub=paths.keys / "ledger.pub",
            public_url=settings.web.base_url(),  # the QR code leads to the portal's /verify page
            timezone=settings.service.timezone,
            closers=[wf.close] if owned else [],
        )
    except BaseException:
        if owned:
            wf.close()
        raise


def portal_config(data_dir: Path, settings: Settings) -> PortalConfig:
    """The portal's plain values from chanquan.toml (section `web`, the support contact, and the SMTP
    listener's address for the user guide); `create_app(workflow, portal_config(...), issuer=...)`."""
    from portal import PortalConfig
    from portal.config import MailDoor, SupportContact
    from workflow.accounts import normalize_username

    web, service, intake = settings.web, settings.service, settings.intake
    set_reader_zone(service.timezone)  # the portal's pages show times in it (ledger.localtime)
    return PortalConfig(
        sessions_db=data_dir / "portal.sqlite3",
        supervisor_name=service.supervisor_name,
        public_url=web.base_url(),
        session_idle_minutes=web.session_idle_minutes,
        session_max_hours=web.session_max_hours,
        secure_cookies=web.secure_cookies,
        login_rate_per_minute=web.login_rate_per_minute,
        max_upload_bytes=intake.smtp_max_message_bytes,
        support=SupportContact(service.support_name, service.support_phone, service.support_email),
        mail_door=MailDoor(
            smtp_host=intake.smtp_host,
            smtp_port=intake.smtp_port,
            starttls=bool(intake.tls_cert_file),
            mail_domain=service.mail_domain,
            max_message_bytes=intake.smtp_max_message_bytes,
        ),
        verify_max_bytes=web.verify_max_bytes,
        verify_rate_per_minute=web.verify_rate_per_minute,
        admin_users=frozenset(normalize_username(name) for name in web.admin_users),
    )


def open_portal(
    data_dir: Path,
    settings: Settings,
    workflow: Workflow,
    *,
    intake: IntakeService | None = None,
    issuer: DocumentIssuer | None = None,
) -> Starlette:
    """The portal's ASGI app over the service's own workflow, intake (the door of 报送申报) and issuer
    (打表/打证, /verify), as `chanquan serve` and the demo run it (chanquan.web.PortalServer)."""
    from portal import create_app

    return create_app(workflow, portal_config(data_dir, settings), issuer=issuer, intake=intake)


def outbox_config(data_dir: Path, settings: Settings) -> OutboxConfig:
    """The outbox's plain values from chanquan.toml; a bad relay_security is refused here, by name."""
    from chanquan.config import CONFIG_FILE_NAME, ConfigError, resolve_in_data_dir
    from outbox import OutboxConfig, RelayConfig, RetryPolicy

    o = settings.outbox
    if o.relay_security not in ("none", "starttls", "smtps"):
        problem = f"outbox.relay_security must be none, starttls or smtps, not {o.relay_security!r}"
        raise ConfigError(data_dir / CONFIG_FILE_NAME, problem)
    relay = None
    if o.relay_host:
        relay = RelayConfig(
            host=o.relay_host,
            port=o.relay_port,
            security=cast("RelaySecurity", o.relay_security),
            user=o.relay_user,
            password=o.relay_password,
            timeout_seconds=o.relay_timeout_seconds,
            local_hostname=settings.service.mail_domain,
        )
    return OutboxConfig(
        mail_domain=settings.service.mail_domain,
        from_address=o.from_address,
        from_name=f"{settings.service.supervisor_name}产权登记系统",
        supervisor_name=settings.service.supervisor_name,
        support_name=settings.service.support_name,
        support_phone=settings.service.support_phone,
        support_email=settings.service.support_email,
        guide_url=f"{settings.web.base_url()}/help",
        timezone=settings.service.timezone,
        relay=relay,
        maildir=resolve_in_data_dir(data_dir, o.maildir),
        dropbox_dir=resolve_in_data_dir(data_dir, settings.intake.dropbox_dir),
        retry=RetryPolicy(o.max_attempts, o.backoff_base_seconds, o.backoff_max_seconds),
        attach_limit_bytes=o.attach_limit_bytes,
        reminder_working_days=o.reminder_working_days,
        poll_seconds=o.poll_seconds,
        reminder_check_seconds=o.reminder_check_seconds,
    )


def open_outbox(
    data_dir: Path,
    settings: Settings | None = None,
    workflow: Workflow | None = None,
    *,
    issuer: DocumentIssuer | None = None,
) -> Outbox:
    """The outbox of a data directory, with the document issuer as its `filing.approved` hook.

    It opens (and on close, closes) a workflow unless one is passed in, as `serve` does, and its own
    issuer unless one is passed in: `serve` passes the one the portal prints with, so that a first
    issuance is decided under one issuer's lock.
    """
    import intake.events  # noqa: F401  registers the intake kinds the outbox answers (outbox/foreign_kinds.py)
    from outbox import Outbox

    settings = settings if settings is not None else load_settings(data_dir)
    config = outbox_config(data_dir, settings)
    owned = workflow is None
    wf = workflow if workflow is not None else open_workflow(data_dir, settings)
    try:
        own_issuer = issuer is None
        documents = issuer if issuer is not None else open_document_issuer(data_dir, settings, wf)
        closers = [documents.close] if own_issuer else []
        return Outbox(
            wf.ledger,
            wf,
            DataDir(data_dir).outbox,
            config,
            pdf_issuer=documents.on_approved,
            closers=[wf.close, *closers] if owned else closers,
        )
    except BaseException:
        if owned:
            wf.close()
        raise


def open_intake(
    data_dir: Path,
    settings: Settings,
    workflow: Workflow,
    *,
    smtp_port: int | None = None,
    dropbox: Path | None = None,
) -> IntakeService:
    """Intake (drop folder, SMTP listener, worker) over an open workflow, as `chanquan serve` runs it."""
    import hashlib
    import hmac

    from chanquan.config import resolve_in_data_dir
    from intake.dropbox import DropboxConfig
    from intake.service import IntakeConfig, IntakeService
    from intake.smtp import SmtpConfig
    from portal.help_pages import PASSWORD_CHAPTER_PATH

    i = settings.intake
    options = rule_options(settings)
    paths = DataDir(data_dir)
    token_key = (paths.keys / REVIEW_TOKEN_KEY).read_bytes()
    config = IntakeConfig(
        inbound_dir=paths.inbound,
        processing_dir=paths.processing,
        dropbox=DropboxConfig(
            root=dropbox if dropbox is not None else resolve_in_data_dir(data_dir, i.dropbox_dir),
            settle_seconds=i.settle_seconds,
            empty_settle_seconds=i.empty_settle_seconds,
            rescan_seconds=i.rescan_seconds,
            polling_observer=i.polling_observer,
        ),
        smtp=SmtpConfig(
            host=i.smtp_host,
            port=i.smtp_port if smtp_port is None else smtp_port,
            max_message_bytes=i.smtp_max_message_bytes,
            tls_cert_file=str(resolve_in_data_dir(data_dir, i.tls_cert_file)) if i.tls_cert_file else "",
            tls_key_file=str(resolve_in_data_dir(data_dir, i.tls_key_file)) if i.tls_key_file else "",
            server_hostname=settings.service.mail_domain,
        ),
        mail_domain=settings.service.mail_domain,
        accept_contact_filings=i.accept_contact_filings,
        rule_options=options,  # for every check, the worker processes' included
        password_help_url=settings.web.base_url() + PASSWORD_CHAPTER_PATH,
    )
    return IntakeService(
        config,
        ledger=workflow.ledger,
        workflow=workflow,
        # its own key, derived from the review-token secret: a review token is never a confirmation token
        confirm_key=hmac.new(token_key, b"intake-confirmation", hashlib.sha256).digest(),
    )
