"""打表/打证 through the portal: who may print whose documents, periods and templates, the preview,
and the signed download recorded as a reissuance exactly as `chanquan print` records it."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from portal_helpers import OTHER, OTHER_GROUP, csrf_of, file
from pypdf import PdfReader
from signed_site import GROUP, SECOND, THIRD, SignedSite, build_signed_site

from documents.events import DocumentIssued
from workflow import ReviewDecision


@pytest.fixture
def signed(tmp_path: Path) -> Iterator[SignedSite]:
    site = build_signed_site(tmp_path / "data")
    yield site
    site.close()


def issued_events(site: SignedSite) -> list[object]:
    return list(site.wf.ledger.events(kind=DocumentIssued.kind))


def unit_form(client: object, code: str) -> tuple[str, str]:
    page = client.get(f"/print/{code}")  # type: ignore[attr-defined]
    assert page.status_code == 200, page.text
    period = re.search(r'<option value="([0-9-]+)" selected>', page.text)
    assert period, page.text
    return csrf_of(page.text), period.group(1)


def test_each_account_lists_what_it_may_print(signed: SignedSite) -> None:
    signed.approve()
    signed.approve(GROUP, "重庆测试集团有限公司", 1, "")
    signed.approve(OTHER, "重庆另一子公司", 2, OTHER_GROUP)
    listed = {}
    for who in (THIRD, GROUP, "SASAC0001", OTHER_GROUP):
        page = signed.browser(who).get("/print").text
        listed[who] = {code for code in (THIRD, GROUP, OTHER) if f'href="/print/{code}"' in page}
    assert listed[THIRD] == {THIRD}
    assert listed[GROUP] == {THIRD, GROUP}  # a first-level enterprise: its whole tree
    assert listed["SASAC0001"] == {THIRD, GROUP, OTHER}
    assert listed[OTHER_GROUP] == {OTHER}
    # searchable by name and by code
    group = signed.browser(GROUP)
    assert f'href="/print/{THIRD}"' in group.get("/print", params={"q": "三级"}).text
    assert f'href="/print/{GROUP}"' not in group.get("/print", params={"q": "三级"}).text
    assert f'href="/print/{THIRD}"' in group.get("/print", params={"q": THIRD}).text


def test_first_level_gets_a_certificate_and_below_a_form(signed: SignedSite) -> None:
    signed.approve()
    signed.approve(GROUP, "重庆测试集团有限公司", 1, "")
    group = signed.browser(GROUP)
    assert '<b id="doc-label">产权登记表</b>' in group.get(f"/print/{THIRD}").text
    page = group.get(f"/print/{GROUP}").text
    assert '<b id="doc-label">产权登记证</b>' in page
    assert "横版" in page  # the certificate's templates, not the form's
    csrf, period = unit_form(group, GROUP)
    response = group.post(f"/print/{GROUP}", data={"csrf": csrf, "period": period, "template": "标准"})
    assert response.status_code == 200 and response.content.startswith(b"%PDF")
    assert "DJZ-" in response.headers["content-disposition"]


def test_print_downloads_a_signed_copy_recorded_as_a_reprint(signed: SignedSite) -> None:
    fid = signed.approve()
    first = issued_events(signed)
    assert len(first) == 1
    group = signed.browser(GROUP)
    csrf, period = unit_form(group, THIRD)
    response = group.post(f"/print/{THIRD}", data={"csrf": csrf, "period": period, "template": "简洁"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    assert (
        "filename*=utf-8''%E4%BA%A7%E6%9D%83%E7%99%BB%E8%AE%B0%E8%A1%A8-DJB-" in response.headers["content-disposition"]
    )
    events = issued_events(signed)
    assert len(events) == 2
    reprint = events[-1]
    assert reprint.actor == GROUP  # type: ignore[attr-defined]
    assert reprint.payload["reissue_of"] == first[0].seq  # type: ignore[attr-defined]
    assert reprint.payload["template"] == "简洁" and reprint.payload["filing_id"] == fid  # type: ignore[attr-defined]
    assert reprint.payload["sha256"] == signed.wf.ledger.blobs.put(response.content)  # type: ignore[attr-defined]
    assert PdfReader(io.BytesIO(response.content)).get_fields() is not None  # the signature field
    assert signed.issuer is not None and signed.issuer.verify(response.content).ok


def test_preview_shows_page_images_for_this_session_only_and_records_nothing(signed: SignedSite) -> None:
    signed.approve()
    group, third = signed.browser(GROUP), signed.browser(THIRD)
    before = signed.wf.ledger.size()
    csrf, period = unit_form(group, THIRD)
    page = group.post(f"/print/{THIRD}/preview", data={"csrf": csrf, "period": period, "template": "标准"})
    assert page.status_code == 200
    images = re.findall(r'src="(/print/previews/[^"]+\.png)"', page.text)
    assert images and "预览：产权登记表 DJB-" in page.text
    image = group.get(images[0])
    assert image.status_code == 200 and image.content.startswith(b"\x89PNG")
    assert third.get(images[0]).status_code == 404  # another session, same id
    assert group.get(images[0].replace("/1.png", "/99.png")).status_code == 404
    assert signed.wf.ledger.size() == before  # a preview is never an issuance


def test_another_groups_unit_is_404_for_page_preview_print_and_images(signed: SignedSite) -> None:
    signed.approve(OTHER, "重庆另一子公司", 2, OTHER_GROUP)
    signed.approve()
    group = signed.browser(GROUP)
    _csrf, period = unit_form(signed.browser("SASAC0001"), OTHER)
    before = len(issued_events(signed))
    assert group.get(f"/print/{OTHER}").status_code == 404
    assert group.get("/print/NOSUCHUNIT").status_code == 404
    own = csrf_of(group.get("/print").text)
    data = {"csrf": own, "period": period, "template": "标准"}
    assert group.post(f"/print/{OTHER}/preview", data=data).status_code == 404
    assert group.post(f"/print/{OTHER}", data=data).status_code == 404
    assert f"/print/{OTHER}" not in group.get("/print", params={"q": OTHER}).text
    # a unit below another's: the second-level company may print only its own
    second = signed.browser(SECOND)
    assert second.get(f"/print/{THIRD}").status_code == 404
    assert len(issued_events(signed)) == before


def test_nothing_before_sasac_approval_says_so(signed: SignedSite) -> None:
    outcome = file(signed.wf)
    signed.decide(outcome.filing_id, ReviewDecision.APPROVE, "同意")  # SECOND approved; GROUP and SASAC have not
    third = signed.browser(THIRD)
    listing = third.get("/print").text
    assert "尚无经市国资委审核通过的登记" in listing and "审核中" in listing
    page = third.get(f"/print/{THIRD}").text
    assert 'id="not-approved"' in page and "审核通过后才能打印" in page
    csrf = csrf_of(page)
    refused = third.post(f"/print/{THIRD}", data={"csrf": csrf, "period": "2025-03-01", "template": "标准"})
    assert refused.status_code == 400 and "请选择一个已经市国资委审核通过的时期" in refused.text
    assert issued_events(signed) == []


def test_print_and_preview_need_the_form_token(signed: SignedSite) -> None:
    signed.approve()
    group = signed.browser(GROUP)
    _csrf, period = unit_form(group, THIRD)
    before = signed.wf.ledger.size()
    for path in (f"/print/{THIRD}", f"/print/{THIRD}/preview"):
        assert group.post(path, data={"period": period, "template": "标准"}).status_code == 403
        assert group.post(path, data={"csrf": "forged", "period": period}).status_code == 403
    assert signed.wf.ledger.size() == before


def test_an_unknown_template_is_refused_in_chinese(signed: SignedSite) -> None:
    signed.approve()
    group = signed.browser(GROUP)
    csrf, period = unit_form(group, THIRD)
    response = group.post(f"/print/{THIRD}", data={"csrf": csrf, "period": period, "template": "不存在的模板"})
    assert response.status_code == 400
    assert "没有名为“不存在的模板”的登记表打印模板" in response.text


def test_periods_are_labelled_by_what_they_are(signed: SignedSite) -> None:
    signed.approve()
    page = signed.browser(THIRD).get(f"/print/{THIRD}").text
    option = re.search(r'<option value="[0-9-]+" selected>([^<]+)</option>', page)
    assert option is not None
    assert option.group(1).startswith(("经济行为日期 ", "数据时点 ")) and "产权登记" in option.group(1)


def test_without_an_issuer_the_page_says_signing_is_not_set_up(site: object) -> None:
    from portal_helpers import PASSWORD

    s = site  # the plain site has no issuer
    s.wf.accounts.set_password(THIRD, PASSWORD)  # type: ignore[attr-defined]
    client = s.login(THIRD, PASSWORD)  # type: ignore[attr-defined]
    page = client.get(f"/print/{THIRD}")
    assert page.status_code == 200 and 'id="not-ready"' in page.text
