"""Shared fixtures of the validation tests (A2's bundle/hostile/sample tests may use them too)."""

from __future__ import annotations

import pytest
from wb_factory import blank_template, check, good_attachments, make_workbook

from validation.check import CheckResult


@pytest.fixture(scope="session")
def template_xlsx() -> bytes:
    """The blank standard workbook as bytes."""
    return blank_template()


@pytest.fixture(scope="session")
def good_xlsx() -> bytes:
    """A complete, valid 占有产权登记 workbook (attachments: `good_attachments()`)."""
    return make_workbook()


@pytest.fixture(scope="session")
def good_result(good_xlsx: bytes) -> CheckResult:
    return check(good_xlsx)


@pytest.fixture
def attachments() -> dict[str, bytes]:
    return good_attachments()
