"""Shared helpers: a real ledger and workflow in a temporary data directory, and an intake service on it."""

from __future__ import annotations

import io
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import Any

from support.registrations import (
    DOCUMENT_KINDS,
    SMALL_PDF,
    WHOLLY_STATE_OWNED,
    document_rows,
    investor_row,
    registration_values,
)

from intake.dropbox import DropboxConfig
from intake.service import IntakeConfig, IntakeService
from intake.smtp import SmtpConfig, free_port
from intake.state import IntakeProjection
from ledger import Ledger
from validation.bundle import Bundle
from validation.check import check_bundle
from validation.codes import make_org_code
from validation.template import fill_workbook, template_bytes
from workflow import ScryptParams, Workflow, all_projections

TOKEN_KEY = b"intake-test-token-key-0123456789"
FIRST = make_org_code("50000001")
CHILD = make_org_code("50000002")
PASSWORD = "Chanquan#2026pass"
REVIEWER = "reviewer@first.example.cn"
FILER = "filer@child.example.cn"

_TEMPLATE: list[bytes] = []


def workbook() -> bytes:
    """A real (blank) registration workbook: it loads, and validation reports its findings."""
    if not _TEMPLATE:
        _TEMPLATE.append(template_bytes())
    return _TEMPLATE[0]


def bundle_zip(extra: bytes = b"") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("登记表.xlsx", workbook())
        archive.writestr("业务办理申请文件.pdf", b"%PDF-1.4 " + extra)
    return buffer.getvalue()


def run_check(bundle: Bundle, rules: list[Any]) -> Any:
    return check_bundle(bundle, extra_rules=rules)


def open_ledger(data: Path) -> Ledger:
    return Ledger.open(data / "ledger.sqlite3", projections=[*all_projections(), IntakeProjection()])


def open_workflow(ledger: Ledger, data: Path) -> Workflow:
    return Workflow(ledger, accounts_db=data / "accounts.sqlite3", token_key=TOKEN_KEY, scrypt=ScryptParams(n=2**4))


def add_units(wf: Workflow) -> None:
    wf.units.add(FIRST, "重庆测试集团有限公司", reviewer_emails=[REVIEWER])
    wf.units.add(CHILD, "重庆测试子公司", parent=FIRST, filer_emails=[FILER])
    wf.accounts.set_password(CHILD, PASSWORD)


@dataclass
class Env:
    data: Path
    ledger: Ledger
    wf: Workflow
    service: IntakeService

    @property
    def dropbox(self) -> Path:
        return self.service.config.dropbox.root

    @property
    def port(self) -> int:
        assert self.service.smtp is not None
        return self.service.smtp.port

    def kinds(self, kind: str) -> list[Any]:
        return list(self.ledger.events(kind=kind))

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            time.sleep(0.05)
        seen = [(ev.kind, ev.payload.get("outcome", "")) for ev in self.ledger.events() if ev.kind.startswith("intake")]
        raise AssertionError(f"condition not reached in time; intake events: {seen}")


def intake_config(data: Path, **overrides: Any) -> IntakeConfig:
    settle = overrides.pop("settle_seconds", 0.2)
    rescan = overrides.pop("rescan_seconds", 1.0)
    polling = overrides.pop("polling_observer", False)
    empty_settle = overrides.pop("empty_settle_seconds", 60.0)
    # in-thread checking unless a test asks for worker processes (spawning them costs a second)
    overrides.setdefault("check_processes", 0)
    return IntakeConfig(
        inbound_dir=data / "inbound",
        processing_dir=data / "processing",
        dropbox=DropboxConfig(
            data / "dropbox",
            settle_seconds=settle,
            empty_settle_seconds=empty_settle,
            rescan_seconds=rescan,
            polling_observer=polling,
        ),
        smtp=overrides.pop("smtp", SmtpConfig(port=free_port(), max_message_bytes=2 * 1024 * 1024)),
        **overrides,
    )


def build_env(data: Path, **overrides: Any) -> Env:
    ledger = open_ledger(data)
    wf = open_workflow(ledger, data)
    if wf.units.get(FIRST) is None:
        add_units(wf)
    service = IntakeService(
        intake_config(data, **overrides), ledger=ledger, workflow=wf, check_bundle=run_check, confirm_key=TOKEN_KEY
    )
    return Env(data, ledger, wf, service)


def close_env(env: Env) -> None:
    env.service.stop()
    env.wf.close()
    env.ledger.close()


PDF = SMALL_PDF
DOCS = DOCUMENT_KINDS


def valid_workbook(unit: str = CHILD, name: str = "重庆测试子公司", parent: str = FIRST, level: int = 2) -> bytes:
    """A workbook that passes every check (filled by defined name, as an outside tool would)."""
    values = registration_values(unit, name, level, parent)
    investors = [investor_row("出资企业", parent, WHOLLY_STATE_OWNED, 1000, 100)]
    return fill_workbook(workbook(), values, investors, document_rows(DOCS))


def valid_attachments() -> dict[str, bytes]:
    return {f"{index}.pdf": PDF for index in range(len(DOCS))}


def filing_mail(
    subject: str = "产权登记报送", *, sender: str = FILER, workbook_name: str = "产权登记表.xlsx", big: bytes = b""
) -> EmailMessage:
    """A filer's mail: the valid workbook and attachments (and `big`, an extra file, when given)."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = "filing@chanquan.localhost"
    message["Subject"] = subject
    message["Message-ID"] = make_msgid(domain="child.example.cn")
    message.set_content("附件为登记表及资料。")
    message.add_attachment(
        valid_workbook(),
        maintype="application",
        subtype="vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        filename=workbook_name,
    )
    for name, data in valid_attachments().items():
        message.add_attachment(data, maintype="application", subtype="pdf", filename=name)
    if big:
        message.add_attachment(big, maintype="application", subtype="octet-stream", filename="big.bin")
    return message


def valid_zip(**kwargs: Any) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("登记表.xlsx", valid_workbook(**kwargs))
        for name, data in valid_attachments().items():
            archive.writestr(name, data)
    return buffer.getvalue()


def workbook_for_unit(base: bytes, base_unit: str, unit: str) -> bytes:
    """Another unit's valid workbook from one filled workbook, by rewriting the codes inside its XML.

    Filling by openpyxl costs a third of a second; tests that need hundreds of distinct valid
    filings rewrite the organization code and the USCC that contains it instead.
    """
    from validation.codes import make_uscc

    replacements = [
        (make_uscc("91500000", base_unit).encode(), make_uscc("91500000", unit).encode()),
        (base_unit.encode(), unit.encode()),
    ]
    source = zipfile.ZipFile(io.BytesIO(base))
    buffer = io.BytesIO()
    with source, zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            data = source.read(info)
            if info.filename.endswith(".xml"):
                for old, new in replacements:
                    data = data.replace(old, new)
            target.writestr(info, data)
    return buffer.getvalue()
