"""The .eml corpus: real clients' charsets, name encodings, forwards and TNEF."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from intake.mime import MailAttachment, decode_bytes, load_mail_bundle, normalize_charset, parse_mail
from validation.bundle import BundleError

EML = Path(__file__).parent / "eml"


def mail(name: str):  # type: ignore[no-untyped-def]
    return parse_mail((EML / name).read_bytes())


def test_rfc2231_gbk_and_rfc2047_names_in_quotes() -> None:
    parsed = mail("foxmail_filing_rfc2231_gbk.eml")
    assert [a.original_name for a in parsed.attachments] == ["产权登记表（2025年度）.xlsx", "营业执照副本.pdf"]
    assert parsed.subject == "产权登记报送"
    assert parsed.text.startswith("附件为本单位产权登记表及营业执照")


def test_rfc2231_continuations() -> None:
    parsed = mail("thunderbird_filing_rfc2231_continuation.eml")
    assert parsed.attachments[0].original_name == "合规性资料-国有资产产权登记申请文件（盖章扫描件）.pdf"
    assert parsed.attachments[0].data == b"%PDF-1.4 continuation"


def test_gb2312_label_is_read_as_gb18030() -> None:
    parsed = mail("gb2312_label_gbk_chars.eml")
    assert "朱镕基、王堃、陈喆" in parsed.text
    assert normalize_charset("GB2312") == "gb18030"
    assert decode_bytes("镕".encode("gbk"), "gb2312") == "镕"


def test_raw_8bit_headers_utf8_subject_gbk_filename() -> None:
    parsed = mail("raw8bit_headers.eml")
    assert parsed.subject == "产权登记 8bit 主题"
    assert parsed.attachments[0].original_name == "审计报告.pdf"
    assert parsed.text.strip() == "正文"


def test_forwarded_message_attachments_are_found() -> None:
    parsed = mail("forwarded_rfc822.eml")
    assert [a.original_name for a in parsed.attachments] == ["章程.pdf"]
    assert parsed.text.strip() == "forwarded"  # the outer body, not the forwarded one


def test_tnef_is_flagged() -> None:
    parsed = mail("outlook_tnef_winmail.eml")
    assert parsed.has_tnef
    assert parsed.attachments == []


def test_traversal_names_are_kept_for_display_and_sanitized_in_the_bundle(tmp_path: Path) -> None:
    parsed = mail("traversal_names.eml")
    names = [a.original_name for a in parsed.attachments]
    assert names[0] == "../../etc/passwd"
    from validation.template import write_template

    workbook = tmp_path / "登记表.xlsx"
    write_template(workbook)
    attachments = [
        MailAttachment("登记表.xlsx", "application/vnd.ms-excel", workbook.read_bytes()),
        *parsed.attachments,
    ]
    bundle = load_mail_bundle(attachments)
    for safe in bundle.attachments:
        assert "/" not in safe and "\\" not in safe and safe != ".."
        assert all(ch.isprintable() for ch in safe)
    assert set(bundle.original_names.values()) >= set(names)  # originals kept for display
    assert bundle.workbook_name == "登记表.xlsx"


def test_zip_attachment_is_the_bundle(tmp_path: Path) -> None:
    from validation.template import write_template

    workbook = tmp_path / "t.xlsx"
    write_template(workbook)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("登记表.xlsx", workbook.read_bytes())
        archive.writestr("章程.pdf", b"%PDF charter")
    bundle = load_mail_bundle([MailAttachment("资料.zip", "application/zip", buffer.getvalue())])
    assert bundle.attachment_names == ["章程.pdf"]


def test_mail_without_attachment_is_refused_in_chinese() -> None:
    with pytest.raises(BundleError) as caught:
        load_mail_bundle([])
    assert caught.value.code == "mail-no-attachment"
    assert "附件" in caught.value.message
