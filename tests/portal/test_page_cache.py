"""What the portal keeps between requests, and what makes it read anew (Portal.cached's scopes).

A page part is kept until an event concerns it: a filing's events renew that filing's page and the
首页 of every unit the filing concerns (the unit, the filer, every unit asked to review it), the
first-level tree's counts and SASAC's; a change of the unit tree renews everything; events no page
shows (mail, intake items, accounts of other units) renew nothing. Every test here would show a
stale page if a scope were missing.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from typing import Any

import pytest
from portal_helpers import (
    GROUP,
    OTHER,
    OTHER_GROUP,
    PASSWORD,
    SASAC,
    SECOND,
    THIRD,
    Site,
    decide,
    file,
    post_login,
)
from starlette.testclient import TestClient

from intake.events import IntakeReceived
from portal import PortalConfig, create_app
from workflow import ReviewDecision


@pytest.fixture
def reads(site: Site, monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """How often each unit's 首页 lists and each filing's view were read from the projections."""
    counted: Counter[str] = Counter()
    queue_page, filing = site.wf.queue_page, site.wf.filing

    def counting_queue(unit: str, limit: int = 100) -> Any:
        counted[f"home:{unit}"] += 1
        return queue_page(unit, limit)

    def counting_filing(filing_id: str) -> Any:
        counted[f"filing:{filing_id}"] += 1
        return filing(filing_id)

    monkeypatch.setattr(site.wf, "queue_page", counting_queue)
    monkeypatch.setattr(site.wf, "filing", counting_filing)
    return counted


def test_events_no_page_shows_keep_every_page(site: Site, reads: Counter[str]) -> None:
    fid = file(site.wf).filing_id
    second, other = site.browser(SECOND), site.browser(OTHER)
    for client in (second, other):
        client.get("/")
    second.get(f"/filings/{fid}")
    before = Counter(reads)
    item = IntakeReceived(
        item_id="WB0001",
        channel="web",
        purpose="filing",
        raw_blob="0" * 64,
        content_sha256="0" * 64,
        sender=OTHER,
        filer=OTHER,
        reply_to="",
        original_name="x.zip",
        message_id="",
    )
    site.wf.ledger.append(item, actor=OTHER, subject="WB0001")  # an intake item
    site.wf.accounts.set_password(OTHER_GROUP, "Another#Pass2026")  # another unit's account
    assert "重庆测试三级公司" in second.get("/").text
    other.get("/")
    assert second.get(f"/filings/{fid}").status_code == 200
    # the catch-up looked the subjects up once each; no list and no filing page was read again
    assert reads[f"home:{SECOND}"] == before[f"home:{SECOND}"]
    assert reads[f"home:{OTHER}"] == before[f"home:{OTHER}"]
    assert reads[f"filing:{fid}"] == before[f"filing:{fid}"]


def test_a_decision_renews_the_pages_of_every_unit_concerned_and_no_other(site: Site, reads: Counter[str]) -> None:
    fid = file(site.wf).filing_id
    clients = {code: site.browser(code) for code in (THIRD, SECOND, GROUP, SASAC, OTHER)}
    pages = {code: client.get("/").text for code, client in clients.items()}
    assert fid in pages[SECOND] and 'id="waiting"' in pages[SECOND]
    filing_before = clients[THIRD].get(f"/filings/{fid}").text
    assert "第 1 级审核：重庆测试二级公司" in filing_before
    other_reads = reads[f"home:{OTHER}"]

    decide(site.wf, fid, ReviewDecision.APPROVE, "同意上报")  # by mail: SECOND's step, GROUP asked next

    second = clients[SECOND].get("/").text
    assert f'href="/review/{fid}"' not in second and "同意上报" in second  # out of 待审核, into 最近审核
    assert f'href="/review/{fid}"' in clients[GROUP].get("/").text  # the next step waits for GROUP
    assert "第 2 级：重庆测试集团有限公司" in clients[THIRD].get("/").text  # the filer's 我的报送
    assert "第 2 级审核：重庆测试集团有限公司" in clients[THIRD].get(f"/filings/{fid}").text
    assert "同意上报" in clients[THIRD].get(f"/filings/{fid}").text
    clients[OTHER].get("/")
    assert reads[f"home:{OTHER}"] == other_reads  # a unit the filing does not concern kept its page


def test_counts_of_the_tree_and_of_all_groups_follow_the_filings(site: Site) -> None:
    group, sasac = site.browser(GROUP), site.browser(SASAC)
    assert ">0<" in group.get("/").text.split('id="subtree"')[1].split("</table>")[0]
    before_groups = sasac.get("/").text.split('id="groups"')[1]
    file(site.wf)
    subtree = group.get("/").text.split('id="subtree"')[1].split("</table>")[0]
    assert "<td>1</td>" in subtree  # 审核中 1
    assert sasac.get("/").text.split('id="groups"')[1] != before_groups


def test_a_later_approval_renews_the_comparison_on_another_filings_page(site: Site) -> None:
    """A filing's page compares it with the unit's last approved registration, which another filing's
    approval changes."""
    first = file(site.wf, capital=1000).filing_id
    second = file(site.wf, capital=2000, act_date=dt.date(2025, 9, 30)).filing_id
    client = site.browser(THIRD)
    assert "本单位没有此前通过的登记" in client.get(f"/filings/{second}").text
    for _ in range(3):
        decide(site.wf, first, ReviewDecision.APPROVE, "同意")
    page = client.get(f"/filings/{second}").text
    assert "本单位没有此前通过的登记" not in page
    assert "注册资本" in page.split('id="changes"')[1]


def test_a_change_of_the_unit_tree_renews_everything(site: Site, reads: Counter[str]) -> None:
    fid = file(site.wf).filing_id
    second = site.browser(SECOND)
    second.get("/")
    second.get(f"/filings/{fid}")
    home_reads, filing_reads = reads[f"home:{SECOND}"], reads[f"filing:{fid}"]
    site.wf.units.set_contacts(OTHER_GROUP, reviewer_emails=["new@other.example.cn"])
    second.get("/")
    second.get(f"/filings/{fid}")
    assert reads[f"home:{SECOND}"] == home_reads + 1
    assert reads[f"filing:{fid}"] > filing_reads


def test_without_the_cache_every_request_reads_anew(tmp_path: Any) -> None:
    from portal_helpers import build_site

    site = build_site(tmp_path / "data", page_cache=False)
    try:
        calls: Counter[str] = Counter()
        queue_page = site.wf.queue_page

        def counting(unit: str, limit: int = 100) -> Any:
            calls[unit] += 1
            return queue_page(unit, limit)

        site.wf.queue_page = counting  # type: ignore[method-assign]
        client = site.browser(SECOND)
        for _ in range(3):
            client.get("/")
        assert calls[SECOND] == 3
    finally:
        site.close()


def _same_text(html: str) -> str:
    """A page without its session's form token and layout whitespace."""
    return re.sub(r"\s+", " ", re.sub(r">\s+<", "><", re.sub(r'name="csrf" value="[^"]*"', "", html)))


def test_pages_read_anew_equal_the_kept_ones(site: Site, tmp_path: Any) -> None:
    """The uncached path (group counts from the projection, rows by value, the comparison remembered
    by the registrations' identities) shows exactly what the kept pages show."""
    first = file(site.wf, capital=1000).filing_id
    for _ in range(3):
        decide(site.wf, first, ReviewDecision.APPROVE, "同意")
    second = file(site.wf, capital=1500, act_date=dt.date(2025, 9, 1)).filing_id
    decide(site.wf, second, ReviewDecision.RETURN, "请补充章程")
    invalid = file(site.wf, documents=[{"doc_kind": "企业章程", "required": "是", "file_name": "0.pdf"}]).filing_id
    waiting = file(site.wf, OTHER, "重庆另一子公司", 2, OTHER_GROUP).filing_id
    anew = create_app(site.wf, PortalConfig(sessions_db=tmp_path / "anew.sqlite3", page_cache=False), clock=site.clock)
    shown_pages = 0
    try:
        for code in (SASAC, GROUP, SECOND, THIRD, OTHER_GROUP):
            kept = site.browser(code)
            fresh = TestClient(anew, follow_redirects=False)  # (no `with`: its lifespan would close the portal)
            assert post_login(fresh, code, PASSWORD).status_code == 303
            for path in ("/", *(f"/filings/{fid}" for fid in (first, second, invalid, waiting))):
                again = fresh.get(path)
                for _reading in range(2):  # read, then kept
                    shown = kept.get(path)
                    assert shown.status_code == again.status_code, (code, path)
                    assert _same_text(shown.text) == _same_text(again.text), (code, path)
                shown_pages += again.status_code == 200
            fresh.close()
    finally:
        anew.state.portal.close()
    # the five homes, and each filing to those who may see it: SASAC 4, GROUP 3, SECOND 2, THIRD 3, OTHER_GROUP 1
    assert shown_pages == 5 + 4 + 3 + 2 + 3 + 1
