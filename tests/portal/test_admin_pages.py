"""The admin pages: who may use them, units and accounts changed through workflow as the CLI does
(each a ledger event naming the admin), progress with its workbook, and the ledger's verify,
events and proofs."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from httpx2 import Response
from openpyxl import load_workbook
from portal_helpers import OTHER, OTHER_GROUP, PASSWORD, csrf_of, post_login
from signed_site import GROUP, SECOND, THIRD, SignedSite, build_signed_site
from starlette.testclient import TestClient

from ledger import StoredEvent
from workflow.events import (
    AccountReset,
    AccountUnlocked,
    DesignationApplied,
    DesignationApproved,
    DesignationRejected,
    UnitAdded,
    UnitContactsSet,
    UnitMoved,
)

SASAC = "SASAC0001"


@pytest.fixture
def signed(tmp_path: Path) -> Iterator[SignedSite]:
    site = build_signed_site(tmp_path / "data", admin_users=frozenset({OTHER}))
    yield site
    site.close()


def post(client: TestClient, page: str, action: str, **data: str) -> Response:
    return client.post(action, data={"csrf": csrf_of(client.get(page).text), **data})


def last_event(site: SignedSite, kind: str) -> StoredEvent:
    return list(site.wf.ledger.events(kind=kind))[-1]


def test_only_sasac_and_listed_admins_see_the_admin_pages(signed: SignedSite) -> None:
    paths = [
        "/admin",
        "/admin/units",
        f"/admin/units/{THIRD}",
        "/admin/progress",
        "/admin/progress.xlsx",
        "/admin/ledger",
        "/admin/ledger/events?subject=X",
        "/admin/ledger/proof/1.json",
        "/admin/ledger/verify",
    ]
    for who in (GROUP, THIRD):
        client = signed.browser(who)
        assert 'href="/admin"' not in client.get("/").text
        for path in paths:
            assert client.get(path).status_code == 404, (who, path)
        assert client.post("/admin/units", data={"csrf": csrf_of(client.get("/").text), "name": "x"}).status_code == 404
        for action in ("/admin/units", f"/admin/units/{THIRD}/reset", "/admin/ledger/verify"):
            # the admin gate comes before the token: a form without one is not told apart from a missing page
            assert client.post(action, data={"name": "x"}).status_code == 404, (who, action)
    for who in (SASAC, OTHER):  # OTHER is in web.admin_users
        client = signed.browser(who)
        assert 'href="/admin"' in client.get("/").text
        for path in paths[:6]:
            assert client.get(path).status_code == 200, (who, path)


def test_the_tree_and_the_search(signed: SignedSite) -> None:
    client = signed.browser(SASAC)
    tree = client.get("/admin/units").text
    for code in (GROUP, SECOND, THIRD, OTHER_GROUP, OTHER):
        assert f'href="/admin/units/{code}"' in tree
    assert "页面上的时间均为北京时间" in tree  # every page names the zone its times are in
    found = client.get("/admin/units", params={"q": "三级"}).text
    assert f'href="/admin/units/{THIRD}"' in found and f'href="/admin/units/{SECOND}"' not in found


def test_add_move_and_contacts_are_ledger_events_by_the_admin(signed: SignedSite) -> None:
    from support import registrations as reg

    client = signed.browser(SASAC)
    new = reg.org_code("50090000")
    response = post(
        client,
        "/admin/units",
        "/admin/units",
        code=new,
        name="重庆新设公司",
        parent=GROUP,
        holding="国有全资",
        filers="tb@new.example.cn",
        reviewers="",
    )
    assert response.status_code == 303 and response.headers["location"] == f"/admin/units/{new}?notice=added"
    added = last_event(signed, UnitAdded.kind)
    assert added.subject == new and added.actor == SASAC
    assert signed.wf.units.get(new) is not None and signed.wf.accounts.must_change(new)
    page = f"/admin/units/{new}"
    assert (
        post(client, page, f"{page}/contacts", filers="a@new.example.cn", reviewers="sh@new.example.cn").status_code
        == 303
    )
    assert last_event(signed, UnitContactsSet.kind).actor == SASAC
    assert signed.wf.units.get(new).reviewer_emails == ["sh@new.example.cn"]  # type: ignore[union-attr]
    assert post(client, page, f"{page}/move", new_parent=SECOND).status_code == 303
    assert signed.wf.units.get(new).parent == SECOND  # type: ignore[union-attr]
    assert last_event(signed, UnitMoved.kind).actor == SASAC
    group_page = f"/admin/units/{GROUP}"
    overseas = post(
        client, group_page, "/admin/units", name="新加坡测试有限公司", parent=GROUP, holding="国有全资", overseas="1"
    )
    assert overseas.status_code == 303 and "added-overseas" in overseas.headers["location"]


def test_a_designation_is_applied_for_then_approved_or_rejected_by_sasac_alone(signed: SignedSite) -> None:
    group_page = f"/admin/units/{GROUP}"
    other = signed.browser(OTHER)  # an admin, but not SASAC's own account
    applied = post(other, group_page, f"{group_page}/designate", mode="designated", filer=SECOND, reason="集中填报")
    assert applied.status_code == 303 and "designation-applied" in applied.headers["location"]
    assert last_event(signed, DesignationApplied.kind).actor == OTHER
    page = other.get(group_page).text
    assert "待市国资委批准的申请" in page and "只有市国资委的账户可以批准" in page and "approve-designation" not in page
    before = signed.wf.ledger.size()
    refused = post(other, group_page, f"{group_page}/designate/approve", reference="渝国资〔2026〕12号")
    assert refused.status_code == 403 and signed.wf.ledger.size() == before
    assert signed.wf.units.get(GROUP).designated_filer == ""  # type: ignore[union-attr]
    sasac = signed.browser(SASAC)
    approved = post(sasac, group_page, f"{group_page}/designate/approve", reference="渝国资〔2026〕12号")
    assert approved.status_code == 303
    assert last_event(signed, DesignationApproved.kind).actor == SASAC
    assert signed.wf.units.get(GROUP).designated_filer == SECOND  # type: ignore[union-attr]
    shown = sasac.get(group_page).text
    assert "指定单位填报" in shown and "渝国资〔2026〕12号" in shown
    post(sasac, group_page, f"{group_page}/designate", mode="holder", filer="", reason="改由持有单位填报")
    rejected = post(sasac, group_page, f"{group_page}/designate/reject", opinion="暂不同意")
    assert rejected.status_code == 303
    assert last_event(signed, DesignationRejected.kind).actor == SASAC
    assert signed.wf.units.designation(GROUP).mode == "designated"


def test_refusals_come_back_in_chinese_and_change_nothing(signed: SignedSite) -> None:
    client = signed.browser(SASAC)
    before = signed.wf.ledger.size()
    page = f"/admin/units/{SECOND}"
    moved = post(client, page, f"{page}/move", new_parent=THIRD)  # below itself
    assert moved.status_code == 400 and "不能把单位" in moved.text
    bad = post(client, "/admin/units", "/admin/units", code="12345678X", name="坏代码", parent=GROUP)
    assert bad.status_code == 400 and "组织机构代码" in bad.text
    contacts = post(client, page, f"{page}/contacts", filers="not-an-address", reviewers="")
    assert contacts.status_code == 400 and "邮箱地址无效" in contacts.text
    second_designate = post(client, page, f"{page}/designate", mode="designated", filer=THIRD, reason="集中填报")
    assert second_designate.status_code == 400 and "不是一级企业" in second_designate.text
    assert signed.wf.ledger.size() == before


def test_every_admin_form_needs_its_token(signed: SignedSite) -> None:
    client = signed.browser(SASAC)
    before = signed.wf.ledger.size()
    for action in (
        "/admin/units",
        f"/admin/units/{THIRD}/contacts",
        f"/admin/units/{THIRD}/move",
        f"/admin/units/{GROUP}/designate",
        f"/admin/units/{GROUP}/designate/approve",
        f"/admin/units/{GROUP}/designate/reject",
        f"/admin/units/{THIRD}/reset",
        f"/admin/units/{THIRD}/unlock",
        "/admin/ledger/verify",
    ):
        assert client.post(action, data={"name": "x", "new_parent": SECOND}).status_code == 403, action
        assert client.post(action, data={"csrf": "forged"}).status_code == 403, action
    assert signed.wf.ledger.size() == before


def test_reset_ends_the_accounts_sessions_and_unlock_ends_a_lockout(signed: SignedSite) -> None:
    admin = signed.browser(SASAC)
    third = signed.browser(THIRD)
    page = f"/admin/units/{THIRD}"
    facts = admin.get(page).text
    assert re.search(r'id="last-login">\d{4}-\d{2}-\d{2}', facts)  # the login just made
    # lock the account with wrong passwords through the web door
    stranger = signed.client()
    for _ in range(signed.wf.accounts.lockout_failures):
        post_login(stranger, THIRD, "wrong-password")
    assert signed.wf.accounts.authenticate(THIRD, PASSWORD).locked
    locked = admin.get(page).text
    assert "已锁定" in locked and 'id="lockouts"' in locked
    assert post(admin, page, f"{page}/unlock").headers["location"].endswith("notice=unlocked")
    event = last_event(signed, AccountUnlocked.kind)
    assert event.subject == THIRD and event.payload["by"] == SASAC
    assert signed.wf.accounts.authenticate(THIRD, PASSWORD).ok
    assert signed.wf.account_facts(THIRD)["locked_until"] is None  # type: ignore[index]
    assert "notice=not-locked" in post(admin, page, f"{page}/unlock").headers["location"]
    # reset: back to the initial password, and the logged-in browser is out
    assert post(admin, page, f"{page}/reset").headers["location"].endswith("notice=reset")
    assert last_event(signed, AccountReset.kind).subject == THIRD
    assert third.get("/").status_code == 303
    assert signed.wf.accounts.authenticate(THIRD, THIRD).must_change


def test_a_listed_admin_cannot_reset_sasacs_or_another_admins_password(signed: SignedSite) -> None:
    """A reset password is the user name, so whoever resets an account can log in as it: a listed admin
    could otherwise become SASAC and approve at the top. Only SASAC's account resets those two kinds."""
    sasac, admin = signed.browser(SASAC), signed.browser(OTHER)  # both have set their own passwords
    before = signed.wf.ledger.size()
    for target in (SASAC, OTHER):
        page = f"/admin/units/{target}"
        refused = post(admin, page, f"{page}/reset")
        assert refused.status_code == 403 and "只有市国资委的账户可以重置" in refused.text, target
    assert signed.wf.ledger.size() == before
    assert signed.wf.accounts.authenticate(SASAC, PASSWORD).ok and sasac.get("/").status_code == 200
    # a unit's account: reset, and the ledger names the admin who did it
    page = f"/admin/units/{THIRD}"
    assert post(admin, page, f"{page}/reset").headers["location"].endswith("notice=reset")
    event = last_event(signed, AccountReset.kind)
    assert (event.subject, event.actor, event.payload["by"]) == (THIRD, OTHER, OTHER)
    # SASAC itself may reset an admin's
    page = f"/admin/units/{OTHER}"
    assert post(sasac, page, f"{page}/reset").headers["location"].endswith("notice=reset")
    assert signed.wf.accounts.authenticate(OTHER, OTHER).must_change


def test_progress_page_and_workbook(signed: SignedSite) -> None:
    signed.approve()
    client = signed.browser(SASAC)
    page = client.get("/admin/progress").text
    assert '<svg class="chart"' in page and "重庆测试集团有限公司" in page
    row = re.search(
        r"重庆测试集团有限公司</a></td><td>(\d+)</td><td>(\d+)</td><td>(\d+)</td><td>(\d+)</td><td>(\d+)</td>", page
    )
    assert row, page
    total, approved, in_review, returned, not_filed = map(int, row.groups())
    assert (approved, in_review, returned) == (1, 0, 0) and total == approved + not_filed
    workbook = client.get("/admin/progress.xlsx")
    assert workbook.status_code == 200
    sheet = load_workbook(io.BytesIO(workbook.content))["进度汇总"]
    names = [r[0].value for r in sheet.iter_rows(min_row=3)]
    assert "重庆测试集团有限公司" in names and "重庆另一集团有限公司" in names


def test_ledger_verify_runs_in_the_background_and_is_remembered(signed: SignedSite) -> None:
    signed.approve()
    client = signed.browser(SASAC)
    started = post(client, "/admin/ledger", "/admin/ledger/verify")
    assert started.status_code == 303 and started.headers["location"] == "/admin/ledger/verify"
    signed.app.state.ledger_checks.wait()
    result = client.get("/admin/ledger/verify").text
    assert 'id="verify-result" class="notice"' in result and "账本完整" in result, result
    assert "账本完整" in client.get("/admin/ledger").text
    # the result outlives the page: a new portal over the same data reads it from portal.sqlite3
    from portal.admin.ledger_pages import LedgerChecks

    checks = LedgerChecks(signed.wf.ledger, signed.data / "portal.sqlite3")
    try:
        last = checks.last()
        assert last is not None and last.ok and last.started_by == SASAC
    finally:
        checks.close()


def test_a_running_check_shows_its_progress_and_reloads(signed: SignedSite) -> None:
    from portal.admin.ledger_pages import CheckRun

    client = signed.browser(SASAC)
    client.get("/admin/ledger")  # the ledger page made the portal's LedgerChecks
    checks = signed.app.state.ledger_checks
    checks.running = CheckRun(SASAC, 0.0, {"events": (50, 200)})  # as the worker thread leaves it mid-way
    try:
        page = client.get("/admin/ledger/verify").text
        assert '<meta http-equiv="refresh" content="2">' in page and 'value="25"' in page and "50 / 200" in page
        assert "核验进行中" in client.get("/admin/ledger").text
    finally:
        checks.running = None


def test_events_by_subject_and_proofs_that_check_offline(signed: SignedSite, tmp_path: Path) -> None:
    fid = signed.approve()
    client = signed.browser(SASAC)
    page = client.get("/admin/ledger/events", params={"subject": fid.lower()}).text
    seqs = [int(s) for s in re.findall(r'href="/admin/ledger/proof/(\d+)\.json"', page)]
    assert seqs and all(e.subject == fid for e in signed.wf.ledger.events(subject=fid))
    assert len(seqs) == len(list(signed.wf.ledger.events(subject=fid)))
    proof = client.get(f"/admin/ledger/proof/{seqs[-1]}.json")
    assert proof.status_code == 200 and json.loads(proof.content)["event"]["seq"] == seqs[-1]
    signed.check_offline(proof.content, tmp_path)
    assert client.get("/admin/ledger/proof/999999.json").status_code == 404
    unit_events = client.get("/admin/ledger/events", params={"subject": THIRD}).text
    assert "unit.added" in unit_events


def test_portal_times_follow_the_configured_zone() -> None:
    from ledger.localtime import DEFAULT_ZONE, set_reader_zone
    from portal.render import china_time

    moment = "2026-03-02T01:30:00+00:00"
    try:
        assert china_time(moment) == "2026-03-02 09:30"
        set_reader_zone("Europe/Berlin")  # what chanquan does with service.timezone when it serves the portal
        assert china_time(moment) == "2026-03-02 02:30"
    finally:
        set_reader_zone(DEFAULT_ZONE)
