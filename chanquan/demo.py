"""The demo: the whole story of a filing campaign, played on a fresh data directory.

Everything goes through the same doors a real user uses: the drop folder, an
authenticated SMTP session (after the mandatory password change), reviewers'
unauthenticated replies to their review+TOKEN address, the local Maildir the outbox
delivers into, and the CLI's verify commands. The steps are an explicit ordered list,
so the e2e test can assert exactly what each one leaves behind; what they share and the
service they run on are chanquan/demo_stage.py's.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from pathlib import Path

from chanquan.client import build_filing_message, build_password_change, send_message
from chanquan.demo_stage import (
    DEMO_MARKER,
    SAMPLES,
    Demo,
    DemoError,
    drop,
    free_port,
    outbox_settled,
    quiet,
)
from documents.events import DocumentIssued
from outbox.events import MailSent
from workflow.events import AccountPasswordChanged, FilingInvalid, FilingReceived, FilingReturned

FIRST_LEVEL = "202600012"  # 重庆渝发集团有限公司
SUBSIDIARY = "202600020"  # 重庆渝发建设工程有限公司
MINORITY = "202600039"  # 重庆两江数据服务有限公司（参股，由渝发集团填报）
SUBSIDIARY_NEW_PASSWORD = "Yufa-Jianshe-2026"


# -- the steps ---------------------------------------------------------------------------------------


def step_prepare(demo: Demo) -> None:
    from chanquan.cli import main as cli

    demo.smtp_port = free_port()
    demo.web_port = free_port()
    demo.data_dir.mkdir(parents=True, exist_ok=True)
    (demo.data_dir / DEMO_MARKER).write_text("chanquan demo data directory; `chanquan demo` may wipe it.\n")
    from chanquan.config import render_default_toml

    demo.witness_dir.mkdir(parents=True, exist_ok=True)
    (demo.witness_dir / DEMO_MARKER).write_text("chanquan demo witness folder; `chanquan demo` may wipe it.\n")
    config = render_default_toml(
        {"ledger.witness_dir": str(demo.witness_dir), "web.port": demo.web_port, "web.public_url": demo.web_url}
    )
    config = config.replace("smtp_port = 8025", f"smtp_port = {demo.smtp_port}")
    config = config.replace("settle_seconds = 2.0", "settle_seconds = 0.5")
    config = config.replace("rescan_seconds = 30.0", "rescan_seconds = 2.0")
    (demo.data_dir / "chanquan.toml").write_text(config, encoding="utf-8")
    quiet(cli, ["--data", str(demo.data_dir), "init"])
    quiet(cli, ["--data", str(demo.data_dir), "units", "import", str(SAMPLES / "units.csv")])
    demo.say(
        "建立数据目录和单位树",
        f"数据目录：{demo.data_dir}",
        f"见证副本（每个签名检查点都追加到数据目录之外）：{demo.witness_dir}",
        "市国资委 → 渝发集团、山城能源（一级企业）→ 子企业、境外企业、参股企业（inbox_samples/units.csv）",
    )


def step_start_service(demo: Demo) -> None:
    """The service as `chanquan serve` runs it: one workflow and issuer for outbox, intake and portal."""
    from chanquan.app import open_document_issuer, open_intake, open_outbox, open_portal, open_workflow
    from chanquan.config import load_settings
    from chanquan.web import PortalServer

    settings = load_settings(demo.data_dir)
    demo.workflow = open_workflow(demo.data_dir, settings)
    demo.issuer = open_document_issuer(demo.data_dir, settings, demo.workflow)
    demo.outbox = open_outbox(demo.data_dir, settings, demo.workflow, issuer=demo.issuer)
    demo.intake = open_intake(demo.data_dir, settings, demo.workflow, smtp_port=demo.smtp_port)
    demo.intake.start(extra_workers=[("outbox-sender", demo.outbox.run)])
    demo.web = PortalServer("127.0.0.1", demo.web_port)
    demo.web.start(open_portal(demo.data_dir, settings, demo.workflow, intake=demo.intake, issuer=demo.issuer))
    demo.say(
        "启动服务",
        f"SMTP 收件：127.0.0.1:{demo.smtp_port}；投递目录：{demo.dropbox}；发件：本地 Maildir",
        f"网页门户：{demo.web_url}/",
    )


def step_drop_first_level(demo: Demo) -> None:
    before = demo.workflow.ledger.size()
    target = demo.dropbox / FIRST_LEVEL
    target.mkdir(parents=True, exist_ok=True)
    drop(SAMPLES / "01-一级企业-占有登记.zip", target)
    drop(SAMPLES / "08-错误-股权比例合计不等于100.zip", target)
    filing = demo.wait_for("drop", "the first-level filing", lambda: demo.filing_for_unit(FIRST_LEVEL, before))
    demo.filings["first_level"] = filing
    demo.wait_for("drop", "the invalid filing", lambda: demo.bodies(FilingInvalid))
    demo.say(
        "渝发集团把两个报送包放进投递目录",
        f"01-一级企业-占有登记.zip → 受理，编号 {filing}，送市国资委审核",
        f"08-错误-股权比例合计不等于100.zip → 审核不通过，回执和标注错误的工作簿写入 {target / '回执'}",
    )


def step_mail_subsidiary(demo: Demo) -> None:
    code = SUBSIDIARY
    sender = "filer@yfjs.example.cn"
    to = "filing@chanquan.localhost"
    from chanquan.client import SendError

    try:
        send_message(demo.server, build_filing_message(sender, to, [SAMPLES / "02-子企业-变动登记.zip"]), code, code)
        raise DemoError("mail", "the server accepted a filing before the initial password was changed")
    except SendError as refused:
        first_answer = f"{refused.code} {refused.text}"
    send_message(demo.server, build_password_change(sender, to, SUBSIDIARY_NEW_PASSWORD), code, code)
    demo.wait_for(
        "mail",
        "the password change",
        lambda: any(e.username == code for e in demo.bodies(AccountPasswordChanged)),
    )
    before = demo.workflow.ledger.size()
    result = send_message(
        demo.server,
        build_filing_message(sender, to, [SAMPLES / "02-子企业-变动登记.zip"]),
        code,
        SUBSIDIARY_NEW_PASSWORD,
    )
    filing = demo.wait_for("mail", "the subsidiary's filing", lambda: demo.filing_for_unit(SUBSIDIARY, before))
    demo.filings["subsidiary"] = filing
    demo.say(
        "渝发建设用邮件报送（SMTP AUTH，用户名为组织机构代码）",
        f"用初始密码报送被拒：{first_answer}",
        "发送“修改密码”邮件后，用新密码报送 02-子企业-变动登记.zip",
        f"服务器答复：{result.code} {result.text}；编号 {filing}，送渝发集团审核",
    )


def step_return_and_resubmit(demo: Demo) -> None:
    filing = demo.filings["subsidiary"]
    opinion = "请在备注中说明本次注册资本变动的批准情况。"
    demo.reply_as_reviewer("return", filing, "review@yufa.example.cn", f"退回：{opinion}")
    demo.wait_for(
        "return",
        "the return",
        lambda: any(e.filing_id == filing for e in demo.bodies(FilingReturned)),
    )
    corrected = _corrected_bundle(SAMPLES / "02-子企业-变动登记.zip", demo.data_dir / "work")
    rounds_before = len([e for e in demo.bodies(FilingReceived) if e.filing_id == filing])
    send_message(
        demo.server,
        build_filing_message("filer@yfjs.example.cn", "filing@chanquan.localhost", [corrected]),
        SUBSIDIARY,
        SUBSIDIARY_NEW_PASSWORD,
    )
    demo.wait_for(
        "return",
        "the resubmission",
        lambda: len([e for e in demo.bodies(FilingReceived) if e.filing_id == filing]) > rounds_before,
    )
    demo.say(
        "渝发集团审核人回复“退回”并写明意见，渝发建设修改后重新报送",
        f"意见：{opinion}",
        f"{filing} 进入第 2 轮，重新从渝发集团开始审核",
    )


def step_approve_all(demo: Demo) -> None:
    sub = demo.filings["subsidiary"]
    demo.reply_as_reviewer("approve", sub, "review@yufa.example.cn", "通过。\n已核对批准文件，同意上报。")
    demo.wait_decided("approve", sub, 2)
    demo.reply_as_reviewer("approve", sub, "review@sasac.example.cn", "同意\n准予登记。")
    first = demo.filings["first_level"]
    demo.reply_as_reviewer("approve", first, "review@sasac.example.cn", "通过")
    demo.say(
        "审核人逐级回复“通过”",
        f"{sub}：渝发集团 通过 → 市国资委 通过",
        f"{first}：市国资委 通过",
    )


def step_minority_holding(demo: Demo) -> None:
    before = demo.workflow.ledger.size()
    drop(SAMPLES / "03-参股企业-出资人填报.zip", demo.dropbox / FIRST_LEVEL)
    filing = demo.wait_for("minority", "the 参股 filing", lambda: demo.filing_for_unit(MINORITY, before))
    demo.filings["minority"] = filing
    demo.reply_as_reviewer("minority", filing, "review@sasac.example.cn", "通过")
    demo.say("参股企业两江数据由出资企业渝发集团代为填报", f"{filing}：市国资委 通过")


def step_documents(demo: Demo) -> None:
    wanted = {demo.filings["subsidiary"], demo.filings["first_level"], demo.filings["minority"]}

    def issued() -> list[DocumentIssued]:
        found = [e for e in demo.bodies(DocumentIssued) if e.filing_id in wanted]
        return found if {e.filing_id for e in found} == wanted else []

    documents = demo.wait_for("documents", "the signed documents", issued)
    out_dir = demo.data_dir / "pdfs"
    out_dir.mkdir(exist_ok=True)
    lines = []
    for document in documents:
        path = out_dir / f"{document.filing_id}-{document.doc_type}.pdf"
        path.write_bytes(demo.workflow.ledger.blobs.get(document.pdf_blob))
        demo.pdfs.append(path)
        lines.append(f"{document.doc_type} {document.cert_no}（{document.unit}）→ {path}")
    demo.wait_for("documents", "the approval mails with the PDFs", lambda: _approval_mails(demo) >= len(wanted))
    demo.wait_for("documents", "the outbox to settle", lambda: outbox_settled(demo))
    demo.say("市国资委批准后自动签发带数字签名的 PDF，随邮件发给填报单位，并写入回执目录", *lines)


def step_verify(demo: Demo) -> None:
    from chanquan.cli import main as cli

    results = []
    for pdf in demo.pdfs:
        code, _out = quiet(cli, ["--data", str(demo.data_dir), "verify-pdf", str(pdf)])
        if code != 0:
            raise DemoError("verify", f"verify-pdf {pdf} exited {code}: {_out}")
        results.append(f"chanquan verify-pdf {pdf.name}：签名有效，与账本签发记录一致")
    code, out = quiet(cli, ["--data", str(demo.data_dir), "ledger", "verify"])
    if code != 0:
        raise DemoError("verify", f"ledger verify exited {code}: {out}")
    results.append(f"chanquan ledger verify：{demo.workflow.ledger.size()} 条事件，哈希树与签名检查点一致")
    demo.say("核验", *results)


def _approval_mails(demo: Demo) -> int:
    return len({e.filing_id for e in demo.bodies(MailSent) if e.purpose == "approved"})


STEPS: tuple[tuple[str, Callable[[Demo], None]], ...] = (
    ("准备数据目录和单位树", step_prepare),
    ("启动服务", step_start_service),
    ("投递目录报送", step_drop_first_level),
    ("邮件报送", step_mail_subsidiary),
    ("退回与重新报送", step_return_and_resubmit),
    ("逐级审核通过", step_approve_all),
    ("参股企业由出资人填报", step_minority_holding),
    ("签发 PDF", step_documents),
    ("核验签名和账本", step_verify),
)


def _corrected_bundle(original: Path, work: Path) -> Path:
    """The filer's corrected bundle: the same files, with the remark the reviewer asked for."""
    from openpyxl import load_workbook

    work.mkdir(parents=True, exist_ok=True)
    out = work / original.name
    with zipfile.ZipFile(original) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            data = source.read(info)
            if info.filename.lower().endswith(".xlsx"):
                book = load_workbook(io.BytesIO(data))
                sheet_name, cell = next(iter(book.defined_names["remarks"].destinations))
                book[sheet_name][cell.replace("$", "")] = "注册资本变动已经渝发集团董事会批准（渝发董〔2026〕12号）。"
                buffer = io.BytesIO()
                book.save(buffer)
                data = buffer.getvalue()
            target.writestr(info, data)
    return out
