"""The SMTP listener: a thin aiosmtpd handler in front of `MailGate`, which decides.

The handler only reads the envelope, hands it to the gate in a worker thread (spooling
fsyncs and the ledger commits must not stall the event loop) and returns the gate's
status line. 250 is answered only once the message is durably spooled and recorded;
the size limit is aiosmtpd's `data_size_limit` (552 before the handler sees anything).
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import logging
import socket
import ssl
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from email.parser import BytesHeaderParser
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from intake.item import InboundItem, Purpose
from intake.mime import attachments_label, decode_header_text, parse_mail
from intake.replies import reply_recipient
from intake.smtpdata import BlockDataController
from intake.spool import MailSpool, Receiver, SpoolRecorder, new_item_id

log = logging.getLogger(__name__)


def _not_login_data_deprecation(record: logging.LogRecord) -> bool:
    """aiosmtpd warns on every AUTH that it sets its own deprecated attribute; that says nothing to us."""
    return "login_data is deprecated" not in record.getMessage()


logging.getLogger("mail.log").addFilter(_not_login_data_deprecation)

PASSWORD_CHANGE_SUBJECT = "修改密码"

# Status lines. Mail programs show them to people (in an error dialog or a bounce), so each
# says in Chinese first what happened and what to do; a short English gloss may follow.
OK_RECEIVED = "250 2.0.0 已收到，回执编号 {item_id} (OK)"
OK_RESENT = "250 2.0.0 此邮件此前已收到（重复发送），回执编号 {item_id} (OK, already received)"
OK_PASSWORD = "250 2.0.0 密码已修改，请用新密码登录后报送 (OK, password changed)"
NEED_AUTH = (
    "550 5.7.1 报送请先用组织机构代码登录（SMTP 认证）；"
    "审核回复请直接回复审核邮件（发往 review+…@ 地址） (Authentication required)"
)
MUST_CHANGE = (
    "553 5.7.1 账户仍在使用初始密码，须先修改密码。"
    "请发送主题为“修改密码”的邮件，正文两行均写新密码 (Password change required)"
)
PASSWORD_FORM = "554 5.7.1 修改密码邮件的正文须为新密码，连写两行且两行相同 (New password expected twice)"
TEMPORARY_FAILURE = "451 4.3.0 暂时无法保存邮件，请稍后重发 (Temporary failure, try again later)"
AUTH_FAILED = "535 5.7.8 登录失败：{reason} (Authentication failed)"


@dataclass(frozen=True)
class Login:
    """What a successful AUTH leaves in the session (the password only for a password change)."""

    username: str
    filer: str  # the unit's code (differs from the user name for overseas units)
    must_change: bool
    password: str


@dataclass(frozen=True)
class AuthOutcome:
    ok: bool
    username: str = ""
    filer: str = ""
    must_change: bool = False
    reason_zh: str = ""


Authenticate = Callable[[str, str], AuthOutcome]
ChangePassword = Callable[[str, str, str], str | None]  # (user, old, new) -> Chinese refusal or None


class MailGate:
    """Decides what happens to one SMTP transaction; synchronous and testable without a socket."""

    def __init__(
        self,
        *,
        spool: MailSpool,
        receiver: Receiver,
        authenticate: Authenticate,
        change_password: ChangePassword,
        contact_unit: Callable[[str], str | None],
        accept_contact_filings: bool,
        auth_cache_seconds: float = 60.0,
        recorder: SpoolRecorder | None = None,
    ) -> None:
        self.spool = spool
        self.recorder = recorder  # None: record before answering (tools and tests without the service)
        self.receiver = receiver
        self._authenticate = authenticate
        self.change_password = change_password
        self.contact_unit = contact_unit
        self.accept_contact_filings = accept_contact_filings
        self.auth_cache_seconds = auth_cache_seconds
        self._auth_cache: dict[bytes, tuple[float, AuthOutcome]] = {}
        self._cache_lock = threading.Lock()

    # -- AUTH ----------------------------------------------------------------------------------
    def authenticate(self, login: str, password: str) -> AuthOutcome:
        """Checks through workflow; a recent success is remembered briefly (scrypt per mail is too slow)."""
        key = hashlib.sha256(f"{login}\x00{password}".encode()).digest()
        now = time.monotonic()
        with self._cache_lock:
            cached = self._auth_cache.get(key)
            if cached and now - cached[0] < self.auth_cache_seconds:
                return cached[1]
        outcome = self._authenticate(login, password)
        if outcome.ok and not outcome.must_change:
            with self._cache_lock:
                if len(self._auth_cache) > 10_000:
                    self._auth_cache.clear()
                self._auth_cache[key] = (now, outcome)
        log.info("intake.smtp_auth", extra={"username": outcome.username or login, "ok": outcome.ok})
        return outcome

    def forget_login(self, login: str, password: str) -> None:
        with self._cache_lock:
            self._auth_cache.pop(hashlib.sha256(f"{login}\x00{password}".encode()).digest(), None)

    # -- RCPT ----------------------------------------------------------------------------------
    def recipient_refusal(self, login: Login | None, mail_from: str, rcpt: str) -> str | None:
        """None when the recipient is acceptable for this session; otherwise the 5xx line."""
        if login is not None:
            return None
        if reply_recipient([rcpt]) is not None:
            return None
        if self.accept_contact_filings and self.contact_unit(mail_from):
            return None
        return NEED_AUTH

    # -- DATA ----------------------------------------------------------------------------------
    def accept(self, login: Login | None, mail_from: str, rcpts: list[str], raw: bytes) -> str:
        """The status line for one message; 250 only once it is durably spooled (the recorder stores
        and records it afterwards, in batches)."""
        end_of_headers = raw.find(b"\r\n\r\n")
        headers = BytesHeaderParser().parsebytes(raw if end_of_headers < 0 else raw[: end_of_headers + 4])
        subject = decode_header_text(headers.get("subject")).strip()
        if login is not None and subject == PASSWORD_CHANGE_SUBJECT:
            return self._password_change(login, raw)
        if login is not None and login.must_change:
            return MUST_CHANGE
        arrival = self._arrival(login, mail_from, rcpts, headers.get("message-id", "").strip(), attachments_label(raw))
        if arrival is None:
            return NEED_AUTH
        content_sha256 = hashlib.sha256(raw).hexdigest()
        with self.receiver.resent_lock(arrival.message_id):
            earlier = self.receiver.find_resent(arrival.message_id, content_sha256)
            spooled = self.recorder.find(arrival.message_id, content_sha256) if self.recorder else None
            if earlier is not None or spooled is not None:
                first_item, filing_id = earlier or (spooled or "", "")
                log.info("intake.smtp_resent", extra={"item_id": first_item, "filing_id": filing_id})
                return OK_RESENT.format(item_id=first_item)
            path = self.spool.write(arrival, raw)  # durable: the 250 below may be answered now
            if self.recorder is not None:
                self.recorder.add(arrival, path, content_sha256)
            else:
                self.receiver.record(arrival, raw)
                self.spool.discard(path)
        return OK_RECEIVED.format(item_id=arrival.item_id)

    def _arrival(
        self, login: Login | None, mail_from: str, rcpts: list[str], message_id: str, original_name: str
    ) -> InboundItem | None:
        """`original_name` is the mail's attachment names: what the filer will look for in the answers."""

        def item(purpose: Purpose, sender: str, filer: str, recipient: str = "") -> InboundItem:
            return InboundItem(
                item_id=new_item_id(),
                channel="smtp",
                purpose=purpose,
                sender=sender,
                filer=filer,
                reply_to=mail_from,
                original_name=original_name,
                message_id=message_id,
                recipient=recipient,
            )

        # A reply to a review or confirmation address is a reply even from a logged-in session.
        reply = reply_recipient(rcpts)
        if reply is not None:
            purpose, rcpt = reply
            return item(purpose, mail_from, "", rcpt)
        if login is not None:
            return item("filing", login.username, login.filer)
        unit = self.contact_unit(mail_from) if self.accept_contact_filings else None
        return item("contact_filing", mail_from, unit) if unit else None

    def _password_change(self, login: Login, raw: bytes) -> str:
        """Handled at once and never spooled: the mail holds a password, which must not be stored."""
        lines = [line.strip() for line in parse_mail(raw).text.splitlines() if line.strip()]
        if len(lines) < 2 or lines[0] != lines[1]:
            return PASSWORD_FORM
        refusal = self.change_password(login.username, login.password, lines[0])
        if refusal:
            return f"554 5.7.1 {refusal} (Password not changed)"
        self.forget_login(login.username, login.password)
        log.info("intake.password_changed", extra={"username": login.username})
        return OK_PASSWORD


class IntakeSMTPHandler:
    """aiosmtpd handler: envelope in, status line out; the gate decides in a worker thread."""

    def __init__(self, gate: MailGate, executor: ThreadPoolExecutor) -> None:
        self.gate = gate
        self.executor = executor

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        refusal = self.gate.recipient_refusal(_login(session), envelope.mail_from or "", address)
        if refusal:
            return refusal
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(
                self.executor,
                self.gate.accept,
                _login(session),
                envelope.mail_from or "",
                list(envelope.rcpt_tos),
                raw,
            )
        except Exception:
            log.exception("intake.smtp_spool_failed")
            return TEMPORARY_FAILURE


def _login(session: Session) -> Login | None:
    data = session.auth_data
    return data if session.authenticated and isinstance(data, Login) else None


def make_authenticator(gate: MailGate) -> Callable[..., AuthResult]:
    def authenticator(server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any) -> AuthResult:
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        login = auth_data.login.decode("utf-8", "replace")
        password = auth_data.password.decode("utf-8", "replace")
        outcome = gate.authenticate(login, password)
        if not outcome.ok:
            reason = outcome.reason_zh or "用户名或密码错误"
            return AuthResult(success=False, handled=False, message=AUTH_FAILED.format(reason=reason))
        return AuthResult(success=True, auth_data=Login(outcome.username, outcome.filer, outcome.must_change, password))

    return authenticator


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host in ("localhost",)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True)
class SmtpConfig:
    host: str = "127.0.0.1"
    port: int = 8025
    max_message_bytes: int = 30 * 1024 * 1024
    tls_cert_file: str = ""
    tls_key_file: str = ""
    server_hostname: str = "chanquan.localhost"
    workers: int = 16


class SmtpServer:
    """One listener; `start()` and `stop()` wrap aiosmtpd's Controller and the worker threads."""

    # the protocol: block-read DATA; `intake.smtpdata.ChineseFirstController` is aiosmtpd's own DATA path
    controller_class: type[Controller] = BlockDataController

    def __init__(self, gate: MailGate, config: SmtpConfig) -> None:
        self.config = config
        self.port = config.port or free_port(config.host)
        self.executor = ThreadPoolExecutor(max_workers=config.workers, thread_name_prefix="smtp-intake")
        tls_context: ssl.SSLContext | None = None
        if config.tls_cert_file:
            tls_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            tls_context.load_cert_chain(config.tls_cert_file, config.tls_key_file or None)
        if not tls_context and not is_loopback(config.host):
            log.warning("intake.smtp_auth_unavailable", extra={"reason": "no TLS certificate on a public address"})
        self.controller = self.controller_class(
            IntakeSMTPHandler(gate, self.executor),
            hostname=config.host,
            port=self.port,
            server_hostname=config.server_hostname,
            ident="chanquan intake",
            data_size_limit=config.max_message_bytes,
            enable_SMTPUTF8=True,
            tls_context=tls_context,
            authenticator=make_authenticator(gate),
            auth_require_tls=not is_loopback(config.host),
            timeout=300,
        )

    def start(self) -> None:
        self.controller.start()
        log.info("intake.smtp_listening", extra={"host": self.config.host, "port": self.port})

    def stop(self) -> None:
        try:
            self.controller.stop()
        finally:
            self.executor.shutdown(wait=True)
