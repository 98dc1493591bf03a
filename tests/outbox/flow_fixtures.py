"""A real ledger + workflow + document issuer with a small unit tree, for the end-to-end outbox tests."""

from __future__ import annotations

import mailbox
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from functools import cache
from pathlib import Path
from typing import Any

from support.registrations import document_rows, org_code, registration_bundle, registration_values, sole_investor

import outbox.events  # noqa: F401
from documents import DocumentIssuer, create_signing_identity, identity_files
from ledger import Ledger
from outbox import MaildirDelivery, Outbox, OutboxConfig
from validation.bundle import Bundle
from validation.check import check_bundle
from workflow import Channel, ScryptParams, SubmitOutcome, Workflow, WorkflowConfig, all_projections

GROUP = org_code("20000001")
SUB = org_code("20000002")
GROUP_NAME = "重庆渝新产业投资集团有限公司"
SUB_NAME = "重庆渝新置业有限公司"


@cache
def _keys(root: str) -> Path:
    keys = Path(root)
    create_signing_identity(keys, "重庆市国资委", mail_domain="chanquan.test")
    return keys


def bundle(capital: int = 1000, *, broken: bool = False) -> Bundle:
    """SUB's filing; `broken` gives it a USCC that validation rejects."""
    values = registration_values(SUB, SUB_NAME, 2, GROUP, capital=capital)
    if broken:
        values["uscc"] = "91500000XXXXXXXXXX"
    investors = sole_investor(GROUP, 2, capital, name=GROUP_NAME)
    return registration_bundle(values, investors, document_rows())


@dataclass
class Flow:
    data: Path
    ledger: Ledger
    wf: Workflow
    issuer: DocumentIssuer
    items: int = 0

    def outbox(self, **config: Any) -> Outbox:
        cfg = OutboxConfig(
            mail_domain="chanquan.test", supervisor_name="重庆市国资委", dropbox_dir=self.data / "dropbox", **config
        )
        return Outbox(
            self.ledger,
            self.wf,
            self.data / "outbox",
            cfg,
            pdf_issuer=self.issuer.on_approved,
            transport=MaildirDelivery(self.data / "maildir"),
        )

    def deliver(self) -> None:
        """One outbox over everything recorded so far: dispatch, send, close."""
        box = self.outbox()
        try:
            run(box)
        finally:
            box.close()

    def file(
        self,
        *,
        channel: Channel = "dropbox",
        reply_to: str = "",
        original_name: str = "",
        message_id: str = "",
        **kwargs: Any,
    ) -> SubmitOutcome:
        self.items += 1
        filed = bundle(**kwargs)
        result = check_bundle(filed, extra_rules=self.wf.ledger_rules(SUB))
        return self.wf.submit(
            f"item-{self.items}",
            filer=SUB,
            channel=channel,
            reply_to=reply_to,
            bundle=filed,
            check_result=result,
            original_name=original_name,
            message_id=message_id,
        )


@contextmanager
def flow(tmp_path: Path, keys_cache: Path) -> Iterator[Flow]:
    data = tmp_path / "data"
    ledger = Ledger.open(data / "ledger.sqlite3", projections=all_projections(), checkpoint_interval_seconds=3600)
    wf = Workflow(
        ledger,
        accounts_db=data / "accounts.sqlite3",
        token_key=b"k" * 32,
        settings=WorkflowConfig(supervisor_code="SASAC0001"),
        scrypt=ScryptParams(n=2**4, r=8, p=1),
    )
    issuer = DocumentIssuer(ledger, wf, identity_files(_keys(str(keys_cache))), authority="重庆市国资委")
    try:
        wf.units.ensure_root()
        wf.units.set_contacts("SASAC0001", reviewer_emails=["review@sasac.test"], filer_emails=["office@sasac.test"])
        wf.units.add(
            GROUP,
            GROUP_NAME,
            parent="SASAC0001",
            filer_emails=["filer@yuxin.test"],
            reviewer_emails=["audit1@yuxin.test", "audit2@yuxin.test"],
        )
        wf.units.add(
            SUB,
            SUB_NAME,
            parent=GROUP,
            filer_emails=["filer@zhiye.test"],
            reviewer_emails=["boss@zhiye.test"],
        )
        yield Flow(data, ledger, wf, issuer)
    finally:
        issuer.close()
        wf.close()
        ledger.close()


def delivered(data: Path, purpose: str = "") -> list[EmailMessage]:
    """The mails in the Maildir under `data` (only those of `purpose`, when named), in Message-ID order."""
    if not (data / "maildir").exists():
        return []
    box = mailbox.Maildir(data / "maildir", create=False)
    found = []
    for key in box.iterkeys():
        parsed = message_from_bytes(box.get_bytes(key), policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        if not purpose or parsed["X-Chanquan-Purpose"] == purpose:
            found.append(parsed)
    return sorted(found, key=lambda m: str(m["Message-ID"]))


def text_of(message: EmailMessage) -> str:
    body = message.get_body(("plain",))
    assert body is not None
    return str(body.get_content())


def run(box: Outbox) -> None:
    """Dispatch what the ledger holds, then send it."""
    box.dispatch_pending()
    box.send_pending()
