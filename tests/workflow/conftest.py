from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from helpers import SASAC, Tree, open_workflow

from workflow import Workflow


@pytest.fixture
def wf(tmp_path: Path) -> Iterator[Workflow]:
    with open_workflow(tmp_path) as workflow:
        yield workflow


@pytest.fixture
def tree(wf: Workflow) -> Tree:
    t = Tree()
    wf.units.ensure_root()
    wf.units.set_contacts(SASAC, reviewer_emails=["chu@sasac.gov.cn"])
    wf.units.add(t.g, "重庆测试集团", filer_emails=["tb@g.cn"], reviewer_emails=["sh@g.cn"])
    wf.units.add(t.a, "测试二级公司", parent=t.g, reviewer_emails=["sh@a.cn"])
    wf.units.add(t.b, "测试三级公司", parent=t.a, reviewer_emails=["sh@b.cn", "fu@b.cn"])
    wf.units.add(t.c, "测试四级公司", parent=t.b, filer_emails=["tb@c.cn"])
    wf.units.add(t.d, "测试共享中心", parent=t.g, reviewer_emails=["sh@d.cn"])
    wf.units.add(t.p, "测试参股公司", parent=t.a, holding="国有参股")
    return t
