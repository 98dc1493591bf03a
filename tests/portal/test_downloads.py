"""Downloads by filing id and blob hash: the workbook, the annotated workbook, issued PDFs, the
prefilled standard workbook; names made by the portal, content exactly the stored bytes."""

from __future__ import annotations

import io
from urllib.parse import unquote

from httpx2 import Response
from openpyxl import load_workbook
from portal_helpers import GROUP, SECOND, THIRD, Site, decide, file

from chanquan.app import init_signing_identity, open_document_issuer
from chanquan.config import Settings
from portal.downloads import sniff
from workflow import ReviewDecision


def saved_name(response: Response) -> str:
    disposition = response.headers["content-disposition"]
    assert disposition.startswith("attachment;")
    return unquote(disposition.split("filename*=utf-8''")[1])


def test_the_filed_workbook_is_served_byte_for_byte(site: Site) -> None:
    fid = file(site.wf).filing_id
    view = site.wf.filing(fid)
    assert view is not None
    response = site.browser(THIRD).get(f"/filings/{fid}/files/{view.workbook_blob}")
    assert response.status_code == 200
    assert response.content == site.wf.ledger.blobs.get(view.workbook_blob)
    assert response.headers["content-type"].startswith("application/vnd.openxmlformats")
    assert saved_name(response) == f"{fid}-第1轮-登记表.xlsx"
    assert response.headers["x-content-type-options"] == "nosniff"


def test_attachments_get_names_from_the_filing_not_from_the_filer(site: Site) -> None:
    fid = file(site.wf).filing_id
    view = site.wf.filing(fid)
    assert view is not None
    attachment = next(f for f in view.files if f.kind == "attachment")
    response = site.browser(SECOND).get(f"/filings/{fid}/files/{attachment.blob}")
    assert response.status_code == 200
    assert saved_name(response) == f"{fid}-第1轮-附件1.pdf"
    assert response.headers["content-type"] == "application/pdf"


def test_the_annotated_workbook_of_an_invalid_filing(site: Site) -> None:
    outcome = file(site.wf, documents=[{"doc_kind": "企业章程", "required": "是", "file_name": "0.pdf"}])
    view = site.wf.filing(outcome.filing_id)
    assert view is not None
    annotated = next(f for f in view.files if f.kind == "annotated")
    response = site.browser(THIRD).get(f"/filings/{outcome.filing_id}/files/{annotated.blob}")
    assert response.status_code == 200
    assert saved_name(response) == f"{outcome.filing_id}-第1轮-校验批注.xlsx"
    assert "审核错误" in load_workbook(io.BytesIO(response.content), read_only=True).sheetnames


def test_an_issued_pdf_is_listed_and_served(site: Site) -> None:
    fid = file(site.wf).filing_id
    for _ in range(3):
        decide(site.wf, fid, ReviewDecision.APPROVE, "同意")
    settings = Settings()
    init_signing_identity(site.data, settings)
    with open_document_issuer(site.data, settings, site.wf) as issuer:
        event = issuer.issue_for_filing(fid)
    pdf_blob = event.payload["pdf_blob"]
    client = site.browser(THIRD)
    page = client.get(f"/filings/{fid}").text
    assert f"/filings/{fid}/files/{pdf_blob}" in page and "已出证" in page
    response = client.get(f"/filings/{fid}/files/{pdf_blob}")
    assert response.status_code == 200
    assert response.content.startswith(b"%PDF") and response.content == site.wf.ledger.blobs.get(pdf_blob)
    assert saved_name(response).startswith(f"{fid}-第1轮-") and saved_name(response).endswith(".pdf")


def test_the_standard_workbook_prefilled_from_the_last_approved_registration(site: Site) -> None:
    client = site.browser(THIRD)
    blank = client.get("/template.xlsx")
    assert blank.status_code == 200
    assert saved_name(blank) == f"产权登记表-{THIRD}.xlsx"
    fid = file(site.wf).filing_id
    for _ in range(3):
        decide(site.wf, fid, ReviewDecision.APPROVE, "同意")
    prefilled = client.get("/template.xlsx")
    assert saved_name(prefilled) == f"产权登记表-{THIRD}-预填.xlsx"
    workbook = load_workbook(io.BytesIO(prefilled.content))
    target = next(iter(workbook.defined_names["org_code"].destinations))
    assert workbook[target[0]][target[1].replace("$", "")].value == THIRD
    # another unit gets its own (blank) workbook, never THIRD's data
    other = site.browser(GROUP).get("/template.xlsx")
    assert saved_name(other) == f"产权登记表-{GROUP}.xlsx"


def test_sniffing_names_only_known_kinds() -> None:
    assert sniff(b"%PDF-1.7") == ("pdf", "application/pdf")
    assert sniff(b"PK\x03\x04", ["word/document.xml"])[0] == "docx"
    assert sniff(b"PK\x03\x04", ["a.pdf"])[0] == "zip"
    assert sniff(b"\xff\xd8\xff\xe0")[0] == "jpg"
    assert sniff(b"<html><script>") == ("bin", "application/octet-stream")
