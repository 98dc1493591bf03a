"""Documents an official would sign: nothing broken mid-word, people not addresses, a real seal, a QR code
that leads to the verification page, the period named by what it is.

Each test reads the rendered PDF (text through pypdf, pixels through pdfium), not the layout code.
"""

from __future__ import annotations

import io
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import pypdfium2 as pdfium
import pytest
import qrcode
from hypothesis import given, settings
from hypothesis import strategies as st
from pdf_support import page_texts
from pypdf import PdfReader

from documents import CERTIFICATE, FORM, TemplateCatalog, TemplateError, render
from documents.facts import REVIEWER_ROLE, display_name
from documents.fonts import font_chain
from documents.labels import BASIC_KEYS, REGISTRATION_KEYS, applies, label
from documents.model import DocumentData
from documents.samples import sample_document
from documents.seal import SEAL_SIZE
from documents.signing import render_stamp
from documents.templates import TITLES, parse_template_text
from documents.typeset import Typesetter

CLOSERS = "）)，。、；：！？"


def _lines(pdf: bytes) -> list[str]:
    return [line for text in page_texts(pdf) for line in text.splitlines()]


def _with(data: DocumentData, **registration: Any) -> DocumentData:
    """The sample with some registration fields replaced (None removes one)."""
    reg = {k: v for k, v in {**data.registration, **registration}.items() if v is not None}
    return replace(data, registration=reg)


@pytest.mark.parametrize("name", ["标准", "简洁"])
def test_headers_codes_and_labels_are_never_broken(catalog: TemplateCatalog, name: str) -> None:
    data = sample_document(FORM, investors=12)
    pdf = render(data, catalog.get(FORM, name)).pdf
    lines = _lines(pdf)
    text = "\n".join(lines)
    for line in lines:
        stripped = line.strip()
        assert stripped and stripped[0] not in CLOSERS, f"a line starts with a closing mark: {line!r}"
        assert not stripped.endswith(("（", "(")), f"a line ends with an opening bracket: {line!r}"
    for investor in data.registration["investors"]:
        assert investor["investor_code"] in text  # an 18-character USCC on one line
        assert investor["subscribed"] in text
    reg = data.registration
    for key in REGISTRATION_KEYS + BASIC_KEYS:
        if applies(key, reg):
            assert label(key) in text, label(key)  # 与国家出资企业关系, 填报单位组织机构代码 … whole
    for header in ("认缴出资额", "（万元）", "股权比例", "是否必需" if name == "标准" else "审核结果"):
        assert header in text, header


def test_wrapping_breaks_between_words_and_keeps_notes_in_brackets_whole() -> None:
    ts = Typesetter(font_chain(fallback_files=()))
    size = 8.5
    assert ts.wrap("认缴出资额（万元）", size, ts.width("认缴出资额", size) + 1) == ["认缴出资额", "（万元）"]
    name = "重庆渝发集团有限公司（202600012）"
    lines = ts.wrap(name, size, ts.width("重庆渝发集团有限公司", size) + 1)
    assert lines == ["重庆渝发集团有限公司", "（202600012）"]
    code = "91500000202600012Y"
    assert ts.wrap(code, size, ts.width(code, size)) == [code]
    narrow = ts.wrap(code, size, 40)  # only a code wider than its whole column is broken, by character
    assert "".join(narrow) == code and len(narrow) > 1


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="企业名称重庆（）()，。、：ABC0123-.@ ", max_size=60), st.integers(min_value=20, max_value=200))
def test_wrapped_lines_are_the_text_in_order_and_start_with_no_closing_mark(text: str, width: int) -> None:
    ts = Typesetter(font_chain(fallback_files=()))
    lines = ts.wrap(text, 9, width)
    assert "".join(lines) == text
    for line in lines[1:]:
        assert line[0] not in CLOSERS, lines


def test_required_column_follows_the_catalogue(catalog: TemplateCatalog) -> None:
    documents = [
        {"doc_kind": "业务办理申请文件", "required": "", "file_name": "申请.pdf", "note": ""},
        {"doc_kind": "审计报告", "required": "", "file_name": "审计.pdf", "note": ""},
        {"doc_kind": "营业执照副本", "required": None, "file_name": "执照.jpg", "note": ""},
    ]
    data = _with(sample_document(FORM, investors=2), documents=documents)  # a backfill of an 占有 registration
    rows = {
        line.split()[1]: line for line in _lines(render(data, catalog.get(FORM, "标准")).pdf) if re.match(r"\d ", line)
    }
    assert " 是 " in rows["业务办理申请文件"] and " 是 " in rows["营业执照副本"]
    assert " 否 " in rows["审计报告"]  # the catalogue asks it of 注销, not of this registration


def test_reviewers_are_people_or_roles_never_addresses() -> None:
    signed = "From: =?utf-8?b?546L5bu65Y2O?= <review@yufa.example.cn>\nSubject: x\n\n通过\n".encode()
    assert display_name(signed) == "王建华"
    for bare in (b"From: review@yufa.example.cn\n\n", b'From: "review@yufa.example.cn" <review@yufa.example.cn>\n\n'):
        assert display_name(bare) == ""  # the page then shows the role
    assert REVIEWER_ROLE == "指定审核人"


def test_the_footer_says_how_to_verify_in_words(catalog: TemplateCatalog) -> None:
    for template in catalog.all():
        data = sample_document(template.doc_type, investors=3)
        text = "\n".join(page_texts(render(data, template).pdf))
        assert "扫描" in text and "二维码" in text, template.name
        assert f"{data.public_url}/verify" in text and "核验码" in text
        assert "verify-pdf" not in text and "chanquan" not in text.lower().replace(data.public_url, "")


def test_the_stamp_is_a_round_red_seal_with_the_name_a_star_and_its_purpose() -> None:
    stamp, missing = render_stamp("重庆市国资委")
    assert missing == ()
    page = PdfReader(io.BytesIO(stamp)).pages[0]
    assert float(page.mediabox.width) == float(page.mediabox.height) == pytest.approx(SEAL_SIZE)
    text = page.extract_text()
    assert "产权登记专用章" in text and all(char in text for char in "重庆市国资委")
    assert "PAdES" not in text and "签章" not in text.replace("专用章", "")
    contents = page.get_contents()
    assert contents is not None
    content = contents.get_data().decode("latin-1")
    assert " c\n" in content or " c " in content  # curves: a ring, not a rectangle
    assert re.search(r"\.84 \.08 \.08 rg", content)  # seal red


def test_the_seal_place_is_marked_and_the_signature_lands_on_it(catalog: TemplateCatalog) -> None:
    for template in catalog.all():
        rendered = render(sample_document(template.doc_type, investors=3), template)
        x1, y1, x2, y2 = rendered.seal_box
        assert x2 - x1 == pytest.approx(SEAL_SIZE) and y2 - y1 == pytest.approx(SEAL_SIZE)
        last = page_texts(rendered.pdf)[rendered.seal_page]
        assert "（电子签章）" in last and "PAdES" not in last


def test_the_title_is_the_same_in_every_template(catalog: TemplateCatalog) -> None:
    for doc_type in (FORM, CERTIFICATE):
        templates = [t for t in catalog.all() if t.doc_type == doc_type]
        assert len(templates) >= 2
        for template in templates:
            assert template.title == TITLES[doc_type]
            assert TITLES[doc_type] in page_texts(render(sample_document(doc_type), template).pdf)[0]
    with pytest.raises(TemplateError) as info:
        parse_template_text('document = "登记证"\ntitle = "产权证"\n', "登记证-自定义.toml")
    assert "title" in info.value.message_zh and TITLES[CERTIFICATE] in info.value.message_zh


def _qr_modules(pdf: bytes, box: tuple[float, float, float, float], n: int) -> list[list[bool]]:
    """The dark/light modules of the n x n QR code drawn in `box` on the first page, read off its pixels."""
    scale = 6
    document = pdfium.PdfDocument(pdf)
    try:
        page = document[0]
        height = page.get_height()
        image = page.render(scale=scale).to_pil().convert("L")
        page.close()
    finally:
        document.close()
    x1, y1, x2, _y2 = box
    cell = (x2 - x1) / n
    return [
        [
            image.getpixel(
                (round((x1 + (c + 0.5) * cell) * scale), round((height - (y1 + (n - r - 0.5) * cell)) * scale))
            )
            < 128
            for c in range(n)
        ]
        for r in range(n)
    ]


@pytest.mark.parametrize(("doc_type", "name"), [(FORM, "标准"), (CERTIFICATE, "标准"), (CERTIFICATE, "横版")])
def test_the_qr_code_is_the_verification_url(catalog: TemplateCatalog, doc_type: str, name: str) -> None:
    data = sample_document(doc_type, investors=3)
    rendered = render(data, catalog.get(doc_type, name))
    expected = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=2, mask_pattern=4)
    expected.add_data(f"https://chanquan.example.cn/verify/{data.cert_no}?c={data.check_code}")
    expected.make(fit=True)
    matrix = [list(row) for row in expected.get_matrix()]
    assert _qr_modules(rendered.pdf, rendered.qr_box, len(matrix)) == matrix


def test_a_change_registration_is_labelled_by_its_act_date(catalog: TemplateCatalog) -> None:
    change = {
        "reg_type": "变动产权登记",
        "reg_situation": "注册资本变动",
        "backfill_form": None,
        "as_of_date": None,
        "is_biz_registered": None,
        "act_date": "2025-11-03",
        "approval_ref": "渝发集团〔2025〕45号",
    }
    base = _with(sample_document(FORM, investors=2), **change)
    data = replace(base, period="2025-11-03")
    text = "\n".join(page_texts(render(data, catalog.get(FORM, "标准")).pdf))
    assert "经济行为日期：2025-11-03" in text
    assert "数据时点" not in text  # neither in the header nor as an empty row of the table
    cert = replace(data, doc_type=CERTIFICATE)
    cert_text = page_texts(render(cert, catalog.get(CERTIFICATE, "标准")).pdf)[0]
    assert "经济行为日期：" in cert_text and "数据时点" not in cert_text


def test_a_backfill_is_labelled_by_its_as_of_date(catalog: TemplateCatalog) -> None:
    data = _with(sample_document(FORM, investors=2), act_date=None)
    text = "\n".join(page_texts(render(data, catalog.get(FORM, "标准")).pdf))
    assert "数据时点：2012-06-30" in text and "经济行为日期" not in text


def test_pages_say_which_zone_their_times_are_in(catalog: TemplateCatalog) -> None:
    form = "\n".join(page_texts(render(sample_document(FORM), catalog.get(FORM, "标准")).pdf))
    assert "打印日期：2026-11-27（北京时间）" in form and "审核记录（时间为北京时间）" in form
    cert = page_texts(render(sample_document(CERTIFICATE), catalog.get(CERTIFICATE, "标准")).pdf)[0]
    assert "证书上的日期为北京时间" in cert


def test_bad_template_values_are_refused_with_file_and_key(tmp_path: Path) -> None:
    cases = {
        'document = "登记表"\ntitle_size = "18"\n': "title_size",
        'document = "登记表"\nfont_size = 0\n': "font_size",
        'document = "登记表"\nmargins_mm = { top = "x" }\n': "margins_mm.top",
        'document = "登记表"\nmargins_mm = { inner = 3 }\n': "margins_mm.inner",
        'document = "登记表"\nshow_border = "yes"\n': "show_border",
        'document = "证书"\n': "document",
        'document = "登记证"\nsections = ["investors"]\n': "investors",
        'name = "x"\n': "document",
    }
    for text, key in cases.items():
        with pytest.raises(TemplateError) as info:
            parse_template_text(text, "登记表-坏.toml")
        assert "登记表-坏.toml" in info.value.message_zh and key in info.value.message_zh, (text, info.value.message_zh)


def test_template_defaults_are_stated_once(tmp_path: Path) -> None:
    template = parse_template_text('document = "登记证"\nmargins_mm = { top = 30 }\n', "登记证-简单.toml")
    assert template.name == "简单" and template.orientation == "portrait" and not template.landscape
    assert template.margins_mm.top == 30 and template.margins_mm.left == 15
    assert template.parts == ("identity", "registration", "capital", "investors_summary")
    (tmp_path / "登记证-甲.toml").write_text('name = "同名"\ndocument = "登记证"\n', encoding="utf-8")
    (tmp_path / "登记证-乙.toml").write_text('name = "同名"\ndocument = "登记证"\n', encoding="utf-8")
    with pytest.raises(TemplateError) as info:
        TemplateCatalog(tmp_path)
    assert "登记证-甲.toml" in info.value.message_zh and "登记证-乙.toml" in info.value.message_zh


def test_the_shipped_templates_are_package_resources() -> None:
    catalog = TemplateCatalog()
    assert sorted(f"{t.doc_type}-{t.name}" for t in catalog.all()) == [
        "登记表-标准",
        "登记表-简洁",
        "登记证-标准",
        "登记证-横版",
    ]
    assert catalog.directory.joinpath("登记表-标准.toml").is_file()
