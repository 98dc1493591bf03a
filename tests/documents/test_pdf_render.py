"""Rendering: every field and investor is in the text, fonts are embedded, templates work."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from pdf_support import font_dicts, is_embedded, page_texts
from pypdf import PdfReader

from documents import CERTIFICATE, FORM, TemplateCatalog, TemplateError, render
from documents.model import normalize_check_code, parse_qr_payload, parse_verification_url
from documents.samples import sample_document
from documents.templates import parse_template


@pytest.fixture(scope="module")
def form_pdf(catalog: TemplateCatalog) -> bytes:
    return render(sample_document(FORM, investors=60), catalog.get(FORM, "标准")).pdf


def test_form_text_has_enterprise_codes_investors_and_reviews(form_pdf: bytes) -> None:
    data = sample_document(FORM, investors=60)
    text = "\n".join(page_texts(form_pdf))
    reg = data.registration
    for value in (reg["ent_name"], reg["uscc"], reg["org_code"], reg["parent_org_code"], reg["approval_ref"]):
        assert value in text, value
    unwrapped = text.replace("\n", "")  # long cells wrap inside their column
    for investor in reg["investors"]:
        assert investor["investor_name"] in unwrapped
        assert investor["investor_code"] in text
    for document in reg["documents"]:
        assert document["doc_kind"] in text
    for review in data.reviews:
        assert review.reviewer in unwrapped
        assert review.opinion in unwrapped
    assert f"登记编号：{data.cert_no}　核验码：{data.check_code}" in text


def test_every_font_is_embedded(form_pdf: bytes, catalog: TemplateCatalog) -> None:
    certificate = render(sample_document(CERTIFICATE), catalog.get(CERTIFICATE, "标准")).pdf
    for pdf in (form_pdf, certificate):
        fonts = font_dicts(pdf)
        assert fonts, "no font dictionaries found"
        base_names = {str(f.get("/BaseFont")) for f in fonts}
        assert not any(
            name.lstrip("/") in ("Helvetica", "Times-Roman", "Courier", "ZapfDingbats") for name in base_names
        )
        assert all(is_embedded(f) for f in fonts), base_names


def test_the_checker_notices_a_standard_font() -> None:
    """The embedded-font check must be able to fail: a plain reportlab page uses Helvetica."""
    from reportlab.pdfgen.canvas import Canvas

    buf = io.BytesIO()
    canvas = Canvas(buf)
    canvas.drawString(100, 100, "hello")
    canvas.save()
    fonts = font_dicts(buf.getvalue())
    assert fonts and not all(is_embedded(f) for f in fonts)


@pytest.mark.parametrize(
    ("doc_type", "name", "landscape"),
    [(FORM, "标准", False), (FORM, "简洁", False), (CERTIFICATE, "标准", False), (CERTIFICATE, "横版", True)],
)
def test_each_template_renders(catalog: TemplateCatalog, doc_type: str, name: str, landscape: bool) -> None:
    template = catalog.get(doc_type, name)
    data = sample_document(doc_type, investors=8)
    rendered = render(data, template)
    reader = PdfReader(io.BytesIO(rendered.pdf))
    box = reader.pages[0].mediabox
    assert (float(box.width) > float(box.height)) is landscape
    text = page_texts(rendered.pdf)[0]
    assert template.title in text
    assert data.enterprise_name in text
    assert data.cert_no in text
    x1, y1, x2, y2 = rendered.seal_box
    assert 0 <= x1 < x2 <= float(box.width) and 0 <= y1 < y2 <= float(box.height)


def test_certificate_shows_capital_and_authority(catalog: TemplateCatalog) -> None:
    data = sample_document(CERTIFICATE, investors=3)
    text = page_texts(render(data, catalog.get(CERTIFICATE, "标准")).pdf)[0]
    assert "发证机关：重庆市国资委" in text
    assert f"注册资本：{data.registration['reg_capital']} 万元" in text.replace("： ", "：")
    assert "国有出资" in text
    assert data.registration["uscc"] in text


def test_two_thousand_investors_paginate_with_repeated_header(catalog: TemplateCatalog) -> None:
    data = sample_document(FORM, investors=2000)
    rendered = render(data, catalog.get(FORM, "简洁"))
    texts = page_texts(rendered.pdf)
    assert rendered.page_count == len(texts) > 20
    investor_pages = [t for t in texts if "重庆第" in t]
    assert len(investor_pages) >= 20
    for text in investor_pages:
        assert "出资人名称" in text and "出资人代码" in text  # the header row on every page of the table
    joined = "\n".join(texts)
    for investor in data.registration["investors"][::97]:
        assert investor["investor_name"] in joined
    assert data.registration["investors"][-1]["investor_name"] in texts[-1] or data.registration["investors"][-1][
        "investor_name"
    ] in "\n".join(texts[-3:])


def test_unknown_template_lists_the_available_ones(catalog: TemplateCatalog) -> None:
    with pytest.raises(TemplateError) as info:
        catalog.get(FORM, "豪华")
    assert "豪华" in info.value.message_zh
    assert "标准" in info.value.message_zh and "简洁" in info.value.message_zh


def test_bad_template_file_is_reported_with_file_and_key(tmp_path: Path) -> None:
    path = tmp_path / "登记表-坏.toml"
    path.write_text('name = "坏"\ndocument = "登记表"\ncolour = "红"\n', encoding="utf-8")
    with pytest.raises(TemplateError) as info:
        parse_template(path)
    assert "登记表-坏.toml" in info.value.message_zh and "colour" in info.value.message_zh
    path.write_text('name = "坏"\ndocument = "登记表"\nsections = ["seal"]\n', encoding="utf-8")
    with pytest.raises(TemplateError) as info:
        parse_template(path)
    assert "seal" in info.value.message_zh


def test_template_sections_are_honoured(catalog: TemplateCatalog) -> None:
    data = sample_document(FORM, investors=3)
    full = "\n".join(page_texts(render(data, catalog.get(FORM, "标准")).pdf))
    compact = "\n".join(page_texts(render(data, catalog.get(FORM, "简洁")).pdf))
    assert "合规性资料目录" in full and "合规性资料目录" not in compact


def test_qr_payload_is_the_verification_page_of_the_document() -> None:
    data = sample_document(CERTIFICATE)
    assert data.qr_payload == f"https://chanquan.example.cn/verify/{data.cert_no}?c={data.check_code}"
    assert data.check_code == f"{data.approval_seq}-{data.content_hash[:12]}"
    assert parse_verification_url(data.qr_payload) == (data.cert_no, data.check_code)
    assert parse_verification_url("https://example.com/other/DJZ-1?c=1-0123456789ab") is None
    # what a person may type from the paper, including the line older documents printed
    for typed in (
        data.check_code,
        f"#{data.approval_seq} · {data.content_hash[:12]}",
        f"{data.cert_no} · {data.check_code}",
    ):
        assert normalize_check_code(typed) == data.check_code
    assert normalize_check_code("１２-" + data.content_hash[:12].upper()) == f"12-{data.content_hash[:12]}"
    assert normalize_check_code("not a code") is None
    # documents issued before the verification page carried the CQVERIFY payload; it still parses
    old = f"CQVERIFY:1;no={data.cert_no};seq={data.approval_seq};h={data.content_hash[:16]}"
    assert parse_qr_payload(old) == {"no": data.cert_no, "seq": str(data.approval_seq), "h": data.content_hash[:16]}
    assert parse_qr_payload("https://example.com") == {}
