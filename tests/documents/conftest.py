"""Shared fixtures: one signing identity and signer per module, PDF inspection helpers."""

from __future__ import annotations

from pathlib import Path

import pytest
from pdf_support import AUTHORITY

from documents import DocumentSigner, TemplateCatalog, create_signing_identity, identity_files


@pytest.fixture(scope="module")
def keys_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("keys")
    assert create_signing_identity(path, AUTHORITY)
    return path


@pytest.fixture(scope="module")
def signer(keys_dir: Path) -> DocumentSigner:
    return DocumentSigner(identity_files(keys_dir), AUTHORITY)


@pytest.fixture(scope="module")
def catalog() -> TemplateCatalog:
    return TemplateCatalog()
