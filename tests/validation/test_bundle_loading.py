"""load_bundle: zips, lone workbooks, folders, names as Windows Chinese tools write them."""

from __future__ import annotations

import struct
import zipfile
import zlib
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from support.hostile_factory import plain_workbook, zip_of, zip_with_raw_names

from validation.bundle import Bundle, BundleError, load_bundle, sanitize_name

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@pytest.fixture(scope="module")
def workbook() -> bytes:
    return plain_workbook()


def test_lone_workbook_from_bytes(workbook: bytes) -> None:
    bundle = load_bundle(workbook, name="登记表.xlsx")
    assert isinstance(bundle, Bundle)
    assert bundle.workbook_name == "登记表.xlsx"
    assert bundle.workbook_bytes == workbook
    assert bundle.attachments == {}


def test_lone_workbook_from_path_with_attachments_dir(tmp_path: Path, workbook: bytes) -> None:
    (tmp_path / "a.xlsx").write_bytes(workbook)
    attachments = tmp_path / "附件"
    attachments.mkdir()
    (attachments / "营业执照.pdf").write_bytes(PDF)
    (attachments / "Thumbs.db").write_bytes(b"junk")
    bundle = load_bundle(tmp_path / "a.xlsx", attachments_dir=attachments)
    assert bundle.workbook_name == "a.xlsx"
    assert bundle.attachments == {"营业执照.pdf": PDF}


def test_zip_bundle_with_folder_inside(workbook: bytes) -> None:
    data = zip_of(
        {
            "某公司产权登记/登记表.xlsx": workbook,
            "某公司产权登记/业务办理申请文件.pdf": PDF,
            "__MACOSX/某公司产权登记/._登记表.xlsx": b"mac",
            "某公司产权登记/~$登记表.xlsx": b"excel lock file",
        }
    )
    bundle = load_bundle(data, name="报送.zip")
    assert bundle.workbook_name == "登记表.xlsx"
    assert bundle.attachments == {"业务办理申请文件.pdf": PDF}
    assert bundle.original_names["业务办理申请文件.pdf"] == "某公司产权登记/业务办理申请文件.pdf"
    assert "报送.zip" in bundle.source


def test_zip_bundle_from_path(tmp_path: Path, workbook: bytes) -> None:
    path = tmp_path / "bundle.zip"
    path.write_bytes(zip_of({"登记表.xlsx": workbook, "章程.pdf": PDF}))
    bundle = load_bundle(path)
    assert sorted(bundle.attachments) == ["章程.pdf"]


def test_gbk_names_without_utf8_flag_are_decoded(workbook: bytes) -> None:
    data = zip_with_raw_names([("登记表.xlsx".encode("gbk"), workbook), ("营业执照.pdf".encode("gbk"), PDF)])
    with zipfile.ZipFile(__import__("io").BytesIO(data)) as zf:
        assert all(not info.flag_bits & 0x800 for info in zf.infolist())
    bundle = load_bundle(data, name="gbk.zip")
    assert bundle.workbook_name == "登记表.xlsx"
    assert list(bundle.attachments) == ["营业执照.pdf"]


def test_utf8_names_without_flag_are_decoded(workbook: bytes) -> None:
    data = zip_with_raw_names([(b"wb_x.xlsx", workbook), ("公司章程.pdf".encode(), PDF)])
    assert list(load_bundle(data, name="u.zip").attachments) == ["公司章程.pdf"]


def test_info_zip_unicode_path_extra_field_wins(workbook: bytes) -> None:
    import io

    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        zf.writestr("a.xlsx", workbook)
        info = zipfile.ZipInfo("____.pdf")
        utf8 = "批文.pdf".encode()
        info.extra = struct.pack("<HHBI", 0x7075, 5 + len(utf8), 1, zlib.crc32(b"____.pdf")) + utf8
        zf.writestr(info, PDF)
    assert list(load_bundle(out.getvalue(), name="x.zip").attachments) == ["批文.pdf"]


def test_folder_bundle(tmp_path: Path, workbook: bytes) -> None:
    folder = tmp_path / "报送"
    (folder / "附件").mkdir(parents=True)
    (folder / "登记表.xlsx").write_bytes(workbook)
    (folder / "附件" / "审计报告.pdf").write_bytes(PDF)
    (folder / ".DS_Store").write_bytes(b"x")
    bundle = load_bundle(folder)
    assert bundle.workbook_name == "登记表.xlsx"
    assert bundle.attachments == {"审计报告.pdf": PDF}
    assert bundle.original_names["审计报告.pdf"] == "附件/审计报告.pdf"


def test_folder_symlink_is_refused(tmp_path: Path, workbook: bytes) -> None:
    (tmp_path / "登记表.xlsx").write_bytes(workbook)
    (tmp_path / "passwd.pdf").symlink_to("/etc/passwd")
    with pytest.raises(BundleError) as info:
        load_bundle(tmp_path)
    assert info.value.code == "bundle-unsafe-name"
    assert "passwd.pdf" in info.value.message


@pytest.mark.parametrize(
    ("members", "code"),
    [
        ({"章程.pdf": PDF}, "bundle-no-workbook"),
        ({"a.xlsx": b"@", "b.xlsx": b"@"}, "bundle-several-workbooks"),
        ({"a.xlsx": b"@", "x/章程.pdf": PDF, "y/章程.pdf": PDF}, "bundle-duplicate-name"),
    ],
)
def test_bundle_shape_errors(members: dict[str, bytes], code: str, workbook: bytes) -> None:
    members = {k: (workbook if v == b"@" else v) for k, v in members.items()}
    with pytest.raises(BundleError) as info:
        load_bundle(zip_of(members), name="bad.zip")
    assert info.value.code == code
    assert "bad.zip" in info.value.message


def test_several_workbooks_message_names_them(workbook: bytes) -> None:
    with pytest.raises(BundleError) as info:
        load_bundle(zip_of({"甲.xlsx": workbook, "乙.xls": b"x"}), name="two.zip")
    assert "甲.xlsx" in info.value.message
    assert "乙.xls" in info.value.message


def test_legacy_workbook_in_bundle_gets_its_own_reason() -> None:
    from support.hostile_factory import legacy_xls

    with pytest.raises(BundleError) as info:
        load_bundle(zip_of({"登记表.xls": legacy_xls(), "a.pdf": PDF}), name="old.zip")
    assert info.value.code == "workbook-legacy-xls"
    assert "登记表.xls" in info.value.message


def test_attachment_zip_without_workbook_is_kept(workbook: bytes) -> None:
    inner = zip_of({"扫描件1.jpg": b"\xff\xd8\xff\xe0jpeg", "扫描件2.pdf": PDF})
    bundle = load_bundle(zip_of({"登记表.xlsx": workbook, "扫描件.zip": inner}), name="ok.zip")
    assert bundle.attachments["扫描件.zip"] == inner


def test_missing_path_and_unknown_bytes() -> None:
    with pytest.raises(BundleError) as info:
        load_bundle(Path("/nonexistent/报送.zip"))
    assert info.value.code == "bundle-not-found"
    with pytest.raises(BundleError) as info:
        load_bundle(b"just some text", name="note.txt")
    assert info.value.code == "bundle-not-zip"
    with pytest.raises(BundleError) as info:
        load_bundle(b"", name="empty.zip")
    assert info.value.code == "bundle-truncated"


def test_error_chains_its_cause() -> None:
    with pytest.raises(BundleError) as info:
        load_bundle(b"PK\x03\x04" + b"\0" * 40, name="cut.zip")
    assert info.value.code == "bundle-truncated"
    assert isinstance(info.value.__cause__, zipfile.BadZipFile)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("营业执照.pdf", "营业执照.pdf"),
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\张三\\桌面\\章程.pdf", "章程.pdf"),
        ("/abs/path/批文.jpg", "批文.jpg"),
        ("报告\u202efdp.exe", "报告fdp.exe"),
        ("a\x00b\x1fc.pdf", "abc.pdf"),
        ('what?<x>:"|*.pdf', "what__x_____.pdf"),
        ("CON.pdf", "_CON.pdf"),
        ("trailing. . ", "trailing"),
        ("..", "unnamed"),
        ("", "unnamed"),
    ],
)
def test_sanitize_name_examples(raw: str, expected: str) -> None:
    assert sanitize_name(raw) == expected


def test_sanitize_name_caps_length_and_keeps_extension() -> None:
    name = sanitize_name("长" * 300 + ".pdf")
    assert name.endswith(".pdf")
    assert len(name.encode()) <= 200


@given(st.text(max_size=300))
def test_sanitize_name_is_always_safe(raw: str) -> None:
    name = sanitize_name(raw)
    assert name
    assert "/" not in name and "\\" not in name
    assert name not in (".", "..")
    assert not any(ord(ch) < 32 for ch in name)
    assert len(name.encode()) <= 200
    assert sanitize_name(name) == name


def test_every_bundle_error_code_is_documented() -> None:
    import re

    root = Path(__file__).resolve().parents[2]
    guards = ("bundle.py", "safety.py", "zipguard.py", "xmlguard.py", "limits.py")
    source = "".join((root / "validation" / name).read_text() for name in guards)
    literal = set(re.findall(r'"((?:bundle|workbook)-[a-z0-9-]+)"', source))
    prefixed = set(re.findall(r'f"\{kind\.prefix\}-([a-z0-9-]+)"', source))
    raised = literal | {f"workbook-{c}" for c in prefixed} | {f"bundle-{c}" for c in prefixed}
    docs = (root / "docs" / "findings.md").read_text(encoding="utf-8")
    section = docs.split("## Bundle and file codes", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"^\| `([a-z0-9-]+)` \|", section, flags=re.M))
    # only workbooks are XML-, grid- and size-mismatch-checked: those bundle-prefixed forms cannot occur
    workbook_only = ("xml-entities", "too-many-rows", "size-mismatch", "cell-address", "too-many-strings")
    impossible = {f"bundle-{c}" for c in workbook_only}
    assert raised - impossible == documented


def test_oversized_file_is_refused_before_it_is_read(tmp_path: Path) -> None:
    from validation.bundle import MAX_SOURCE_BYTES

    path = tmp_path / "huge.zip"
    with path.open("wb") as fh:
        fh.truncate(MAX_SOURCE_BYTES + 1)  # sparse: costs no disk
    with pytest.raises(BundleError) as info:
        load_bundle(path)
    assert info.value.code == "bundle-too-large"
    assert "huge.zip" in info.value.message


def test_attachments_dir_name_clash_is_refused(tmp_path: Path, workbook: bytes) -> None:
    folder = tmp_path / "bundle"
    folder.mkdir()
    (folder / "登记表.xlsx").write_bytes(workbook)
    (folder / "章程.pdf").write_bytes(PDF)
    extra = tmp_path / "extra"
    extra.mkdir()
    (extra / "章程.pdf").write_bytes(PDF)
    with pytest.raises(BundleError) as info:
        load_bundle(folder, attachments_dir=extra)
    assert info.value.code == "bundle-duplicate-name"
    with pytest.raises(BundleError) as info:
        load_bundle(folder, attachments_dir=tmp_path / "missing")
    assert info.value.code == "bundle-not-found"
