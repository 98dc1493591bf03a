"""帮助: the user guide as pages and as one PDF from the same source, every finding code explained
(compared with docs/findings.md), the support contact in the footer, the guide and every mail."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime
from pathlib import Path

from portal_helpers import PASSWORD, THIRD, Site, build_site, file
from pypdf import PdfReader

from chanquan.app import outbox_config
from chanquan.config import ServiceSettings, Settings, WebSettings
from outbox import Outbox
from outbox.compose import MailSpec
from portal.config import MailDoor, SupportContact
from portal.guide import CHAPTERS, finding_codes
from portal.render import web_templates_dir

ROOT = Path(__file__).resolve().parents[2]
SUPPORT = SupportContact(name="国资委信息中心", phone="023-63000000", email="help@sasac.example.cn")


def documented_codes() -> set[str]:
    """Every code docs/findings.md lists in its tables (findings, bundle codes, ledger-aware codes)."""
    text = (ROOT / "docs" / "findings.md").read_text(encoding="utf-8")
    return set(re.findall(r"^\| `([a-z0-9-]+)` \|", text, flags=re.M))


def test_the_help_pages_explain_every_code_docs_findings_lists(site: Site) -> None:
    page = site.client().get("/help/findings")
    assert page.status_code == 200
    anchors = set(re.findall(r'<h3 id="code-([a-z0-9-]+)">', page.text))
    assert len(anchors) > 80
    assert anchors == documented_codes()
    assert set(finding_codes(web_templates_dir() / "help")) == anchors
    for code in anchors:  # each explanation names its code and says what to do
        section = page.text.split(f'<h3 id="code-{code}">', 1)[1].split("<h3", 1)[0]
        assert f"<code>{code}</code>" in section and "怎么改：" in section


def test_every_chapter_is_served_without_login(site: Site) -> None:
    client = site.client()
    index = client.get("/help")
    assert index.status_code == 200
    for slug, title, _source in CHAPTERS:
        assert f'href="/help/{slug}"' in index.text
        page = client.get(f"/help/{slug}")
        assert page.status_code == 200 and f"<h1>{title}</h1>" in page.text
    assert client.get("/help/no-such-chapter").status_code == 404


def test_the_guide_speaks_of_this_deployment(tmp_path: Path) -> None:
    door = MailDoor(smtp_host="mail.sasac.example.cn", smtp_port=587, starttls=True, mail_domain="cq.example.cn")
    site = build_site(tmp_path / "data", support=SUPPORT, mail_door=door, public_url="https://cq.example.cn")
    try:
        client = site.client()
        submit = client.get("/help/submit").text
        assert "mail.sasac.example.cn" in submit and "587" in submit and "STARTTLS" in submit
        assert "filing@cq.example.cn" in submit and "Outlook" in submit and "Foxmail" in submit
        assert "https://cq.example.cn" in client.get("/help/login").text
        support = client.get("/help/support").text
        assert "国资委信息中心" in support and "023-63000000" in support and "help@sasac.example.cn" in support
        workbook = client.get("/help/workbook").text
        assert "工作表“登记信息”" in workbook and "工作表“基本信息”" in workbook and "出资人情况" in workbook
        attachments = client.get("/help/attachments").text
        assert "2 MB" in attachments and "PDF" in attachments
        review = client.get("/help/review").text
        assert "通过" in review and "退回" in review and "第一行" in review
        # the footer of every page, also for someone logged in
        footer = client.get("/login").text.split('<footer class="foot">', 1)[1]
        assert "国资委信息中心" in footer and "023-63000000" in footer and 'href="/help"' in footer
    finally:
        site.close()


def test_the_guide_pdf_is_made_from_the_same_source(site: Site) -> None:
    response = site.client().get("/help/guide.pdf")
    assert response.status_code == 200 and response.headers["content-type"] == "application/pdf"
    assert "%E7%94%A8%E6%88%B7%E6%89%8B%E5%86%8C.pdf" in response.headers["content-disposition"]  # 用户手册.pdf
    reader = PdfReader(io.BytesIO(response.content))
    text = "".join(page.extract_text() for page in reader.pages)
    assert "用户手册" in text
    for _slug, title, _source in CHAPTERS:
        assert title in text, title
    for code in ("template-version-missing", "investors-share-sum", "bundle-encrypted", "filing-in-review"):
        assert code in text
    fonts = set()
    for page in reader.pages:
        for font in (page.get("/Resources") or {}).get("/Font", {}).values():
            fonts.add(str(font.get_object().get("/BaseFont")))
    assert fonts and not any("Helvetica" in f or "Times" in f for f in fonts), fonts


def test_finding_codes_on_a_filing_page_link_to_their_explanation(site: Site) -> None:
    outcome = file(site.wf, documents=[{"doc_kind": "企业章程", "required": "是", "file_name": "0.pdf"}])
    assert not outcome.accepted
    site.wf.accounts.set_password(THIRD, PASSWORD)
    page = site.login(THIRD, PASSWORD).get(f"/filings/{outcome.filing_id}").text
    links = re.findall(r'href="/help/findings#code-([a-z0-9-]+)"', page)
    assert links and set(links) <= documented_codes()
    assert set(links) == {f.code for f in outcome.findings}


def test_the_password_page_points_to_the_guide(site: Site) -> None:
    client = site.login(THIRD, THIRD)
    page = client.get("/password").text
    assert 'href="/help/login"' in page


def test_every_mail_footer_and_the_credentials_mail_point_to_support_and_the_guide(site: Site, tmp_path: Path) -> None:
    settings = Settings(
        service=ServiceSettings(support_name="国资委信息中心", support_phone="023-63000000", support_email="help@x.cn"),
        web=WebSettings(public_url="https://cq.example.cn/"),
    )
    config = outbox_config(tmp_path, settings)
    assert config.guide_url == "https://cq.example.cn/help"
    with Outbox(site.wf.ledger, site.wf, tmp_path / "outbox", config) as outbox:
        now = datetime.now(UTC)
        credentials = MailSpec(
            "credentials",
            "credentials",
            ["tb@group.example.cn"],
            "1",
            now,
            {"unit_name": "香港测试有限公司", "first_level_name": "重庆测试集团有限公司", "username": site.overseas},
        )
        _subject, text, html = outbox.composer.render_parts(credentials)
        assert "https://cq.example.cn/help/login" in text and 'href="https://cq.example.cn/help/login"' in html
        changed = MailSpec(
            "password_changed",
            "password_changed",
            ["a@b.cn"],
            "2",
            now,
            {"username": THIRD, "unit_name": "x", "changed_at": now},
        )
        _subject, text, html = outbox.composer.render_parts(changed)
        for body in (text, html):
            assert "技术支持：国资委信息中心" in body and "023-63000000" in body and "help@x.cn" in body
            assert "https://cq.example.cn/help" in body


def test_the_application_hands_the_settings_to_the_portal(tmp_path: Path) -> None:
    from chanquan.app import portal_config
    from chanquan.config import IntakeSettings

    settings = Settings(
        service=ServiceSettings(
            support_name="信息中心", support_phone="023-1", support_email="h@x.cn", mail_domain="cq.cn"
        ),
        web=WebSettings(
            public_url="https://cq.cn/", verify_max_bytes=1000, verify_rate_per_minute=7, admin_users=("sasac-0002",)
        ),
        intake=IntakeSettings(smtp_host="mail.cq.cn", smtp_port=587, tls_cert_file="c.pem"),
    )
    config = portal_config(tmp_path, settings)
    assert config.sessions_db == tmp_path / "portal.sqlite3" and config.public_url == "https://cq.cn"
    assert config.support == SupportContact("信息中心", "023-1", "h@x.cn")
    assert config.mail_door == MailDoor("mail.cq.cn", 587, True, "cq.cn", settings.intake.smtp_max_message_bytes)
    assert (config.verify_max_bytes, config.verify_rate_per_minute) == (1000, 7)
    assert config.admin_users == frozenset({"SASAC0002"})


def test_a_finding_code_has_a_stable_link(site: Site) -> None:
    client = site.client()
    response = client.get("/help/findings/investors-share-sum")
    assert response.status_code == 303 and response.headers["location"] == "/help/findings#code-investors-share-sum"
    assert client.get("/help/findings/no-such-code").status_code == 404
