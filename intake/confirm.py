"""Confirmation of unauthenticated filings from a unit's registered contact address.

As Mailman confirms subscriptions: the filing is held, a one-time address
`confirm+<item>-<mac>@domain` is mailed to the sender, and only a reply to it from
that same address files the bundle. The MAC binds item and sender, so a guessed item
id is useless and a token answered from elsewhere is refused.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

from intake.events import IntakeConfirmationRequested
from intake.item import InboundItem

_TOKEN = re.compile(r"^(?P<item>in\d{17}[0-9a-f]{10})-(?P<mac>[a-z2-7]{16})$")


class Confirmations:
    def __init__(self, key: bytes, mail_domain: str) -> None:
        self.key = key
        self.mail_domain = mail_domain

    def _mac(self, item_id: str, sender: str) -> str:
        message = f"confirm\x1f{item_id.upper()}\x1f{sender.strip().lower()}".encode()
        digest = hmac.new(self.key, message, hashlib.sha256).digest()
        return base64.b32encode(digest).decode("ascii").lower()[:16]

    def token(self, item_id: str, sender: str) -> str:
        return f"{item_id.lower()}-{self._mac(item_id, sender)}"

    def request(self, item: InboundItem) -> tuple[IntakeConfirmationRequested, str, str]:
        """The event that makes the outbox mail the confirmation request (actor, subject included)."""
        address = f"confirm+{self.token(item.item_id, item.sender)}@{self.mail_domain}"
        body = IntakeConfirmationRequested(
            item_id=item.item_id,
            filer=item.filer,
            sender=item.sender,
            confirm_address=address,
            original_subject=item.original_name,
        )
        return body, "intake", item.item_id

    def item_for(self, token: str, sender: str) -> str:
        """The pending item a token names, when its MAC matches this sender; "" otherwise."""
        match = _TOKEN.match(token.strip().lower())
        if match is None:
            return ""
        item_id = "IN" + match["item"][2:]  # item ids are "IN", digits, lower-case hex
        return item_id if hmac.compare_digest(self._mac(item_id, sender), match["mac"]) else ""
