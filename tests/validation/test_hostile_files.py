"""Hostile and broken files: each is refused with exit 2 and a Chinese message, fast, in bounded memory."""

from __future__ import annotations

import io
import json
import time
import tracemalloc
import zipfile
from collections.abc import Callable
from pathlib import Path

import defusedxml
import defusedxml.ElementTree
import pytest
from support.hostile_factory import (
    billion_laughs,
    encrypted_workbook,
    entity_bomb_workbook,
    high_ratio_workbook,
    legacy_xls,
    macro_workbook,
    million_row_workbook,
    plain_workbook,
    zip_bomb_workbook,
    zip_of,
    zip_with_raw_names,
)

from chanquan.cli import main
from validation.bundle import BundleError, load_bundle
from validation.safety import MAX_INFLATED_TOTAL, inspect_xlsx

PDF = b"%PDF-1.4\n%%EOF\n"


def _truncated() -> bytes:
    data = plain_workbook()
    return data[: len(data) // 2]


def _traversal_bundle() -> bytes:
    return zip_of({"登记表.xlsx": plain_workbook(), "../../../etc/cron.d/evil": b"* * * * * root sh"})


def _windows_traversal_bundle() -> bytes:
    return zip_with_raw_names([(b"reg.xlsx", plain_workbook()), (b"..\\..\\boot.ini", b"x")])


def _absolute_bundle() -> bytes:
    return zip_of({"登记表.xlsx": plain_workbook(), "/etc/passwd": b"root"})


def _zip_in_zip() -> bytes:
    inner = zip_of({"登记表.xlsx": plain_workbook(), "章程.pdf": PDF})
    return zip_of({"报送材料.zip": inner})


def _zip_in_zip_beside_workbook() -> bytes:
    inner = zip_of({"登记表.xlsx": plain_workbook()})
    return zip_of({"登记表.xlsx": plain_workbook(), "旧版.zip": inner})


def _lying_zip_bomb() -> bytes:
    return zip_bomb_workbook(inflated=60 * 1024 * 1024, lie=True)


def _bundle_bomb() -> bytes:
    """A bundle zip whose attachment inflates past the cap."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        zf.writestr("登记表.xlsx", plain_workbook())
        with zf.open("附件.pdf", "w", force_zip64=True) as member:
            block = b"\0" * (1024 * 1024)
            for _ in range(MAX_INFLATED_TOTAL // len(block) + 2):
                member.write(block)
    return out.getvalue()


# (file name, builder, expected code, words the message must contain)
CASES: list[tuple[str, Callable[[], bytes], str, str]] = [
    ("not-a-zip.xlsx", lambda: b"this is plain text, not a workbook", "workbook-not-zip", "不是"),
    ("empty.xlsx", lambda: b"", "workbook-truncated", "空文件"),
    ("truncated.xlsx", _truncated, "workbook-truncated", "不完整"),
    ("encrypted.xlsx", encrypted_workbook, "workbook-encrypted", "密码"),
    ("legacy.xls", legacy_xls, "workbook-legacy-xls", ".xls"),
    ("wps.et", legacy_xls, "workbook-wps-et", "WPS"),
    ("macros.xlsm", macro_workbook, "workbook-macros", "宏"),
    ("entity-bomb.xlsx", entity_bomb_workbook, "workbook-xml-entities", "DOCTYPE"),
    ("zip-bomb.xlsx", zip_bomb_workbook, "workbook-too-large", "压缩炸弹"),
    ("lying-zip-bomb.xlsx", _lying_zip_bomb, "workbook-compression-ratio", "压缩比"),
    ("ratio.xlsx", high_ratio_workbook, "workbook-compression-ratio", "压缩比"),
    ("million-rows.xlsx", million_row_workbook, "workbook-too-many-rows", "1048576"),
    ("traversal.zip", _traversal_bundle, "bundle-unsafe-name", "../../../etc/cron.d/evil"),
    ("windows-traversal.zip", _windows_traversal_bundle, "bundle-unsafe-name", "boot.ini"),
    ("absolute.zip", _absolute_bundle, "bundle-unsafe-name", "/etc/passwd"),
    ("zip-in-zip.zip", _zip_in_zip, "bundle-nested-zip", "报送材料.zip"),
    ("zip-in-zip-2.zip", _zip_in_zip_beside_workbook, "bundle-nested-zip", "旧版.zip"),
    ("bundle-bomb.zip", _bundle_bomb, "bundle-too-large", "压缩炸弹"),
]


@pytest.fixture(scope="module")
def hostile_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("hostile")
    for file_name, build, _, _ in CASES:
        (folder / file_name).write_bytes(build())
    return folder


@pytest.mark.parametrize(("file_name", "code", "words"), [(c[0], c[2], c[3]) for c in CASES])
def test_load_bundle_refuses(hostile_dir: Path, file_name: str, code: str, words: str) -> None:
    with pytest.raises(BundleError) as info:
        load_bundle(hostile_dir / file_name)
    assert info.value.code == code, info.value
    assert words in info.value.message
    assert file_name in info.value.message or "“" in info.value.message


@pytest.mark.parametrize(("file_name", "code"), [(c[0], c[2]) for c in CASES])
def test_check_exits_2_with_chinese_message(
    hostile_dir: Path, file_name: str, code: str, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(["check", str(hostile_dir / file_name)])
    out, err = capsys.readouterr()
    assert status == 2
    text = out + err
    assert "Traceback" not in text
    assert any("\u4e00" <= ch <= "\u9fff" for ch in text)
    assert code in text or file_name in text


@pytest.mark.parametrize(("file_name", "code"), [(c[0], c[2]) for c in CASES[:3] + CASES[12:14]])
def test_check_json_reports_the_code(
    hostile_dir: Path, file_name: str, code: str, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(["check", "--json", str(hostile_dir / file_name)])
    out, _ = capsys.readouterr()
    assert status == 2
    assert code in json.dumps(json.loads(out), ensure_ascii=False)


@pytest.mark.timeout(20)
def test_billion_laughs_is_refused_fast_in_bounded_memory() -> None:
    data = entity_bomb_workbook()
    tracemalloc.start()
    started = time.perf_counter()
    try:
        with pytest.raises(BundleError) as info:
            inspect_xlsx(data, name="bomb.xlsx")
        elapsed = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert info.value.code == "workbook-xml-entities"
    assert "xl/workbook.xml" in info.value.message
    # A naive expansion would need ~3 GB and minutes; the refusal reads a few hundred bytes.
    assert peak < 2 * 1024 * 1024
    assert elapsed < 5


def test_billion_laughs_document_is_a_real_bomb() -> None:
    """The payload is the genuine article: defusedxml (the library's own guard) refuses it too."""
    with pytest.raises(defusedxml.EntitiesForbidden):
        defusedxml.ElementTree.fromstring(billion_laughs())


def test_doctype_hidden_behind_comments_and_padding_is_found() -> None:
    base = plain_workbook()
    with zipfile.ZipFile(io.BytesIO(base)) as zf:
        styles = zf.read("xl/styles.xml")
    body = styles.split(b"?>", 1)[-1]
    prolog = b'<?xml version="1.0"?>\n<!-- ' + b"x" * 20000 + b" -->\n" + b" " * 3000
    padded = prolog + b'<!DOCTYPE a [<!ENTITY e "e">]>' + body
    from support.hostile_factory import rebuild_zip

    with pytest.raises(BundleError) as info:
        inspect_xlsx(rebuild_zip(base, replace={"xl/styles.xml": padded}))
    assert info.value.code == "workbook-xml-entities"


def test_utf16_xml_part_is_refused() -> None:
    from support.hostile_factory import rebuild_zip

    base = plain_workbook()
    part = '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE a [<!ENTITY e "e">]><a/>'.encode("utf-16")
    with pytest.raises(BundleError) as info:
        inspect_xlsx(rebuild_zip(base, replace={"xl/styles.xml": part}))
    assert info.value.code == "workbook-xml-entities"


@pytest.mark.timeout(60)
def test_lying_zip_bomb_is_stopped_while_streaming_in_bounded_memory() -> None:
    data = zip_bomb_workbook(inflated=120 * 1024 * 1024, lie=True)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        declared = zf.getinfo("xl/worksheets/sheet1.xml").file_size
    assert declared == 1024  # the directory lies
    tracemalloc.start()
    try:
        with pytest.raises(BundleError) as info:
            inspect_xlsx(data)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert info.value.code in ("workbook-compression-ratio", "workbook-too-large")
    assert peak < 8 * 1024 * 1024


def test_size_mismatch_without_bomb_is_refused() -> None:
    """A header claiming more than the data holds (a broken or tampered workbook) is caught too."""
    import random
    import zlib

    from support.hostile_factory import zip_with_raw_member

    content = random.Random(3).randbytes(256 * 1024)
    compressor = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    deflated = compressor.compress(content) + compressor.flush()
    data = zip_with_raw_member(
        plain_workbook(), "xl/media/blob.bin", deflated, crc=zlib.crc32(content), declared_size=len(content) + 10
    )
    with pytest.raises(BundleError) as info:
        inspect_xlsx(data)
    assert info.value.code == "workbook-size-mismatch"


def test_encrypted_zip_member_is_refused() -> None:
    data = bytearray(zip_of({"登记表.xlsx": plain_workbook(), "a.pdf": PDF}))
    # set the "encrypted" bit in every central directory entry
    pos = 0
    while (pos := data.find(b"PK\x01\x02", pos)) != -1:
        data[pos + 8] |= 1
        pos += 4
    with pytest.raises(BundleError) as info:
        load_bundle(bytes(data), name="locked.zip")
    assert info.value.code == "bundle-encrypted"


def test_word_document_renamed_xlsx_is_refused() -> None:
    docx = zip_of({"[Content_Types].xml": b"<Types/>", "word/document.xml": b"<document/>"})
    with pytest.raises(BundleError) as info:
        load_bundle(docx, name="登记表.xlsx")
    assert info.value.code == "workbook-not-xlsx"
    assert "Word" in info.value.message


def test_normal_workbook_passes_all_guards() -> None:
    inspect_xlsx(plain_workbook(rows=500))


def test_fast_directory_parser_agrees_with_zipfile() -> None:
    from validation.zipguard import Entry, fast_entries

    for data in (plain_workbook(), macro_workbook(), zip_of({"名称.pdf": PDF, "a/": b""})):
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            expected = [Entry.of(info) for info in zf.infolist()]
        assert fast_entries(data) == expected


def test_unusual_zips_fall_back_to_zipfile() -> None:
    from validation.zipguard import fast_entries

    prepended = b"MZ self-extractor stub " * 10 + plain_workbook()
    assert fast_entries(prepended) is None
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(plain_workbook())) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            with src.open(info) as fin, dst.open(info.filename, "w", force_zip64=True) as fout:
                fout.write(fin.read())
    zip64 = out.getvalue()
    inspect_xlsx(zip64)  # zip64 extra fields are fine; zipfile parses them
    with pytest.raises(BundleError) as refused:
        inspect_xlsx(prepended)
    assert refused.value.code == "workbook-not-zip"  # a self-extracting program is no workbook
    with pytest.raises(BundleError) as refused:
        inspect_xlsx(zip64[:-30])
    assert refused.value.code == "workbook-truncated"


def test_unsupported_compression_method_is_refused() -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_BZIP2) as zf, zipfile.ZipFile(io.BytesIO(plain_workbook())) as src:
        for info in src.infolist():
            zf.writestr(info.filename, src.read(info))
    with pytest.raises(BundleError) as refused:
        inspect_xlsx(out.getvalue(), name="bz.xlsx")
    assert refused.value.code == "workbook-compression"


@pytest.mark.parametrize(
    ("sheet_data", "code"),
    [
        # a far address, plain or disguised
        (
            b'<row r="1"><c r="A1"><v>1</v></c></row><row r="1048576"><c r="XFD1048576"><v>1</v></c></row>',
            "too-many-rows",
        ),
        (b'<row r="1"><c r="A1"/><c r="XFD1"/></row><row r="200"><c r="A200"/></row>', "too-many-rows"),
        (b'<row r="1"><c s="1" r="A1048576"/></row>', "too-many-rows"),
        (b"<row r='1'><c r = 'A1048576'/></row>", "too-many-rows"),
        (b'<row r="1"><c r="A0001048576"/></row>', "too-many-rows"),
        (b'<x:row r="1"><x:c r="A1"/></x:row><x:row r="900000"><x:c r="B900000"/></x:row>', "too-many-rows"),
        # implicit addresses: rows and cells without r continue from the previous one
        (b'<row r="99990"/>' + b"<row><c><v>1</v></c></row>" * 20, "too-many-rows"),
        (b'<row r="5000">' + b"<c><v>1</v></c>" * 500 + b"</row>", "too-many-rows"),
        # addresses no reader agrees on
        (b'<row r="1"><c r="&#88;FD1"/></row>', "cell-address"),
        (b'<row r="1"><c r="A123456789012"/></row>', "cell-address"),
    ],
)
def test_cell_grids_that_would_exhaust_memory_are_refused(sheet_data: bytes, code: str) -> None:
    from support.hostile_factory import workbook_with_sheet_data

    with pytest.raises(BundleError) as info:
        inspect_xlsx(workbook_with_sheet_data(sheet_data), name="grid.xlsx")
    assert info.value.code == f"workbook-{code}"
    assert "grid.xlsx" in info.value.message


@pytest.mark.parametrize(
    "sheet_data",
    [
        b'<row r="1"><c r="A1" t="s"><v>0</v></c><c r="Z9999"/></row>',
        b'<row r="3"><c r="B3"/></row><row r="60000"><c r="F60000"/></row>',  # 360,000 cells: allowed
        b"<row><c><v>1</v></c><c><v>2</v></c></row>" * 50,
    ],
)
def test_ordinary_or_moderate_grids_pass(sheet_data: bytes) -> None:
    from support.hostile_factory import workbook_with_sheet_data

    inspect_xlsx(workbook_with_sheet_data(sheet_data))


def test_sheet_outside_the_worksheets_folder_is_still_checked() -> None:
    from support.hostile_factory import far_cell_workbook

    data = far_cell_workbook()
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        sheet = zf.read("xl/worksheets/sheet1.xml")
        rels = zf.read("xl/_rels/workbook.xml.rels").replace(b"worksheets/sheet1.xml", b"../hidden/data.bin")
    from support.hostile_factory import rebuild_zip

    moved = rebuild_zip(
        data,
        replace={"xl/_rels/workbook.xml.rels": rels},
        drop={"xl/worksheets/sheet1.xml"},
        add={"hidden/data.bin": sheet},
    )
    with pytest.raises(BundleError) as info:
        inspect_xlsx(moved)
    assert info.value.code == "workbook-too-many-rows"


@pytest.mark.timeout(120)
def test_far_cell_workbook_ends_with_exit_2_not_an_abort(tmp_path: Path) -> None:
    """Without the guard calamine aborts the whole process; run `chanquan check` in a child to prove it does not."""
    import subprocess
    import sys

    from support.hostile_factory import far_cell_workbook

    path = tmp_path / "far.xlsx"
    path.write_bytes(far_cell_workbook())
    done = subprocess.run(
        [sys.executable, "-m", "chanquan", "check", str(path)], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert "1048576 行" in done.stderr


def test_a_passed_workbook_is_not_inspected_twice_but_a_mutable_one_is() -> None:
    import validation.safety as safety

    data = plain_workbook()
    inspect_xlsx(data)
    assert any(seen is data for seen, _ in safety._RECENTLY_PASSED)
    mutable = bytearray(data)
    inspect_xlsx(mutable)  # type: ignore[arg-type]
    mutable[:4] = b"XXXX"
    with pytest.raises(BundleError):
        inspect_xlsx(mutable)  # type: ignore[arg-type]


def test_millions_of_shared_strings_are_refused_but_thousands_pass() -> None:
    from support.hostile_factory import shared_strings_workbook

    inspect_xlsx(shared_strings_workbook(30_000))
    with pytest.raises(BundleError) as info:
        inspect_xlsx(shared_strings_workbook(250_000), name="strings.xlsx")
    assert info.value.code == "workbook-too-many-strings"
    assert "strings.xlsx" in info.value.message


def test_main_part_elsewhere_than_xl_workbook_is_refused() -> None:
    from support.hostile_factory import rebuild_zip

    base = plain_workbook()
    with zipfile.ZipFile(io.BytesIO(base)) as zf:
        rels = zf.read("_rels/.rels").replace(b"xl/workbook.xml", b"xl/other.xml")
        workbook = zf.read("xl/workbook.xml")
    with pytest.raises(BundleError) as info:
        inspect_xlsx(rebuild_zip(base, replace={"_rels/.rels": rels}, add={"xl/other.xml": workbook}))
    assert info.value.code == "workbook-not-xlsx"
    assert "xl/other.xml" in info.value.message


@pytest.mark.parametrize(
    "prolog",
    [
        b'<?xml version="1.0"?><!DOCTYPE worksheet [<!ENTITY a "aaaa">]>',
        b'<?xml version="1.0"?><!-- ' + b"pad " * 30_000 + b"-->",  # prolog longer than 64 KB
    ],
)
def test_worksheet_prolog_is_checked_too(prolog: bytes) -> None:
    from support.hostile_factory import rebuild_zip

    base = plain_workbook()
    with zipfile.ZipFile(io.BytesIO(base)) as zf:
        sheet = zf.read("xl/worksheets/sheet1.xml")
    body = sheet.split(b"?>", 1)[-1]
    with pytest.raises(BundleError) as info:
        inspect_xlsx(rebuild_zip(base, replace={"xl/worksheets/sheet1.xml": prolog + body}))
    assert info.value.code == "workbook-xml-entities"
    assert "sheet1.xml" in info.value.message
