"""首页 and a filing's page: what waits, what came back, what was filed, and a filing's whole story."""

from __future__ import annotations

import datetime as dt
import re

from portal_helpers import (
    GROUP,
    OTHER,
    OTHER_GROUP,
    PASSWORD,
    SASAC,
    SECOND,
    THIRD,
    Site,
    decide,
    file,
)
from support import registrations as reg
from support.registrations import org_code

from validation.spec import required_doc_kinds
from workflow import ReviewDecision


def section(html: str, anchor: str) -> str:
    """The text of one home-page list (from its heading to the next one)."""
    start = html.index(f'id="{anchor}"')
    following = re.search(r'<h[23] id="|<section', html[start + 10 :])
    end = start + 10 + following.start() if following else len(html)
    return html[start:end]


def test_home_shows_the_unit_its_level_and_the_common_functions(site: Site) -> None:
    html = site.browser(SECOND).get("/").text
    assert "重庆测试二级公司" in html and "二级企业" in html
    assert 'href="/template.xlsx"' in html
    assert "常用功能" in html and "代办事项" in html
    # no web submission yet: the page says how to file instead of linking to a missing page
    assert 'href="/submit"' not in html
    assert "请通过邮件" in html


def test_waiting_for_review_oldest_first_with_days_waited(site: Site) -> None:
    first = file(site.wf).filing_id
    site.clock.advance(days=1)
    second = file(site.wf, OTHER, "重庆另一子公司", 2, OTHER_GROUP).filing_id  # not SECOND's
    sibling = org_code("50090000")
    site.wf.units.add(sibling, "重庆测试三级乙公司", parent=SECOND)
    later = file(site.wf, sibling, "重庆测试三级乙公司", 3, SECOND).filing_id
    site.clock.advance(days=3, hours=1)  # the page's clock started a moment before the events
    waiting = section(site.browser(SECOND).get("/").text, "waiting")
    assert waiting.index(first) < waiting.index(later)
    assert second not in waiting
    assert ">2</span>" in waiting  # the count
    # requested at the real time of the events; the page's clock is 4 days and an hour later
    assert re.findall(r"(\d+) 天", waiting) == ["4", "4"]


def test_returned_with_the_opinion_and_my_filings(site: Site) -> None:
    fid = file(site.wf).filing_id
    decide(site.wf, fid, ReviewDecision.RETURN, "请补充经济行为批准文件")
    html = site.browser(THIRD).get("/").text
    returned = section(html, "returned")
    assert fid in returned and "请补充经济行为批准文件" in returned and "重庆测试二级公司" in returned
    mine = section(html, "mine")
    assert fid in mine and "已退回" in mine
    # the reviewer sees what it decided, and nothing waits for it any more
    reviewer = site.browser(SECOND).get("/").text
    assert fid not in section(reviewer, "waiting")
    assert fid in section(reviewer, "reviewed") and "退回" in section(reviewer, "reviewed")


def test_my_filings_show_the_current_step(site: Site) -> None:
    fid = file(site.wf).filing_id
    decide(site.wf, fid, ReviewDecision.APPROVE, "同意")
    mine = section(site.browser(THIRD).get("/").text, "mine")
    assert "审核中" in mine and "第 2 级：重庆测试集团有限公司" in mine


def test_sasac_sees_counts_per_first_level_group(site: Site) -> None:
    in_review = file(site.wf).filing_id
    returned = file(site.wf, OTHER, "重庆另一子公司", 2, OTHER_GROUP).filing_id
    decide(site.wf, returned, ReviewDecision.RETURN, "退回重填")
    html = site.browser(SASAC).get("/").text
    groups = html[html.index('id="groups"') :]
    rows = {m.group(1): m.group(2) for m in re.finditer(r"<tr>\s*<td>([^<]+)</td>(.*?)</tr>", groups, re.S)}
    numbers = {name: re.findall(r"<td>(\d+)</td>", cells) for name, cells in rows.items()}
    # columns: 审核中, 已退回, 校验未通过, 已通过, 已出证, 已撤回, 合计
    assert numbers["重庆测试集团有限公司"] == ["1", "0", "0", "0", "0", "0", "1"]
    assert numbers["重庆另一集团有限公司"] == ["0", "1", "0", "0", "0", "0", "1"]
    assert in_review not in groups
    # after another event the counts follow (they are remembered only until the ledger grows)
    decide(site.wf, in_review, ReviewDecision.RETURN, "再退回")
    html = site.browser(SASAC).get("/").text
    assert re.search(r"重庆测试集团有限公司</td>\s*<td>0</td>\s*<td>1</td>", html)


def test_a_first_level_enterprise_sees_its_trees_status(site: Site) -> None:
    file(site.wf)
    html = site.browser(GROUP).get("/").text
    subtree = html[html.index('id="subtree"') :]
    assert re.findall(r"<td>(\d+)</td>", subtree)[:2] == ["1", "0"]
    assert 'id="subtree"' not in site.browser(SECOND).get("/").text
    assert 'id="groups"' not in html


def test_filing_page_tells_the_whole_story(site: Site) -> None:
    fid = file(site.wf).filing_id
    decide(site.wf, fid, ReviewDecision.APPROVE, "同意上报")
    html = site.browser(THIRD).get(f"/filings/{fid}").text
    assert "审核中" in html
    step = html[html.index('id="current-step"') :].split("</td>")[0]
    assert "第 2 级审核：重庆测试集团有限公司" in step and "sh@group.example.cn" in step
    history = html[html.index('id="history"') :]
    assert "收到申报" in history and "同意上报" in history and "提交审核" in history
    assert "重庆测试三级公司" in html and "9150000050030000" in html  # registration data
    documents = html[html.index('id="documents"') :]
    assert "业务办理申请文件" in documents and "0.pdf" in documents
    assert "本单位没有此前通过的登记" in html
    downloads = html[html.index('id="downloads"') :]
    assert "登记表工作簿（第 1 轮）" in downloads


def test_required_documents_are_marked_from_the_catalogue(site: Site) -> None:
    """The filer's workbook may leave 是否必需 empty; the page marks it by the catalogue's rules for
    the registration's type, as the printed 登记表 does."""
    kinds = (*reg.DOCUMENT_KINDS, "审计报告")  # the last one not needed for this registration's type
    rows = [{"doc_kind": kind, "file_name": f"{i}.pdf"} for i, kind in enumerate(kinds)]
    fid = file(site.wf, documents=rows).filing_id
    html = site.browser(THIRD).get(f"/filings/{fid}").text
    documents = html[html.index('id="documents"') :].split("</table>")[0]
    values = reg.registration_values(THIRD, "重庆测试三级公司", 3, SECOND)
    needed = required_doc_kinds(values["reg_type"], values.get("reg_situation"))
    assert "审计报告" not in needed
    for kind in kinds:
        mark = "是" if kind in needed else "否"
        assert f"<td>{kind}</td><td>{mark}</td>" in documents, (kind, documents)


def test_an_invalid_filing_shows_its_findings_and_annotated_workbook(site: Site) -> None:
    rows = [{"doc_kind": "企业章程", "required": "是", "file_name": "0.pdf"}]  # no 业务办理申请文件
    outcome = file(site.wf, documents=rows)
    assert outcome.state == "invalid"
    html = site.browser(THIRD).get(f"/filings/{outcome.filing_id}").text
    assert "校验未通过" in html
    findings = html[html.index('id="findings"') :]
    assert "业务办理申请文件" in findings
    assert "校验批注工作簿（第 1 轮）" in html


def test_the_diff_against_the_last_approved_registration(site: Site) -> None:
    first = file(site.wf).filing_id
    for _ in range(3):  # SECOND, GROUP, SASAC
        decide(site.wf, first, ReviewDecision.APPROVE, "同意")
    approved = site.wf.filing(first)
    assert approved is not None and approved.state == "approved"
    second = file(site.wf, capital=1500, act_date=dt.date(2025, 9, 1)).filing_id
    client = site.browser(THIRD)
    changes = client.get(f"/filings/{second}").text
    changes = changes[changes.index('id="changes"') :]
    assert "注册资本" in changes and "1000" in changes and "1500" in changes
    # the approved filing itself has nothing earlier to compare with
    assert "本单位没有此前通过的登记" in client.get(f"/filings/{first}").text


def test_pages_follow_the_ledger_at_once(site: Site) -> None:
    """Page parts are kept between requests, but never past the next event."""
    fid = file(site.wf).filing_id
    filer, reviewer = site.browser(THIRD), site.browser(SECOND)
    assert fid in section(reviewer.get("/").text, "waiting")
    assert "审核中" in filer.get(f"/filings/{fid}").text
    assert fid not in section(filer.get("/").text, "returned")
    decide(site.wf, fid, ReviewDecision.RETURN, "请补充资料")
    assert fid not in section(reviewer.get("/").text, "waiting")
    assert fid in section(filer.get("/").text, "returned")
    page = filer.get(f"/filings/{fid}").text
    assert "请补充资料" in page and 'id="filing-state">已退回' in page


def test_days_waited_move_with_the_clock_without_an_event(site: Site) -> None:
    fid = file(site.wf).filing_id
    reviewer = site.browser(SECOND)
    assert re.findall(r"(\d+) 天", section(reviewer.get("/").text, "waiting")) == ["0"]
    assert "已等待 0 天" in reviewer.get(f"/filings/{fid}").text
    site.clock.advance(days=2, hours=1)
    reviewer = site.login(SECOND, PASSWORD)  # (the first session has long expired)
    assert re.findall(r"(\d+) 天", section(reviewer.get("/").text, "waiting")) == ["2"]
    assert "已等待 2 天" in reviewer.get(f"/filings/{fid}").text


def test_a_filing_pages_rows_keep_their_markup(site: Site) -> None:
    """The lists of a filing's page come as remembered rows; each keeps the markup (and classes) the
    page had when the template wrote them in place."""
    rows = [{"doc_kind": "企业章程", "required": "是", "file_name": "章程<1>.pdf"}]  # no 业务办理申请文件
    fid = file(site.wf, documents=rows).filing_id
    html = re.sub(r">\s+<", "><", site.browser(THIRD).get(f"/filings/{fid}").text)
    assert re.search(
        r'<tr class="sev-error"><td>[^<]+</td><td>[A-Z]+\d+</td><td>[^<]+</td>'
        r'<td><a class="finding-code" href="/help/findings#code-[a-z-]+">[a-z-]+</a></td></tr>',
        html,
    )
    assert re.search(
        rf'<li class="file-annotated"><a href="/filings/{fid}/files/[0-9a-f]{{64}}">校验批注工作簿（第 1 轮）</a>'
        r'<span class="muted">[^<]+</span></li>',
        html,
    )
    assert '<tr class="kind-filing-invalid"><td class="when">' in html
    assert '<tr><td>企业章程</td><td>是</td><td class="file-name">章程&lt;1&gt;.pdf</td><td></td></tr>' in html
    assert re.search(r"<tr><th>企业名称</th><td>重庆测试三级公司</td></tr>", html)
    assert re.search(r"<tr><td>[^<]+</td><td>[0-9A-Z]+</td><td>[^<]+</td><td>1000</td>", html)  # the investor
