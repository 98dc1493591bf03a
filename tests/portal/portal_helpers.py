"""A real workflow (ledger, accounts, unit tree) with filings in it, and a portal app over it.

Filings are made the way intake makes them (check with the ledger-aware rules, then submit)
and decided the way a reviewer's mail reply is (`Workflow.decide` with the reviewer's token).
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from starlette.testclient import TestClient
from support import registrations as reg

from chanquan.app import all_projections as app_projections
from ledger import Ledger
from portal import PortalConfig, create_app
from validation.check import check_bundle
from workflow import ReviewDecision, ScryptParams, SubmitOutcome, Workflow, WorkflowConfig

TOKEN_KEY = b"portal-test-token-key-0123456789"
SASAC = "SASAC0001"
GROUP = reg.org_code("50010000")  # first-level 重庆测试集团
SECOND = reg.org_code("50020000")  # its second-level company
THIRD = reg.org_code("50030000")  # files, reviewed by SECOND, GROUP, SASAC
OTHER_GROUP = reg.org_code("50070000")  # another first-level tree
OTHER = reg.org_code("50080000")  # under OTHER_GROUP
PASSWORD = "Portal#Test2026"
REVIEWERS = {
    SASAC: "chu@sasac.example.cn",
    GROUP: "sh@group.example.cn",
    SECOND: "sh@second.example.cn",
    OTHER_GROUP: "sh@other.example.cn",
}
CSRF = re.compile(r'name="csrf" value="([^"]+)"')
_items = itertools.count(1)


class Clock:
    """The time the portal sees; tests move it instead of sleeping."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def open_workflow(data: Path) -> Workflow:
    return workflow_over(Ledger.open(data / "ledger.sqlite3", projections=app_projections()), data)  # + intake's


def workflow_over(ledger: Ledger, data: Path) -> Workflow:
    """The tests' workflow over an open ledger (which it then owns), its accounts in `data`, hashing fast."""
    return Workflow(
        ledger,
        accounts_db=data / "accounts.sqlite3",
        token_key=TOKEN_KEY,
        settings=WorkflowConfig(),
        scrypt=ScryptParams(n=2**4),
        owns_ledger=True,
    )


def add_tree(wf: Workflow, *, group_name: str = "重庆测试集团有限公司") -> str:
    """SASAC → GROUP → SECOND → THIRD, SASAC → OTHER_GROUP → OTHER, and an overseas unit under GROUP."""
    wf.units.ensure_root()
    wf.units.set_contacts(SASAC, reviewer_emails=[REVIEWERS[SASAC]])
    wf.units.add(GROUP, group_name, reviewer_emails=[REVIEWERS[GROUP]], filer_emails=["tb@group.example.cn"])
    wf.units.add(SECOND, "重庆测试二级公司", parent=GROUP, reviewer_emails=[REVIEWERS[SECOND]])
    wf.units.add(THIRD, "重庆测试三级公司", parent=SECOND, filer_emails=["tb@third.example.cn"])
    wf.units.add(OTHER_GROUP, "重庆另一集团有限公司", reviewer_emails=[REVIEWERS[OTHER_GROUP]])
    wf.units.add(OTHER, "重庆另一子公司", parent=OTHER_GROUP)
    overseas = wf.units.add_overseas("香港测试有限公司", parent=GROUP)
    return overseas.username


def file(
    wf: Workflow,
    unit: str = THIRD,
    name: str = "重庆测试三级公司",
    level: int = 3,
    parent: str = SECOND,
    **options: Any,
) -> SubmitOutcome:
    """Submit one valid filing of `unit` the way intake does (documents may be overridden)."""
    documents = options.pop("documents", None)
    values = reg.registration_values(unit, name, level, parent, **options)
    investors = reg.sole_investor(parent, level, values["reg_capital"])
    rows = documents if documents is not None else reg.document_rows()
    bundle = reg.registration_bundle(values, investors, rows)
    result = check_bundle(bundle, extra_rules=wf.ledger_rules(unit))
    return wf.submit(
        f"item-{next(_items)}",
        filer=unit,
        channel="dropbox",
        reply_to=f"dropbox:{unit}",
        bundle=bundle,
        check_result=result,
    )


def decide(wf: Workflow, filing_id: str, decision: ReviewDecision, opinion: str = "") -> Any:
    """The current step's reviewer answers as by mail."""
    view = wf.filing(filing_id)
    assert view is not None and view.state == "in_review", view
    reviewer = view.reviewers[0]
    token = wf.review_token(filing_id, view.round, view.level, reviewer)
    outcome = wf.decide(token, reviewer, decision, opinion)
    assert outcome.applied, outcome
    return outcome


@dataclass
class Site:
    """A portal over a seeded data directory, with a browser-like client per person."""

    data: Path
    wf: Workflow
    clock: Clock
    app: Any
    overseas: str
    clients: list[TestClient] = field(default_factory=list)

    def client(self) -> TestClient:
        client = TestClient(self.app, follow_redirects=False)
        self.clients.append(client)
        return client

    def ready(self, username: str) -> None:
        """The account's initial password changed (to PASSWORD), unless it already was."""
        if self.wf.accounts.must_change(username):
            self.wf.accounts.set_password(username, PASSWORD)

    def browser(self, username: str) -> TestClient:
        """A logged-in client of `username`, its initial password already changed."""
        self.ready(username)
        return self.login(username, PASSWORD)

    def login(self, username: str, password: str, client: TestClient | None = None) -> TestClient:
        """A client logged in (its password already changed unless it is the initial one)."""
        browser = client or self.client()
        response = post_login(browser, username, password)
        assert response.status_code == 303, response.text
        return browser

    def close(self) -> None:
        for client in self.clients:
            client.close()
        self.app.state.portal.close()
        self.wf.close()


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found, "no csrf field in the page"
    return found.group(1)


def post_login(client: TestClient, username: str, password: str) -> Any:
    page = client.get("/login")
    return client.post("/login", data={"csrf": csrf_of(page.text), "username": username, "password": password})


def build_site(data: Path, **config: Any) -> Site:
    wf = open_workflow(data)
    overseas = add_tree(wf, **config.pop("tree", {}))
    clock = Clock()
    portal_config = PortalConfig(sessions_db=data / "portal.sqlite3", **config)
    app = create_app(wf, portal_config, clock=clock)
    return Site(data, wf, clock, app, overseas)
