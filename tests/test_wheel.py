"""An installed wheel carries its templates and samples and works away from the checkout.

The mail, print and web templates and the demo's samples are package data (pyproject.toml maps
`outbox.mail_templates`, `documents.print_templates`, `portal.web_templates` and
`chanquan.inbox_samples` onto templates/… and inbox_samples/). The slow test builds the wheel
from a copy of the sources, installs it into a fresh virtualenv in a temporary folder (its
dependencies come from this interpreter's site-packages through a .pth file; the checkout is
never on its path), and from a working directory outside the checkout runs `chanquan init`,
`template`, `check` and the whole demo, which files bundles, issues signed PDFs and delivers
mail; then `verify-pdf` checks one of the PDFs.
"""

from __future__ import annotations

import ast
import email
import importlib.metadata
import os
import re
import runpy
import shutil
import subprocess
import sys
import sysconfig
import tomllib
import venv
import zipfile
from email import policy
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
SETUPTOOLS = PYPROJECT["tool"]["setuptools"]
DATA_SUFFIXES = (".j2", ".toml", ".css", ".js", ".zip", ".xlsx", ".csv", ".md", ".pdf", ".jpg")


def _packages() -> list[str]:
    """The packages setup.py gives the build (found code packages, mapped template folders)."""
    return list(runpy.run_path(str(ROOT / "setup.py"), run_name="chanquan_setup")["packages"]())


def _package_dirs() -> dict[str, Path]:
    """Every package of the wheel and the folder it is built from (package-dir, else below its parent)."""
    mapped = SETUPTOOLS.get("package-dir", {})
    out: dict[str, Path] = {}
    for package in sorted(_packages(), key=lambda p: p.count(".")):
        parent, _, child = package.rpartition(".")
        if package in mapped:
            out[package] = ROOT / mapped[package]
        elif parent in out:
            out[package] = out[parent] / child
        else:
            out[package] = ROOT / package.replace(".", "/")
    return out


def test_every_package_and_template_folder_goes_into_the_wheel() -> None:
    dirs = _package_dirs()
    for package, folder in dirs.items():
        assert folder.is_dir(), f"{package} -> {folder}"
    wanted = {folder.resolve() for folder in dirs.values()}
    code = {p for p in dirs if "." not in p}
    for name in sorted(code):
        for init in (ROOT / name).rglob("__init__.py"):
            assert init.parent.resolve() in wanted, f"{init.parent.relative_to(ROOT)} would be left out"
    for package, folder in SETUPTOOLS["package-dir"].items():
        assert package in dirs and (ROOT / folder / "__init__.py").is_file(), package
        for sub in (ROOT / folder).rglob("*"):
            if sub.is_dir() and sub.name.isidentifier() and sub.name != "__pycache__":
                assert sub.resolve() in wanted, f"{sub.relative_to(ROOT)} would be left out"


def _copy_sources(dest: Path) -> None:
    """What the build needs, without caches or a stale build/ folder."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "build", "*.egg-info")
    for name in ("pyproject.toml", "setup.py", "README.md"):
        shutil.copy2(ROOT / name, dest / name)
    tops = {folder.relative_to(ROOT).parts[0] for folder in _package_dirs().values()}
    for top in sorted(tops):
        shutil.copytree(ROOT / top, dest / top, ignore=ignore)


def _build_isolation_flag() -> list[str]:
    """Build with this interpreter's setuptools when it is recent enough (offline, faster); else isolated."""
    needed = next(r for r in PYPROJECT["build-system"]["requires"] if r.startswith("setuptools"))
    minimum = re.search(r">=\s*([\d.]+)", needed)
    try:
        have = importlib.metadata.version("setuptools")
    except importlib.metadata.PackageNotFoundError:
        return []
    numbers = [int(x) for x in re.findall(r"\d+", have)[:2]]
    wanted = [int(x) for x in re.findall(r"\d+", minimum[1] if minimum else "0")[:2]]
    return ["--no-build-isolation"] if numbers >= wanted else []


def _fresh_env(base: Path) -> Path:
    """A virtualenv whose own site-packages is empty; this interpreter's site-packages come after it."""
    env = base / "env"
    venv.create(env, with_pip=False, system_site_packages=False, symlinks=True)
    python = env / "bin" / "python"
    site = subprocess.run(
        [str(python), "-I", "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    ours = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    Path(site, "_chanquan_test_dependencies.pth").write_text("\n".join(sorted(ours)) + "\n", encoding="utf-8")
    return env


def _environ(env: Path) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV", "CHANQUAN"))}
    return {**clean, "PATH": f"{env / 'bin'}{os.pathsep}{clean.get('PATH', '')}", "VIRTUAL_ENV": str(env)}


def _run(env: Path, cwd: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(env / "bin" / "chanquan"), *args],
        cwd=cwd,
        env=_environ(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_the_installed_wheel_works_outside_the_checkout(tmp_path: Path) -> None:
    src, wheels, work = tmp_path / "src", tmp_path / "wheels", tmp_path / "work"
    for folder in (src, wheels, work):
        folder.mkdir()
    assert not work.resolve().is_relative_to(ROOT)
    _copy_sources(src)
    wheel = _build_wheel(src, wheels)
    env = _fresh_env(tmp_path)
    _install(env, wheel)
    samples = _check_isolation(env, work)
    _check_commands(env, work, samples)
    _check_demo(env, work)


def _build_wheel(src: Path, wheels: Path) -> Path:
    """The wheel built from the copied sources, holding every data file of every package."""
    pip = [sys.executable, "-m", "pip"]
    built = subprocess.run(
        [*pip, "wheel", str(src), "--no-deps", "-w", str(wheels), "-q", *_build_isolation_flag()],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert built.returncode == 0, built.stdout + built.stderr
    (wheel,) = wheels.glob("chanquan-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for package, folder in _package_dirs().items():
        for path in folder.rglob("*"):
            if path.is_file() and path.suffix in DATA_SUFFIXES:
                inside = f"{package.replace('.', '/')}/{path.relative_to(folder).as_posix()}"
                assert inside in names, f"{path.relative_to(ROOT)} is not in the wheel"
    assert "portal/web_templates/static/verify_proof.py" in names  # served at /static/ for offline checks
    return wheel


def _install(env: Path, wheel: Path) -> None:
    pip = [sys.executable, "-m", "pip", "--python", str(env / "bin" / "python")]
    installed = subprocess.run(
        [*pip, "install", "--no-deps", "--no-index", "--ignore-installed", "-q", str(wheel)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert installed.returncode == 0, installed.stdout + installed.stderr


def _check_isolation(env: Path, work: Path) -> Path:
    """Isolated mode, cwd outside the checkout: every package and resource comes from the new env.
    Returns where the installed inbox samples are."""
    where = subprocess.run(
        [
            str(env / "bin" / "python"),
            "-I",
            "-c",
            "import sys, chanquan, documents, outbox, portal, importlib.resources as r\n"
            "print(sys.path)\n"
            "for m in (chanquan, documents, outbox, portal): print(m.__file__)\n"
            "for p in ('outbox.mail_templates', 'documents.print_templates', 'portal.web_templates',"
            " 'chanquan.inbox_samples'): print(r.files(p))",
        ],
        cwd=work,
        env=_environ(env),
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    dependencies = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    for entry in ast.literal_eval(where[0]):
        inside = Path(entry).resolve().is_relative_to(ROOT)
        assert entry in dependencies or not inside, f"{entry} puts the checkout on the path"
    for line in where[1:]:
        assert line.startswith(str(env)), line
    return Path(where[-1])


def _check_commands(env: Path, work: Path, samples: Path) -> None:
    data = work / "data"
    done = _run(env, work, "--data", str(data), "init")
    assert done.returncode == 0, done.stdout + done.stderr
    done = _run(env, work, "template", "--out", str(work / "模板.xlsx"))
    assert done.returncode == 0 and (work / "模板.xlsx").stat().st_size > 0, done.stderr
    done = _run(env, work, "check", str(work / "模板.xlsx"))
    assert done.returncode == 1 and "required-missing" in done.stdout + done.stderr  # a blank form lacks data
    done = _run(env, work, "check", str(samples / "01-一级企业-占有登记.zip"))
    assert done.returncode == 0, done.stdout + done.stderr
    done = _run(env, work, "--data", str(data), "print", "--templates")
    assert done.returncode == 0 and "横版" in done.stdout and "简洁" in done.stdout


def _check_demo(env: Path, work: Path) -> None:
    """The demo: drop folder and SMTP filings, reviews by mail, signed PDFs issued and mailed."""
    demo = work / "demo-data"
    done = _run(env, work, "demo", "--dir", str(demo), timeout=240)
    assert done.returncode == 0, done.stdout + done.stderr
    pdf = sorted((demo / "pdfs").glob("*.pdf"))[0]
    done = _run(env, work, "--data", str(demo), "verify-pdf", str(pdf))
    assert done.returncode == 0 and "结论：文件真实有效。" in done.stdout, done.stdout + done.stderr
    mails = [
        email.message_from_bytes(p.read_bytes(), policy=policy.default) for p in (demo / "maildir" / "new").iterdir()
    ]
    approved = [m for m in mails if m["X-Chanquan-Purpose"] == "approved"]
    assert approved, [m["X-Chanquan-Purpose"] for m in mails]
    attached = [part.get_filename() for part in approved[0].iter_attachments()]
    assert any(str(name).endswith(".pdf") for name in attached), attached
