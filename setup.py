"""Which packages the wheel holds; everything else about the build is declared in pyproject.toml.

The code packages are found. The template folders (templates/mail, templates/print, templates/web,
and inbox_samples/) are subpackages of the layer that loads them, mapped onto the design's top-level
folders by pyproject's package-dir; a search does not find a mapped package, so they are added here,
with the subfolders of each (templates/web/static, help/, admin/ …) that are valid package names.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from setuptools import find_namespace_packages, find_packages, setup

ROOT = Path(__file__).resolve().parent
CODE = ("validation", "ledger", "workflow", "intake", "outbox", "documents", "portal", "chanquan")


def packages() -> list[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    mapped: dict[str, str] = config["tool"]["setuptools"]["package-dir"]
    found = find_packages(where=str(ROOT), include=[f"{name}*" for name in CODE])
    for package, folder in mapped.items():
        found.append(package)
        subfolders = find_namespace_packages(where=str(ROOT / folder), exclude=["*__pycache__*"])
        found += [f"{package}.{sub}" for sub in subfolders if all(part.isidentifier() for part in sub.split("."))]
    return sorted(found)


if __name__ == "__main__":
    setup(packages=packages())
