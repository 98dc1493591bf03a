"""Where a spooled message goes: an SMTP relay, or the local Maildir when none is configured.

Each attempt ends in one of three outcomes, decided here from the SMTP reply so the
sender only has to act on them: sent (250), deferred (4xx, dropped connection,
timeout — try again later) or dead (5xx — retrying cannot help).
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

from ledger.durable import atomic_write_bytes, fsync_dir
from outbox.spool import Envelope, spool_name

log = logging.getLogger(__name__)

Status = Literal["sent", "deferred", "dead"]
RelaySecurity = Literal["none", "starttls", "smtps"]


@dataclass(frozen=True)
class DeliveryOutcome:
    status: Status
    detail: str
    code: int | None = None


class Transport(Protocol):
    description: str

    def deliver(self, envelope: Envelope, message: bytes) -> DeliveryOutcome: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class RelayConfig:
    host: str
    port: int = 25
    security: RelaySecurity = "starttls"
    user: str = ""
    password: str = ""
    timeout_seconds: float = 30.0
    local_hostname: str | None = None
    ssl_context: ssl.SSLContext | None = None


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def _by_code(code: int, detail: str) -> DeliveryOutcome:
    return DeliveryOutcome("dead" if 500 <= code < 600 else "deferred", detail, code)


class SmtpRelay:
    """One connection reused for a whole sender pass; any failure drops it so the next try reconnects."""

    def __init__(self, config: RelayConfig) -> None:
        self.config = config
        self.description = f"smtp://{config.host}:{config.port} ({config.security})"
        self._smtp: smtplib.SMTP | None = None

    def _connect(self) -> smtplib.SMTP:
        cfg = self.config
        context = cfg.ssl_context or ssl.create_default_context()
        smtp: smtplib.SMTP
        if cfg.security == "smtps":
            smtp = smtplib.SMTP_SSL(
                cfg.host, cfg.port, local_hostname=cfg.local_hostname, timeout=cfg.timeout_seconds, context=context
            )
        else:
            smtp = smtplib.SMTP(cfg.host, cfg.port, local_hostname=cfg.local_hostname, timeout=cfg.timeout_seconds)
        try:
            smtp.ehlo()
            if cfg.security == "starttls":
                smtp.starttls(context=context)
                smtp.ehlo()
            if cfg.user:
                smtp.login(cfg.user, cfg.password)
        except BaseException:
            smtp.close()
            raise
        return smtp

    def deliver(self, envelope: Envelope, message: bytes) -> DeliveryOutcome:
        try:
            if self._smtp is None:
                self._smtp = self._connect()
            refused = self._smtp.sendmail(envelope.mail_from, envelope.rcpt, message)
        except smtplib.SMTPRecipientsRefused as exc:
            self.close()
            codes = [code for code, _ in exc.recipients.values()]
            detail = "; ".join(f"{rcpt}: {code} {_text(text)}" for rcpt, (code, text) in exc.recipients.items())
            worst = min(codes) if codes else 450
            return _by_code(worst, detail)
        except smtplib.SMTPAuthenticationError as exc:
            # A wrong password is an operator's mistake, not the recipient's: keep the mail until it is fixed.
            self.close()
            return DeliveryOutcome("deferred", f"AUTH failed: {exc.smtp_code} {_text(exc.smtp_error)}", exc.smtp_code)
        except smtplib.SMTPResponseException as exc:
            self.close()
            return _by_code(exc.smtp_code, f"{exc.smtp_code} {_text(exc.smtp_error)}")
        except (TimeoutError, smtplib.SMTPException, OSError) as exc:
            self.close()
            return DeliveryOutcome("deferred", f"{type(exc).__name__}: {exc}")
        if refused:
            detail = "accepted, refused: " + "; ".join(f"{r}: {c} {_text(t)}" for r, (c, t) in refused.items())
            return DeliveryOutcome("sent", detail, 250)
        return DeliveryOutcome("sent", "250 accepted", 250)

    def close(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is None:
            return
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            pass
        finally:
            smtp.close()


class MaildirDelivery:
    """Local delivery into a standard Maildir (tmp/new/cur), readable with `mutt -f DIR` or mailbox.Maildir.

    The file name derives from the Message-ID, so delivering the same message again after
    a crash finds it already there: local delivery is exactly-once.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.description = f"maildir:{root}"
        for sub in ("tmp", "new", "cur"):
            (root / sub).mkdir(parents=True, exist_ok=True)

    def _delivered(self, base: str) -> bool:
        if (self.root / "new" / base).exists():
            return True
        return any(True for _ in (self.root / "cur").glob(base + "*"))

    def deliver(self, envelope: Envelope, message: bytes) -> DeliveryOutcome:
        base = "chanquan." + spool_name(envelope.message_id).removesuffix(".msg")
        if self._delivered(base):
            return DeliveryOutcome("sent", f"already in {self.root}", 250)
        try:
            # Maildir files use local line endings; the spool keeps SMTP's CRLF.
            atomic_write_bytes(self.root / "new" / base, message.replace(b"\r\n", b"\n"), tmp_dir=self.root / "tmp")
        except OSError as exc:
            return DeliveryOutcome("deferred", f"maildir write failed: {exc}")
        return DeliveryOutcome("sent", f"delivered to {self.root / 'new' / base}", 250)

    def close(self) -> None:
        fsync_dir(self.root / "new")
