"""报送申报 in the portal (TestClient): the upload goes through intake's durable path (channel web) and the
page answers at once — accepted with the number and the next reviewer, or the findings with the
annotated workbook — and every attack on the form is refused with nothing recorded.
"""

from __future__ import annotations

import asyncio
import io
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient
from support.hostile_factory import zip_bomb_workbook
from upload_site import (
    BUILDER,
    ENERGY,
    GROUP,
    POWER,
    SAMPLES,
    UploadSite,
    build_upload_site,
    post_files,
    sample_file,
    submit_form,
)

from validation.catalogue import ALLOWED_EXTENSIONS

LIMIT = 2 * 1024 * 1024  # the site's SMTP limit (intake.smtp_max_message_bytes), the largest upload


@pytest.fixture
def upsite(tmp_path: Path) -> Iterator[UploadSite]:
    built = build_upload_site(tmp_path / "data", max_bytes=LIMIT)
    yield built
    built.close()


def test_home_offers_the_submit_page_and_each_form_has_its_own_id(upsite: UploadSite) -> None:
    client = upsite.browser(BUILDER)
    home = client.get("/")
    assert 'href="/submit"' in home.text and "button disabled" not in home.text
    first, second = submit_form(client), submit_form(client)
    assert first[0] == second[0] and first[1] != second[1]  # the session's token, a fresh form id


def test_the_submit_page_states_the_attachment_rules_the_checks_apply(upsite: UploadSite) -> None:
    page = upsite.browser(BUILDER).get("/submit").text
    assert "每份资料扫描件不超过 2 MB" in page
    for ext in ALLOWED_EXTENSIONS:  # PNG and TIFF scans too (the catalogue's list)
        assert ext.upper() in page, ext
    accept = page.split('id="attachments"')[1].split('accept="')[1].split('"')[0]
    assert sorted(accept.split(",")) == sorted(f".{ext}" for ext in ALLOWED_EXTENSIONS), accept


def test_a_bundle_is_accepted_with_its_number_and_next_reviewer(upsite: UploadSite) -> None:
    client = upsite.browser(BUILDER)
    page = post_files(client, sample_file("02-子企业-变动登记.zip"))
    assert page.status_code == 200, page.text
    assert 'data-status="accepted"' in page.text and "已受理" in page.text
    (filed,) = upsite.kinds("filing.received")
    fid = filed.payload["filing_id"]
    assert f'href="/filings/{fid}"' in page.text
    assert "重庆渝发集团有限公司" in page.text  # the parent, asked first
    (received,) = upsite.kinds("intake.received")
    assert (received.payload["channel"], received.payload["sender"], received.payload["filer"]) == (
        "web",
        BUILDER,
        BUILDER,
    )
    assert received.seq < filed.seq  # recorded before anything else
    assert fid in client.get("/").text  # 我的报送
    # the history names the door in Chinese and the filer beside its code
    history = client.get(f"/filings/{fid}").text.split('id="history"')[1]
    assert f"填报单位 重庆渝发建设工程有限公司（{BUILDER}），渠道 网页门户" in history
    assert f"审核单位 重庆渝发集团有限公司（{GROUP}）" in history


def test_a_workbook_with_attachments_is_one_filing(upsite: UploadSite) -> None:
    folder = SAMPLES / "06-补录-未办"
    workbook = next(p for p in folder.iterdir() if p.suffix == ".xlsx")
    attachments = [(p.name, p.read_bytes()) for p in sorted(folder.iterdir()) if p != workbook]
    page = post_files(upsite.browser(BUILDER), (workbook.name, workbook.read_bytes()), attachments)
    assert 'data-status="accepted"' in page.text, page.text
    (filed,) = upsite.kinds("filing.received")
    assert filed.payload["workbook_name"] == workbook.name
    assert sorted(filed.payload["attachment_names"]) == sorted(name for name, _ in attachments)


def test_errors_show_the_findings_and_the_annotated_workbook(upsite: UploadSite) -> None:
    client = upsite.browser(POWER)
    page = post_files(client, sample_file("08-错误-股权比例合计不等于100.zip"))
    assert 'data-status="invalid"' in page.text and "校验未通过" in page.text
    (invalid,) = upsite.kinds("filing.invalid")
    for finding in invalid.payload["findings"]:
        assert finding["message"] in page.text and finding["cell"] in page.text
    assert "出资人情况" in page.text  # the sheet
    link = f"/filings/{invalid.payload['filing_id']}/files/{invalid.payload['annotated_blob']}"
    assert f'href="{link}"' in page.text
    annotated = client.get(link)
    assert annotated.status_code == 200
    with zipfile.ZipFile(io.BytesIO(annotated.content)) as book:
        assert "xl/workbook.xml" in book.namelist()


def test_a_filing_for_another_unit_is_refused_clearly(upsite: UploadSite) -> None:
    """Who files for whom is workflow's rule: 渝发建设 may not file 渝发集团's registration."""
    page = post_files(upsite.browser(BUILDER), sample_file("01-一级企业-占有登记.zip"))
    assert 'data-status="invalid"' in page.text
    (invalid,) = upsite.kinds("filing.invalid")
    codes = {f["code"] for f in invalid.payload["findings"]}
    assert codes, "a refusal must say why"
    for finding in invalid.payload["findings"]:
        assert finding["message"] in page.text
    assert upsite.kinds("review.requested") == []


def test_the_same_form_posted_twice_is_one_filing(upsite: UploadSite) -> None:
    client = upsite.browser(BUILDER)
    csrf, form_id = submit_form(client)
    first = post_files(client, sample_file("02-子企业-变动登记.zip"), csrf=csrf, client_id=form_id)
    again = post_files(client, sample_file("02-子企业-变动登记.zip"), csrf=csrf, client_id=form_id)
    assert 'data-status="accepted"' in first.text and 'data-status="accepted"' in again.text
    assert "此前已提交" in again.text
    assert len(upsite.kinds("intake.received")) == len(upsite.kinds("filing.received")) == 1


@pytest.mark.parametrize("token", ["", "forged-token-0123456789"])
def test_a_missing_or_wrong_token_is_403_and_records_nothing(upsite: UploadSite, token: str) -> None:
    client = upsite.browser(BUILDER)
    size = upsite.wf.ledger.size()
    page = post_files(client, sample_file("02-子企业-变动登记.zip"), csrf=token)
    assert page.status_code == 403 and "安全校验码" in page.text
    assert upsite.wf.ledger.size() == size
    assert not any((upsite.data / "inbound").rglob("*.msg"))


def test_without_a_session_nothing_is_read_or_recorded(upsite: UploadSite) -> None:
    client = upsite.client()
    size = upsite.wf.ledger.size()
    answer = client.post("/submit", files={"bundle": ("a.zip", b"PK\x03\x04", "application/zip")})
    assert answer.status_code == 303 and answer.headers["location"].startswith("/login")
    assert upsite.wf.ledger.size() == size


class CountingBody:
    """A request body handed over in chunks, counting what the server pulled."""

    def __init__(self, head: bytes, total: int, chunk: int = 64 * 1024) -> None:
        self.head = head
        self.total = total
        self.chunk = chunk
        self.pulled = 0

    def __iter__(self) -> Iterator[bytes]:
        yield self._take(self.head)
        while self.pulled < self.total:
            yield self._take(b"\0" * min(self.chunk, self.total - self.pulled))

    def _take(self, data: bytes) -> bytes:
        self.pulled += len(data)
        return data


BOUNDARY = "cqboundary0123456789"
MULTIPART = f"multipart/form-data; boundary={BOUNDARY}"


def oversized_form(client: TestClient, total: int) -> CountingBody:
    """The client's 报送 form (its token and form id) with a bundle of zeros, `total` bytes in all."""
    csrf, form_id = submit_form(client)
    fields = b"".join(
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in (("csrf", csrf), ("client_id", form_id))
    )
    part = f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="bundle"; filename="大.zip"\r\n\r\n'.encode()
    return CountingBody(fields + part, total=total)


def test_an_oversized_upload_is_refused_by_its_declared_length_unread(upsite: UploadSite) -> None:
    client = upsite.browser(BUILDER)
    body = oversized_form(client, LIMIT * 3)
    size = upsite.wf.ledger.size()
    page = client.post(
        "/submit", content=iter(body), headers={"content-type": MULTIPART, "content-length": str(body.total)}
    )
    assert page.status_code == 413
    assert "超过网页报送的上限 2 MB" in page.text and "请压缩扫描件" in page.text
    assert body.pulled <= 64 * 1024 + len(body.head), body.pulled  # not read whole: at most what was sent first
    assert upsite.wf.ledger.size() == size


def drive(app: Any, headers: dict[str, str], body: CountingBody) -> tuple[int, str]:
    """POST /submit straight to the ASGI app, handing the body over chunk by chunk as a server would
    (TestClient reads a streamed body whole before the app sees it, which is what is tested here)."""
    chunks = iter(body)
    sent: list[dict[str, Any]] = []
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/submit",
        "raw_path": b"/submit",
        "query_string": b"",
        "root_path": "",
        "headers": [(name.encode(), value.encode()) for name, value in headers.items()],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }

    async def receive() -> dict[str, Any]:
        chunk = next(chunks, None)
        return {"type": "http.request", "body": chunk or b"", "more_body": chunk is not None}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    return status, b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body").decode()


def test_an_oversized_upload_without_a_length_is_cut_off_at_the_bound(upsite: UploadSite) -> None:
    client = upsite.browser(BUILDER)
    body = oversized_form(client, LIMIT * 10)
    size = upsite.wf.ledger.size()
    headers = {
        "content-type": MULTIPART,
        "transfer-encoding": "chunked",
        "cookie": f"cq_session={client.cookies['cq_session']}",
    }
    status, text = drive(upsite.app, headers, body)
    assert status == 413 and "请压缩扫描件" in text
    bound = LIMIT + 64 * 1024  # the files' limit and the form's own bytes
    assert body.pulled <= bound + body.chunk, (body.pulled, bound)  # stopped one chunk past the bound at most
    assert body.pulled < body.total
    assert upsite.wf.ledger.size() == size


def test_a_hostile_file_gets_the_drop_folders_refusal(upsite: UploadSite) -> None:
    bomb = zip_bomb_workbook()
    page = post_files(upsite.browser(BUILDER), ("登记表.xlsx", bomb))
    assert page.status_code == 200
    (web,) = upsite.kinds("intake.rejected")
    assert 'data-status="rejected"' in page.text and web.payload["message"] in page.text
    # the same file dropped into the drop folder is answered with the same code and words
    folder = upsite.data / "dropbox" / BUILDER
    folder.mkdir(parents=True)
    (folder / "登记表.xlsx").write_bytes(bomb)
    assert upsite.service is not None
    assert upsite.service.watcher.scan_once() == 1
    (dropped,) = upsite.service.processor.queue.queue
    assert upsite.service.processor.process(dropped) == "rejected"
    web, drop = upsite.kinds("intake.rejected")
    assert (web.payload["channel"], drop.payload["channel"]) == ("web", "dropbox")
    assert (web.payload["code"], web.payload["message"]) == (drop.payload["code"], drop.payload["message"])
    assert upsite.kinds("filing.received") == []


def test_script_in_file_names_is_shown_as_text(upsite: UploadSite) -> None:
    hostile = "<script>alert(1)</script>.zip"
    client = upsite.browser(BUILDER)
    page = post_files(client, (hostile, (SAMPLES / "02-子企业-变动登记.zip").read_bytes()))
    assert 'data-status="accepted"' in page.text
    assert "<script>alert(1)</script>" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;.zip" in page.text
    # an attachment so named: listed on the outcome and the filing's page, and in any finding about it
    folder = SAMPLES / "06-补录-未办"
    workbook = next(p for p in folder.iterdir() if p.suffix == ".xlsx")
    files = [(p.name, p.read_bytes()) for p in sorted(folder.iterdir()) if p != workbook]
    pdf = next(data for name, data in files if name.endswith(".pdf"))
    hostile_pdf = "<script>alert(2)</script>.pdf"
    page = post_files(client, (workbook.name, workbook.read_bytes()), [*files, (hostile_pdf, pdf)])
    assert "<script>alert(2)" not in page.text and "&lt;script&gt;alert(2)&lt;/script&gt;.pdf" in page.text
    for filed in upsite.kinds("filing.received"):
        filing_page = client.get(f"/filings/{filed.payload['filing_id']}")
        assert filing_page.status_code == 200
        assert "<script>alert(" not in filing_page.text
    assert "&lt;script&gt;alert(2)" in filing_page.text


def test_an_empty_form_is_told_what_to_choose(upsite: UploadSite) -> None:
    client = upsite.browser(ENERGY)
    size = upsite.wf.ledger.size()
    page = post_files(client, None)
    assert page.status_code == 400 and "没有收到文件" in page.text
    assert upsite.wf.ledger.size() == size


def test_without_intake_there_is_no_submit_page(site: object) -> None:
    from portal_helpers import PASSWORD, THIRD, Site

    assert isinstance(site, Site)
    site.wf.accounts.set_password(THIRD, PASSWORD)
    client = site.login(THIRD, PASSWORD)
    assert client.get("/submit").status_code == 404
    assert "button disabled" in client.get("/").text


def test_the_group_sees_its_subsidiarys_web_filing(upsite: UploadSite) -> None:
    post_files(upsite.browser(BUILDER), sample_file("02-子企业-变动登记.zip"))
    (filed,) = upsite.kinds("filing.received")
    group = upsite.browser(GROUP)
    assert filed.payload["filing_id"] in group.get("/").text
    assert f'href="/review/{filed.payload["filing_id"]}"' in group.get("/").text
