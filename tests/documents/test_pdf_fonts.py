"""The signed PDF shows exactly the recorded text: fallback faces, placeholders, subset tags.

Characters from the BMP, CJK Extension A and Extension B must all come back out of the
PDF's text layer (pypdf), both from the renderer and from a document issued for a real
approved filing whose review opinion contains them. A character no face has is printed
as a visible placeholder and recorded in `document.issued`, never dropped.
"""

from __future__ import annotations

import io
import re
from dataclasses import replace
from pathlib import Path
from typing import cast

import pytest
from pdf_scenario import Scenario, build
from pdf_support import font_dicts, page_texts
from pypdf import PdfReader
from pypdf.generic import StreamObject

from chanquan.app import open_document_issuer
from chanquan.cli import main
from chanquan.config import CONFIG_FILE_NAME
from documents import CERTIFICATE, FORM, DocumentSigner, FontError, SignRequest, TemplateCatalog, render
from documents.events import DocumentIssued
from documents.fonts import font_chain, subset_tag
from documents.model import DocumentData
from documents.samples import sample_document
from documents.typeset import Typesetter

BMP = "中国"
EXT_A = "㐀䶵"  # U+3400, U+4DB5
EXT_B = "𠮷𪚥𤭢"  # U+20BB7, U+2A6A5, U+24B62: not in wqy-zenhei
SAMPLE = BMP + EXT_A + EXT_B
EXT_I = "\U0002ebf0"  # CJK Extension I (Unicode 15.1): no Debian face of the chain has it
TAG = re.compile(r"^/[A-Z]{6}\+")


def _with_rare_text(doc_type: str, text: str) -> DocumentData:
    data = sample_document(doc_type, investors=4)
    registration = dict(data.registration)
    registration["address"] = f"重庆市{text}路 1 号"
    registration["ent_name"] = f"重庆{text}实业有限公司"
    investors = [dict(i) for i in registration["investors"]]
    investors[1]["investor_name"] = f"{text}投资合伙企业"
    registration["investors"] = investors
    reviews = tuple(replace(r, opinion=f"同意。{text}") for r in data.reviews)
    return replace(data, registration=registration, reviews=reviews, unit_name=f"重庆{text}实业有限公司")


def _text(pdf: bytes) -> str:
    return "".join(page_texts(pdf))


@pytest.mark.parametrize(("doc_type", "template"), [(FORM, "标准"), (FORM, "简洁"), (CERTIFICATE, "标准")])
def test_bmp_ext_a_and_ext_b_characters_are_all_in_the_text(
    catalog: TemplateCatalog, doc_type: str, template: str
) -> None:
    rendered = render(_with_rare_text(doc_type, SAMPLE), catalog.get(doc_type, template))
    text = _text(rendered.pdf)
    assert [c for c in SAMPLE if c not in text] == []
    assert f"重庆{SAMPLE}实业有限公司" in text
    assert rendered.missing_chars == ()
    assert "〓" not in text and "注：" not in text


def test_fallback_faces_are_only_used_for_what_the_primary_lacks(catalog: TemplateCatalog) -> None:
    rendered = render(_with_rare_text(FORM, SAMPLE), catalog.get(FORM, "标准"))
    names = {str(f["/BaseFont"]).split("+", 1)[1] for f in font_dicts(rendered.pdf)}
    assert "WenQuanYiZenHei-0" in names
    assert "HanaMinB" in names  # 𤭢 is only in HanaMinB
    plain = render(sample_document(FORM, investors=4), catalog.get(FORM, "标准"))
    assert {str(f["/BaseFont"]).split("+", 1)[1] for f in font_dicts(plain.pdf)} == {"WenQuanYiZenHei-0"}


def test_a_character_no_face_has_is_a_visible_placeholder_and_reported(catalog: TemplateCatalog) -> None:
    assert font_chain().face_for(ord(EXT_I)) is None  # precondition: the Debian faces lack Extension I
    for doc_type in (FORM, CERTIFICATE):
        rendered = render(_with_rare_text(doc_type, SAMPLE + EXT_I), catalog.get(doc_type, "标准"))
        text = _text(rendered.pdf)
        assert rendered.missing_chars == ("U+2EBF0",)
        assert "〓U+2EBF0〓" in text
        assert "注：本文件所用字体中没有以下字符" in text and "U+2EBF0" in text.split("注：", 1)[1]
        assert [c for c in SAMPLE if c not in text] == []


def test_without_fallback_faces_extension_b_becomes_placeholders(catalog: TemplateCatalog) -> None:
    data = _with_rare_text(FORM, SAMPLE)
    rendered = render(data, catalog.get(FORM, "标准"), fallback_font_files=())
    assert rendered.missing_chars == ("U+20BB7", "U+24B62", "U+2A6A5")
    unwrapped = _text(rendered.pdf).replace("\n", "")
    assert "〓U+20BB7〓" in unwrapped and "〓U+24B62〓" in unwrapped
    assert "㐀" in unwrapped and "䶵" in unwrapped  # Extension A is in wqy-zenhei itself


def test_a_missing_fallback_file_is_refused_only_when_needed(catalog: TemplateCatalog, tmp_path: Path) -> None:
    absent = str(tmp_path / "NoSuchFont.ttf")
    plain = render(sample_document(FORM, investors=2), catalog.get(FORM, "标准"), fallback_font_files=(absent,))
    assert plain.missing_chars == ()
    with pytest.raises(FontError) as info:
        render(_with_rare_text(FORM, SAMPLE), catalog.get(FORM, "标准"), fallback_font_files=(absent,))
    assert absent in info.value.message_zh and "找不到字体文件" in info.value.message_zh


def test_subset_tags_are_distinct_and_deterministic(signer: DocumentSigner, catalog: TemplateCatalog) -> None:
    for doc_type, investors in ((CERTIFICATE, 3), (FORM, 200)):
        data = _with_rare_text(doc_type, SAMPLE)
        if doc_type == FORM:
            data = replace(data, registration=dict(data.registration, investors=_many_investors(investors)))
        rendered = render(data, catalog.get(doc_type, "标准"))
        signed = signer.sign(SignRequest(rendered.pdf, rendered.seal_page, rendered.seal_box, "r", "l"))
        names = [str(f["/BaseFont"]) for f in font_dicts(signed)]
        assert all(TAG.match(name) for name in names), names
        assert len(names) == len(set(names)), names  # the stamp's subset used to repeat the page's tag
        wqy = [n for n in names if n.endswith("+WenQuanYiZenHei-0")]
        assert len(wqy) >= 2  # at least the page's and the stamp's
        again = render(data, catalog.get(doc_type, "标准"))
        assert again.pdf == rendered.pdf  # same facts, same bytes (tags included)


def _many_investors(count: int) -> list[dict[str, str]]:
    """Investor names drawing on more than 256 distinct characters, so the page face needs several subsets."""
    pool = "".join(chr(c) for c in range(0x4E00, 0x4E00 + 600))
    return [
        {
            "investor_name": pool[(n * 3) % 590 : (n * 3) % 590 + 10] + "有限公司",
            "investor_code": f"50{n:07d}X",
            "investor_category": "境内非国有法人",
            "subscribed": "1",
            "paid_in": "1",
            "share_pct": "0.5",
        }
        for n in range(count)
    ]


def test_subset_tag_resolves_a_collision_within_one_document() -> None:
    taken: dict[str, bytes] = {}
    first = subset_tag(b"Face", [0, 32, 0x4E2D], taken)
    assert subset_tag(b"Face", [0, 32, 0x4E2D], taken) == first  # the same subset keeps its tag
    taken_by_other = {first: b"something else"}
    assert subset_tag(b"Face", [0, 32, 0x4E2D], taken_by_other) != first


def test_typesetter_wraps_at_line_breaks_and_never_splits_a_placeholder() -> None:
    ts = Typesetter(font_chain(fallback_files=()))
    assert ts.wrap("同意。\n请尽快办理。", 9, 500) == ["同意。", "请尽快办理。"]
    placeholder_width = ts.width("〓U+20BB7〓", 9)
    lines = ts.wrap("甲" + "𠮷" * 3, 9, placeholder_width + 1)
    assert lines == ["甲", "𠮷", "𠮷", "𠮷"]
    assert ts.missing_chars == ("U+20BB7",)
    assert ts.markup("A&B<𠮷>") == "A&amp;B&lt;〓U+20BB7〓&gt;"


def test_old_issuance_events_read_without_missing_chars() -> None:
    payload = {
        "filing_id": "CQ2026-000001",
        "round": 1,
        "unit": "100000016",
        "period": "2025-03-01",
        "doc_type": "登记证",
        "template": "标准",
        "cert_no": "DJZ-CQ2026-000001-1",
        "pdf_blob": "0" * 64,
        "sha256": "0" * 64,
        "reissue_of": None,
        "approval_seq": 12,
        "content_hash": "ab" * 32,
        "pages": 1,
    }
    assert DocumentIssued.model_validate(payload).missing_chars == []


# ---------------------------------------------------------------- a real data directory


@pytest.fixture(scope="module")
def rare(tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    """Approved filings whose reviewers wrote opinions with BMP, Extension A and Extension B characters."""
    return build(tmp_path_factory.mktemp("rare") / "data", investors=2, opinion=f"同意，经办人{SAMPLE}。")


def test_issued_document_shows_the_recorded_opinion_exactly(rare: Scenario) -> None:
    with open_document_issuer(rare.data) as issuer:
        event = issuer.issue_for_filing(rare.sub_filing)  # the outbox's path on approval
        pdf = issuer.pdf_of(event)
        recorded = [e.payload["opinion"] for e in issuer.ledger.events(subject=rare.sub_filing, kind="review.decided")]
        assert recorded and all(SAMPLE in opinion for opinion in recorded)  # the ledger has them ...
        assert issuer.verify(pdf).ok
    unwrapped = _text(pdf).replace("\n", "")
    assert [c for c in SAMPLE if c not in unwrapped] == []  # ... and so does the signed PDF
    for opinion in recorded:
        assert opinion in unwrapped
    assert event.payload["missing_chars"] == []


def _set_fallbacks(data: Path, value: str) -> str:
    path = data / CONFIG_FILE_NAME
    original = path.read_text(encoding="utf-8")
    changed, count = re.subn(r"(?m)^fallback_font_files = .*$", f"fallback_font_files = {value}", original)
    assert count == 1
    path.write_text(changed, encoding="utf-8")
    return original


def test_print_warns_records_and_verify_reports_missing_characters(
    rare: Scenario, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """With no fallback face configured the Extension B characters have no glyph: marked, recorded, told."""
    out = tmp_path / "登记表.pdf"
    original = _set_fallbacks(rare.data, "[]")
    try:
        code = main(
            ["--data", str(rare.data), "print", "--unit", rare.subsidiary, "--period", rare.period, "--out", str(out)]
        )
        captured = capsys.readouterr()
    finally:
        (rare.data / CONFIG_FILE_NAME).write_text(original, encoding="utf-8")
    assert code == 0, captured.err
    assert "警告：字体中没有以下 3 个字符" in captured.err
    assert "U+20BB7（𠮷）" in captured.err and "pdf.fallback_font_files" in captured.err
    text = _text(out.read_bytes()).replace("\n", "")
    assert "〓U+20BB7〓" in text and "〓U+2A6A5〓" in text
    with open_document_issuer(rare.data) as issuer:
        issued = list(issuer.ledger.events(kind="document.issued"))[-1]
    assert issued.payload["missing_chars"] == ["U+20BB7", "U+24B62", "U+2A6A5"]
    code = main(["--data", str(rare.data), "verify-pdf", str(out)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "签发时字体缺少 3 个字符" in captured.out and "U+24B62" in captured.out


def test_font_objects_have_a_to_unicode_map_for_astral_characters(catalog: TemplateCatalog) -> None:
    rendered = render(_with_rare_text(CERTIFICATE, SAMPLE), catalog.get(CERTIFICATE, "标准"))
    reader = PdfReader(io.BytesIO(rendered.pdf))
    maps = [
        cast(StreamObject, f["/ToUnicode"].get_object()).get_data()
        for f in font_dicts(rendered.pdf)
        if str(f["/BaseFont"]).endswith("HanaMinB")
    ]
    assert maps and b"<D852DF62>" in b"".join(maps)  # 𤭢 as a UTF-16 surrogate pair, not <24B62>
    assert len(reader.pages) == 1
