"""The event kinds workflow records (see docs/architecture.md, "Event kinds").

Every change of the unit tree, every account fact and every step of a filing is one of
these. Payloads carry no secrets: an account event names the user, never a password, and
a refused review keeps only the readable step of its token, never the MAC.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from ledger import EventBody, event_kind


@event_kind("unit.added")
class UnitAdded(EventBody):
    code: str
    name: str
    parent: str  # "" for the supervising body at the root
    level: int  # 0 = supervisor, 1 = first-level enterprise, ...
    overseas: bool = False
    holding: str = "国有全资"
    filer_emails: list[str] = Field(default_factory=list)
    reviewer_emails: list[str] = Field(default_factory=list)
    username: str


@event_kind("unit.updated")
class UnitUpdated(EventBody):
    """Name, holding or overseas flag corrected (e.g. by a re-import)."""

    code: str
    name: str
    holding: str
    overseas: bool


@event_kind("unit.moved")
class UnitMoved(EventBody):
    code: str
    old_parent: str
    new_parent: str
    new_level: int  # the moved unit's level; its subtree shifts by the same amount


@event_kind("unit.contacts_set")
class UnitContactsSet(EventBody):
    code: str
    filer_emails: list[str]
    reviewer_emails: list[str]


@event_kind("unit.designated")
class UnitDesignated(EventBody):
    """`filer` files centrally for the first-level enterprise's subordinates; "" ends it.

    No longer recorded: who files changes only by an approved `designation.applied`. Ledgers that
    hold it keep meaning what they meant (read as an approved "designated" mode without a reference).
    """

    first_level: str
    filer: str


@event_kind("designation.applied")
class DesignationApplied(EventBody):
    """A first-level enterprise asks SASAC to change who files its subordinates' registrations.

    It changes nothing until `designation.approved`; `mode` is self (each unit files its own),
    holder (产权持有单位填报) or designated (指定单位填报, `unit` files for all subordinates).
    """

    first_level: str
    mode: str
    unit: str = ""  # designated mode: the unit that files; "" otherwise
    reason: str
    by: str  # the account that recorded the application


@event_kind("designation.approved")
class DesignationApproved(EventBody):
    """SASAC approved the pending application; from now on it decides who files (repeats its mode and unit)."""

    first_level: str
    mode: str
    unit: str = ""
    reference: str  # 批准文号
    by: str
    application_seq: int  # the `designation.applied` event it approves


@event_kind("designation.rejected")
class DesignationRejected(EventBody):
    """SASAC rejected the pending application, with its opinion; who files stays as it was."""

    first_level: str
    opinion: str
    by: str
    application_seq: int


@event_kind("account.created")
class AccountCreated(EventBody):
    username: str
    unit: str


@event_kind("account.password_changed")
class AccountPasswordChanged(EventBody):
    username: str


@event_kind("account.locked")
class AccountLocked(EventBody):
    username: str
    failures: int
    until: str


@event_kind("account.reset")
class AccountReset(EventBody):
    """Back to the initial password; `by` is the administrator's account when reset in the portal (empty: the
    operator, by `chanquan accounts reset`)."""

    username: str
    by: str = ""


@event_kind("account.unlocked")
class AccountUnlocked(EventBody):
    """An administrator ended a lockout before its time (the portal's admin pages); `by` is their account."""

    username: str
    by: str


@event_kind("credentials.mail_requested")
class CredentialsMailRequested(EventBody):
    """Mail an overseas unit's assigned user name to its first-level enterprise (no password inside)."""

    unit: str
    username: str
    first_level: str
    recipients: list[str] = Field(default_factory=list)


@event_kind("filing.received")
class FilingReceived(EventBody):
    filing_id: str
    round: int
    unit: str
    filer: str
    period: str  # ISO date, "" when the workbook could not be read
    channel: str
    reply_to: str
    registration: dict[str, Any] | None
    workbook_blob: str
    attachment_blobs: list[str] = Field(default_factory=list)
    item_id: str
    warnings: list[dict[str, str]] = Field(default_factory=list)
    # The filer's own names, so that every answer says which of their bundles it is about. They
    # came later and have defaults: filings recorded before them stay readable (shown without names).
    original_name: str = ""  # the dropped bundle's name, or the mail's attachment names joined by "、"
    workbook_name: str = ""  # the workbook's name inside the bundle, as the filer wrote it
    attachment_names: list[str] = Field(default_factory=list)  # in the order of attachment_blobs
    message_id: str = ""  # the filer's mail, so that the answers to it thread under it


@event_kind("filing.invalid")
class FilingInvalid(EventBody):
    filing_id: str
    round: int
    findings: list[dict[str, str]]
    annotated_blob: str


@event_kind("review.requested")
class ReviewRequested(EventBody):
    """Ask `reviewers` (all, or only newly added ones when reason says so) to decide one step."""

    filing_id: str
    round: int
    level: int
    unit: str
    reviewers: list[str]
    reason: str = "submitted"  # submitted | approved_below | unit_moved | reviewers_added


@event_kind("review.decided")
class ReviewDecided(EventBody):
    filing_id: str
    round: int
    level: int
    unit: str
    reviewer: str
    decision: str  # 通过 | 退回
    opinion: str
    mail_blob: str = ""  # the reply mail; "" for a decision taken in the portal
    # smtp (a reply mail) | web (the reviewing unit's account in the portal); decisions recorded before
    # the portal were all mail replies, hence the default. `reviewer` is the mail address, or the account.
    channel: str = "smtp"


@event_kind("review.refused")
class ReviewRefused(EventBody):
    """A reviewer's reply that was not applied; the outbox answers the sender (if a known reviewer).

    Everything after `reason` came later and has a default, so refusals recorded before stay readable.
    """

    filing_id: str
    token: str  # the readable step only (filing-round-level), never the MAC
    sender: str
    reason: str  # in Chinese, as told to the sender
    # missing-opinion | wrong-sender | not-reviewer | already-decided | stale-round | withdrawn |
    # invalid-token | unknown-filing; "" in refusals recorded before the codes existed
    code: str = ""
    decision: str = ""  # what the reply asked for: 通过 | 退回
    message_id: str = ""  # the reply's Message-ID, so that the answer threads under it
    addressed_to: str = ""  # wrong-sender: the reviewer address the reply address was issued to
    decided_by: str = ""  # already-decided: who decided the step,
    decided_at: str = ""  # when (ISO, UTC),
    decided: str = ""  # and what (通过 | 退回)
    # smtp: a reply mail, answered by the outbox; web: the portal, which shows the reason on the page,
    # so nothing is mailed (`sender` is then the account, never a mail address)
    channel: str = "smtp"


@event_kind("filing.returned")
class FilingReturned(EventBody):
    filing_id: str
    round: int
    level: int
    opinion: str
    by: str  # the reviewing unit's code


@event_kind("filing.approved")
class FilingApproved(EventBody):
    filing_id: str
    round: int
    unit: str
    period: str


@event_kind("filing.withdrawn")
class FilingWithdrawn(EventBody):
    filing_id: str
    round: int
    reason: str
    by: str
