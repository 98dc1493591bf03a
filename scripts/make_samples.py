"""Rebuild inbox_samples/: example bundles, good and bad, that a newcomer can drop in or check.

    .venv/bin/python scripts/make_samples.py [--out inbox_samples] [--no-verify]

Every workbook is the standard template filled by defined name and table column (as an outside
tool would fill it), so the samples follow the template as it is today. The output is
deterministic: fixed zip timestamps, fixed workbook properties, seeded filler bytes. After
writing, each sample is checked in-process and compared with the result its entry states; the
README's table is written from those statements, and tests/validation/test_samples.py holds
`chanquan check` to them.

The enterprise tree is in samples_tree.py, the bytes of attachments, workbooks and bundles in
samples_files.py, and the samples with what each shows and gives in samples_bundles.py.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path

from samples_bundles import SAMPLES, Sample
from samples_files import zip_of
from samples_tree import UNITS, write_units

from validation.bundle import BundleError, load_bundle
from validation.check import check_bundle

ROOT = Path(__file__).resolve().parents[1]


def write_sample(sample: Sample, out_dir: Path) -> Path:
    built = sample.build()
    target = out_dir / sample.name
    if isinstance(built, bytes):
        target.write_bytes(built)
        return target
    if sample.folder:
        target.mkdir()
        for name, data in built.items():
            (target / name).write_bytes(data)
        return target
    target.write_bytes(zip_of(built))
    return target


def check_result(path: Path) -> tuple[int, list[str]]:
    """(exit status, sorted distinct finding codes) as `chanquan check` would give them."""
    try:
        bundle = load_bundle(path)
    except BundleError as exc:
        return 2, [exc.code]
    result = check_bundle(bundle)
    return (0 if result.ok else 1), sorted({f.code for f in result.findings})


README_HEAD = """# inbox_samples

Example filings, good and bad, that a newcomer can check or drop into the drop folder
(`<dropbox>/<ORGCODE>/`). They are generated — do not edit them by hand:

    .venv/bin/python scripts/make_samples.py

Each workbook is the standard template (`chanquan template`) filled by defined name and table
column. Organization codes and USCCs carry correct check characters and match the enterprise
tree in `units.csv` (the tree the demo seeds): 市国资委 `SASAC0001` → 重庆渝发集团有限公司 and
重庆山城能源投资集团有限公司 (first level) → their subsidiaries, one overseas unit
(渝发（香港）国际有限公司, code assigned by the system) and one 国有参股 holding
(重庆两江数据服务有限公司, filed by its investor 渝发集团).

The last column is the filing unit, i.e. the drop folder `<dropbox>/<ORGCODE>/` the sample
belongs in (for the 参股 sample that is the investor, who files it).

Try one:

    .venv/bin/chanquan check "inbox_samples/08-错误-股权比例合计不等于100.zip"

Exit status: 0 acceptable, 1 has errors, 2 unreadable. The finding codes are explained in
docs/findings.md. tests/validation/test_samples.py checks that `chanquan check` gives exactly the
result below for every sample.

| sample | what it shows | exit | finding codes | filer (drop folder) |
| --- | --- | --- | --- | --- |
"""


def write_readme(out_dir: Path, results: Mapping[str, tuple[int, list[str]]]) -> None:
    rows = []
    for sample in SAMPLES:
        status, codes = results[sample.name]
        shown = ", ".join(f"`{c}`" for c in codes) if codes else "—"
        rows.append(f"| `{sample.name}` | {sample.shows} | {status} | {shown} | `{sample.filed_by.code}` |")
    units = "\n".join(f"- `{u.code}` {u.name}（{'境外，' if u.overseas else ''}{u.holding}）" for u in UNITS)
    text = README_HEAD + "\n".join(rows) + "\n\n## Units\n\n" + units + "\n"
    (out_dir / "README.md").write_text(text, encoding="utf-8")


PACKAGE_MARKER = '''"""Example bundles, installed as the package `chanquan.inbox_samples` (see pyproject.toml).

This marker makes the folder package data, so that `chanquan demo` finds its samples in an installed
wheel as in a checkout. Written by scripts/make_samples.py, like everything here.
"""
'''


def write_package_marker(out_dir: Path) -> None:
    (out_dir / "__init__.py").write_text(PACKAGE_MARKER, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "inbox_samples")
    parser.add_argument("--no-verify", action="store_true", help="write without comparing check results")
    args = parser.parse_args(argv)
    out_dir: Path = args.out
    if out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True)
    results: dict[str, tuple[int, list[str]]] = {}
    problems = []
    for sample in SAMPLES:
        path = write_sample(sample, out_dir)
        status, codes = check_result(path)
        results[sample.name] = (status, codes)
        print(f"{sample.name}: exit {status} {' '.join(codes)}")
        if not args.no_verify and (status, tuple(codes)) != (sample.exit_code, sample.codes):
            problems.append(f"{sample.name}: expected exit {sample.exit_code} {sample.codes}, got {status} {codes}")
    write_units(out_dir)
    write_readme(out_dir, results)
    write_package_marker(out_dir)
    for problem in problems:
        print("MISMATCH", problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
