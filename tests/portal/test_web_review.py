"""审核 in the portal (TestClient): the reviewing unit's account decides its step by the mail's rules and
events (channel web); a stale page cannot decide twice; a step decided by mail shows as taken; any
other unit gets the 404 page; a form without its token records nothing.
"""

from __future__ import annotations

import re

from portal_helpers import GROUP, OTHER_GROUP, REVIEWERS, SECOND, THIRD, Site, csrf_of, decide, file
from starlette.testclient import TestClient

from workflow import ReviewDecision


def review_form(client: TestClient, fid: str) -> dict[str, str]:
    page = client.get(f"/review/{fid}")
    assert page.status_code == 200, page.text
    fields = dict(re.findall(r'name="(csrf|round|level)" value="([^"]+)"', page.text))
    assert set(fields) == {"csrf", "round", "level"}, page.text
    return fields


def decided(site: Site, fid: str) -> list[dict[str, object]]:
    return [e.payload for e in site.wf.ledger.events(subject=fid, kind="review.decided")]


def test_the_waiting_list_and_the_filing_page_lead_to_the_review(site: Site) -> None:
    fid = file(site.wf).filing_id
    client = site.browser(SECOND)
    home = client.get("/").text
    assert f'href="/review/{fid}"' in home
    assert 'id="review-link"' in client.get(f"/filings/{fid}").text
    page = client.get(f"/review/{fid}").text
    assert 'id="approve-button"' in page and 'id="return-button"' in page
    assert "第 1 轮第 1 级审核" in page and "重庆测试三级公司" in page  # the step and the filing below it
    filer = site.browser(THIRD)
    assert 'id="review-link"' not in filer.get(f"/filings/{fid}").text


def test_approve_records_the_mails_events_with_channel_web(site: Site) -> None:
    fid = file(site.wf).filing_id
    client = site.browser(SECOND)
    form = review_form(client, fid)
    answer = client.post(f"/review/{fid}", data={**form, "decision": "approve", "opinion": "同意上报"})
    assert answer.status_code == 303 and answer.headers["location"] == f"/review/{fid}?done=approve"
    (decision,) = decided(site, fid)
    assert (decision["channel"], decision["reviewer"], decision["decision"], decision["opinion"]) == (
        "web",
        SECOND,
        "通过",
        "同意上报",
    )
    assert decision["mail_blob"] == ""
    view = site.wf.filing(fid)
    assert view is not None and (view.state, view.level, view.review_unit) == ("in_review", 2, GROUP)
    after = client.get(answer.headers["location"]).text
    assert "已记录您的审核决定：通过" in after and 'id="review-form"' not in after
    assert "在网页门户作出决定：通过" in after
    # the account that decided is its unit's: the history names the unit beside it
    history = client.get(f"/filings/{fid}").text.split('id="history"')[1]
    assert f"审核决定：重庆测试二级公司（{SECOND}） 通过，意见：同意上报" in history
    assert "渠道 投递目录" in history


def test_return_needs_an_opinion_and_keeps_what_was_typed(site: Site) -> None:
    fid = file(site.wf).filing_id
    client = site.browser(SECOND)
    form = review_form(client, fid)
    size = site.wf.ledger.size()
    empty = client.post(f"/review/{fid}", data={**form, "decision": "return", "opinion": "   "})
    assert empty.status_code == 400 and "退回时必须填写审核意见" in empty.text
    assert site.wf.ledger.size() == size  # a form error records nothing
    assert 'id="review-form"' in empty.text
    answer = client.post(f"/review/{fid}", data={**form, "decision": "return", "opinion": "请补充<章程>修正案"})
    assert answer.status_code == 303
    returned = next(site.wf.ledger.events(subject=fid, kind="filing.returned"))
    assert returned.payload["opinion"] == "请补充<章程>修正案"
    filer = site.browser(THIRD)
    home = filer.get("/").text
    assert "请补充&lt;章程&gt;修正案" in home and "<章程>" not in home  # 被退回, escaped


def test_an_overlong_opinion_is_refused_with_the_text_kept(site: Site) -> None:
    fid = file(site.wf).filing_id
    client = site.browser(SECOND)
    form = review_form(client, fid)
    size = site.wf.ledger.size()
    page = client.post(f"/review/{fid}", data={**form, "decision": "return", "opinion": "长" * 2001})
    assert page.status_code == 400 and "审核意见过长" in page.text and "长" * 2001 in page.text
    assert site.wf.ledger.size() == size


def test_a_stale_page_cannot_decide_twice(site: Site) -> None:
    fid = file(site.wf).filing_id
    client = site.browser(SECOND)
    form = review_form(client, fid)
    first = client.post(f"/review/{fid}", data={**form, "decision": "approve", "opinion": ""})
    assert first.status_code == 303
    again = client.post(f"/review/{fid}", data={**form, "decision": "return", "opinion": "改主意了"})
    assert again.status_code == 409 and "本次操作未被记录" in again.text
    assert f"作出决定的是 {SECOND}" in again.text
    assert len(decided(site, fid)) == 1
    refused = [e.payload for e in site.wf.ledger.events(subject=fid, kind="review.refused")]
    assert [(r["code"], r["channel"], r["sender"]) for r in refused] == [("already-decided", "web", SECOND)]


def test_a_step_decided_by_mail_shows_as_taken(site: Site) -> None:
    fid = file(site.wf).filing_id
    client = site.browser(SECOND)
    form = review_form(client, fid)  # the page was open ...
    decide(site.wf, fid, ReviewDecision.APPROVE, "邮件已同意")  # ... when the reviewer answered the mail
    page = client.get(f"/review/{fid}").text
    assert 'id="review-form"' not in page
    assert f"已由 {REVIEWERS[SECOND]}" in page and "通过邮件作出决定：通过" in page
    stale = client.post(f"/review/{fid}", data={**form, "decision": "approve", "opinion": ""})
    assert stale.status_code == 409 and REVIEWERS[SECOND] in stale.text
    assert len(decided(site, fid)) == 1


def test_other_units_get_404_and_nothing_is_recorded(site: Site) -> None:
    fid = file(site.wf).filing_id
    for code in (OTHER_GROUP, THIRD, GROUP):  # a stranger, the filer itself, a unit above not asked yet
        client = site.browser(code)
        assert client.get(f"/review/{fid}").status_code == 404
        csrf = csrf_of(client.get("/").text)
        size = site.wf.ledger.size()
        answer = client.post(
            f"/review/{fid}", data={"csrf": csrf, "round": "1", "level": "1", "decision": "approve", "opinion": ""}
        )
        assert answer.status_code == 404 and "页面不存在" in answer.text
        assert site.wf.ledger.size() == size
    assert site.browser(SECOND).get("/review/CQ2026-999999").status_code == 404
    assert decided(site, fid) == []


def test_a_step_not_asked_of_the_unit_is_404(site: Site) -> None:
    """The round and level come from the form: naming another step of the same filing finds nothing."""
    fid = file(site.wf).filing_id
    client = site.browser(SECOND)
    form = review_form(client, fid)
    size = site.wf.ledger.size()
    for round_no, level in (("1", "2"), ("2", "1"), ("x", "1"), ("99999", "1")):
        data = {**form, "round": round_no, "level": level, "decision": "approve", "opinion": ""}
        assert client.post(f"/review/{fid}", data=data).status_code == 404
    assert site.wf.ledger.size() == size


def test_a_missing_or_wrong_token_is_403_and_records_nothing(site: Site) -> None:
    fid = file(site.wf).filing_id
    client = site.browser(SECOND)
    form = review_form(client, fid)
    size = site.wf.ledger.size()
    for token in ("", "forged-token-0123456789"):
        data = {**form, "decision": "approve", "opinion": ""}
        data.pop("csrf")
        if token:
            data["csrf"] = token
        answer = client.post(f"/review/{fid}", data=data)
        assert answer.status_code == 403 and "安全校验码" in answer.text
    assert site.wf.ledger.size() == size


def test_the_next_level_then_decides_in_its_own_account(site: Site) -> None:
    fid = file(site.wf).filing_id
    decide(site.wf, fid, ReviewDecision.APPROVE, "同意")  # SECOND by mail
    group = site.browser(GROUP)
    form = review_form(group, fid)
    assert form["level"] == "2"
    assert group.post(f"/review/{fid}", data={**form, "decision": "approve", "opinion": ""}).status_code == 303
    view = site.wf.filing(fid)
    assert view is not None and view.level == 3 and view.review_unit == site.wf.units.root_code
