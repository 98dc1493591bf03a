"""Review tokens: the capability a reviewer's reply address carries.

A token names one review step (filing, round, level) in readable form and binds it to
one reviewer address with an HMAC, so a reply is accepted only from the address the
request went to. The token itself is never stored in the ledger: a refused reply keeps
only the readable step (`token_step`), since a valid token with a forged sender is
still a live capability.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass
from email.utils import parseaddr

MAC_CHARS = 16  # 80 bits of base32; short enough for an address's local part
_TOKEN_RE = re.compile(r"^(?P<filing>[a-z]+\d{4}-\d+)-r(?P<round>\d+)-l(?P<level>\d+)-(?P<mac>[a-z2-7]+)$")


@dataclass(frozen=True)
class TokenStep:
    """The review step a token names, before its MAC is checked."""

    filing_id: str
    round: int
    level: int
    mac: str

    @property
    def readable(self) -> str:
        """The step without its MAC (`cq2026-000001-r1-l2`): what may be logged and recorded."""
        return readable_step(self.filing_id, self.round, self.level)


def readable_step(filing_id: str, round_no: int, level: int) -> str:
    """A review step as tokens, refusals and the once-only guards name it, without any MAC."""
    return f"{filing_id.lower()}-r{round_no}-l{level}"


def normalize_email(address: str) -> str:
    """Address compared case-insensitively, display name and angle brackets dropped."""
    _, addr = parseaddr(address.strip())
    return (addr or address).strip().lower()


def _mac(key: bytes, filing_id: str, round_no: int, level: int, email: str) -> str:
    message = "\x1f".join([filing_id.upper(), str(round_no), str(level), normalize_email(email)]).encode()
    digest = hmac.new(key, message, hashlib.sha256).digest()
    return base64.b32encode(digest).decode("ascii").lower()[:MAC_CHARS]


def make_token(key: bytes, filing_id: str, round_no: int, level: int, email: str) -> str:
    """`cq2026-000001-r1-l2-<mac>`: readable step, then the MAC over step and reviewer address."""
    return f"{readable_step(filing_id, round_no, level)}-{_mac(key, filing_id, round_no, level, email)}"


def parse_token(token: str) -> TokenStep | None:
    """The step a token names, or None when it is not shaped like one of ours."""
    match = _TOKEN_RE.match(token.strip().lower())
    if match is None:
        return None
    return TokenStep(
        filing_id=match["filing"].upper(),
        round=int(match["round"]),
        level=int(match["level"]),
        mac=match["mac"],
    )


def token_matches(key: bytes, step: TokenStep, email: str) -> bool:
    """Whether the token was issued to this address (constant-time comparison)."""
    expected = _mac(key, step.filing_id, step.round, step.level, email)
    return hmac.compare_digest(expected, step.mac)


def token_step(token: str) -> str:
    """The readable part of a token, safe to record: the MAC is cut off."""
    step = parse_token(token)
    return "" if step is None else step.readable
