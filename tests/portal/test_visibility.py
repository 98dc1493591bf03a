"""Who sees what: filer, the unit filed for, its reviewers, its first-level enterprise, SASAC;
everyone else gets the same 404 as for a filing that does not exist (pages and downloads)."""

from __future__ import annotations

import pytest
from portal_helpers import (
    GROUP,
    OTHER,
    OTHER_GROUP,
    SASAC,
    SECOND,
    THIRD,
    Site,
    decide,
    file,
)

from portal import can_see
from workflow import ReviewDecision


def sees(site: Site, username: str, filing_id: str) -> bool:
    unit = site.wf.units.by_username(username)
    view = site.wf.filing(filing_id)
    assert unit is not None and view is not None
    return can_see(unit, view, site.wf.units.first_level_of)


def test_who_sees_a_filing_at_each_step(site: Site) -> None:
    fid = file(site.wf).filing_id  # THIRD files; SECOND reviews first, then GROUP, then SASAC
    assert {u: sees(site, u, fid) for u in (THIRD, SECOND, GROUP, SASAC, OTHER_GROUP, OTHER)} == {
        THIRD: True,  # filed it, and it is filed for it
        SECOND: True,  # waiting for its review
        GROUP: True,  # its first-level enterprise
        SASAC: True,
        OTHER_GROUP: False,
        OTHER: False,
    }
    decide(site.wf, fid, ReviewDecision.APPROVE, "同意")
    assert sees(site, SECOND, fid)  # decided by its review
    decide(site.wf, fid, ReviewDecision.RETURN, "请补充")
    assert sees(site, SECOND, fid) and sees(site, GROUP, fid) and sees(site, THIRD, fid)
    assert not sees(site, OTHER_GROUP, fid) and not sees(site, OTHER, fid)


def test_a_second_level_unit_does_not_see_its_siblings_filings(site: Site) -> None:
    other_fid = file(site.wf, OTHER, "重庆另一子公司", 2, OTHER_GROUP).filing_id
    assert sees(site, OTHER_GROUP, other_fid)  # reviewer and first-level of OTHER
    assert not sees(site, SECOND, other_fid) and not sees(site, GROUP, other_fid)
    assert not sees(site, THIRD, other_fid)


def test_someone_elses_filing_is_404_like_a_missing_one(site: Site) -> None:
    fid = file(site.wf).filing_id
    outsider = site.browser(OTHER)
    hidden = outsider.get(f"/filings/{fid}")
    missing = outsider.get("/filings/CQ2026-999999")
    assert hidden.status_code == missing.status_code == 404
    assert hidden.text == missing.text
    assert "页面不存在" in hidden.text
    assert fid not in hidden.text
    view = site.wf.filing(fid)
    assert view is not None
    for blob in {view.workbook_blob, *(f.blob for f in view.files)}:
        assert outsider.get(f"/filings/{fid}/files/{blob}").status_code == 404


@pytest.mark.parametrize("username", [THIRD, SECOND, GROUP, SASAC])
def test_the_filing_page_opens_for_those_who_may_see_it(site: Site, username: str) -> None:
    fid = file(site.wf).filing_id
    response = site.browser(username).get(f"/filings/{fid}")
    assert response.status_code == 200
    assert fid in response.text


def test_a_file_of_another_filing_is_not_served_under_this_one(site: Site) -> None:
    mine = file(site.wf).filing_id
    theirs = file(site.wf, OTHER, "重庆另一子公司", 2, OTHER_GROUP).filing_id
    their_view = site.wf.filing(theirs)
    assert their_view is not None
    client = site.browser(THIRD)
    assert client.get(f"/filings/{mine}/files/{their_view.workbook_blob}").status_code == 404
    # SASAC sees both, yet a blob is only served under the filing whose events name it
    sasac = site.browser(SASAC)
    assert sasac.get(f"/filings/{theirs}/files/{their_view.workbook_blob}").status_code == 200
    assert sasac.get(f"/filings/{mine}/files/{their_view.workbook_blob}").status_code == 404


@pytest.mark.parametrize(
    "tail",
    [
        "../../accounts.sqlite3",
        "..%2F..%2Faccounts.sqlite3",
        "%2e%2e/%2e%2e/ledger.sqlite3",
        "/etc/passwd",
        "A" * 64,  # upper-case hex is not how blobs are named
        "0" * 63,
        "0" * 65,
    ],
)
def test_download_names_are_never_paths(site: Site, tail: str) -> None:
    fid = file(site.wf).filing_id
    response = site.browser(SASAC).get(f"/filings/{fid}/files/{tail}")
    assert response.status_code == 404
    assert b"SQLite" not in response.content and b"root:" not in response.content


def test_a_page_kept_for_one_viewer_is_still_refused_to_another(site: Site) -> None:
    fid = file(site.wf).filing_id
    assert site.browser(SASAC).get(f"/filings/{fid}").status_code == 200  # now kept in the page cache
    outsider = site.browser(OTHER)
    assert outsider.get(f"/filings/{fid}").status_code == 404
    view = site.wf.filing(fid)
    assert view is not None
    assert outsider.get(f"/filings/{fid}/files/{view.workbook_blob}").status_code == 404


def test_a_lower_case_filing_id_is_the_same_filing(site: Site) -> None:
    fid = file(site.wf).filing_id
    assert site.browser(THIRD).get(f"/filings/{fid.lower()}").status_code == 200
