"""The demo: the whole story of a filing campaign, played on a fresh data directory.

Everything goes through the same doors a real user uses: the drop folder, an
authenticated SMTP session (after the mandatory password change), reviewers'
unauthenticated replies to their review+TOKEN address, the local Maildir the outbox
delivers into, and the CLI's verify commands. The steps are an explicit ordered list,
so the e2e test can assert exactly what each one leaves behind.
"""

from __future__ import annotations

import io
import mailbox
import re
import shutil
import socket
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import getaddresses
from importlib.util import find_spec
from pathlib import Path
from typing import Any, TypeVar

from chanquan.client import Server, build_filing_message, build_password_change, build_reply, send_message
from documents.events import DocumentIssued
from ledger import EventBody
from outbox.events import OUTCOME_KINDS, MailSent
from workflow.events import AccountPasswordChanged, FilingInvalid, FilingReceived, FilingReturned, ReviewDecided

BodyT = TypeVar("BodyT", bound=EventBody)


def samples_dir() -> Path:
    """inbox_samples/, installed as the package data `chanquan.inbox_samples` (pyproject.toml's package-dir).

    So the demo runs the same from an installed wheel as from a checkout. Found by its spec, not imported:
    importing would leave a __pycache__ among the samples a newcomer browses.
    """
    spec = find_spec("chanquan.inbox_samples")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("chanquan.inbox_samples is not installed", name="chanquan.inbox_samples")
    return Path(next(iter(spec.submodule_search_locations)))


SAMPLES = samples_dir()
DEMO_MARKER = ".chanquan-demo"
WAIT_SECONDS = 90.0

FIRST_LEVEL = "202600012"  # 重庆渝发集团有限公司
SUBSIDIARY = "202600020"  # 重庆渝发建设工程有限公司
MINORITY = "202600039"  # 重庆两江数据服务有限公司（参股，由渝发集团填报）
SUBSIDIARY_NEW_PASSWORD = "Yufa-Jianshe-2026"


class DemoError(Exception):
    """A step of the demo did not see what it waited for; `step` names it."""

    def __init__(self, step: str, problem: str) -> None:
        super().__init__(f"{step}: {problem}")
        self.step = step
        self.problem = problem


@dataclass
class StoryLine:
    title: str
    details: list[str] = field(default_factory=list)


@dataclass
class Demo:
    """State shared by the steps; `story` is what the user reads at the end."""

    data_dir: Path
    smtp_port: int = 0
    web_port: int = 0
    story: list[StoryLine] = field(default_factory=list)
    filings: dict[str, str] = field(default_factory=dict)  # role -> filing id
    pdfs: list[Path] = field(default_factory=list)
    used_tokens: set[str] = field(default_factory=set)
    workflow: Any = None
    intake: Any = None
    outbox: Any = None
    issuer: Any = None
    web: Any = None  # chanquan.web.PortalServer
    stop: threading.Event = field(default_factory=threading.Event)
    _log_stream: Any = None

    # -- helpers -----------------------------------------------------------------------------

    @property
    def server(self) -> Server:
        return Server("127.0.0.1", self.smtp_port)

    @property
    def dropbox(self) -> Path:
        return self.data_dir / "dropbox"

    @property
    def web_url(self) -> str:
        """The portal's address (also `web.public_url`, so the QR codes on the demo's PDFs lead to it)."""
        return f"http://127.0.0.1:{self.web_port}"

    @property
    def witness_dir(self) -> Path:
        """The witness copy of the checkpoints, outside the data directory as a real one would be."""
        return witness_dir_for(self.data_dir)

    @property
    def maildir(self) -> Path:
        return self.data_dir / "maildir"

    def start_log(self) -> Path:
        """The service's structured log goes to a file so that the console shows the story only."""
        from chanquan.logs import configure_logging

        self.data_dir.mkdir(parents=True, exist_ok=True)
        path = self.data_dir / "demo.log"
        self._log_stream = path.open("a", encoding="utf-8")
        configure_logging("INFO", self._log_stream)
        return path

    def say(self, title: str, *details: str) -> None:
        self.story.append(StoryLine(title, list(details)))

    def bodies(self, cls: type[BodyT], after_seq: int = 0) -> list[BodyT]:
        """The typed bodies of every event of one kind, in ledger order."""
        return [e.body_as(cls) for e in self.workflow.ledger.events(after_seq=after_seq, kind=cls.kind)]

    def wait_for(self, step: str, what: str, probe: Callable[[], Any], timeout: float = WAIT_SECONDS) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = probe()
            if found:
                return found
            time.sleep(0.1)
        raise DemoError(step, f"waited {timeout:.0f}s for {what}")

    def filing_for_unit(self, unit: str, after_seq: int = 0) -> str | None:
        for received in self.bodies(FilingReceived, after_seq):
            if received.unit == unit:
                return received.filing_id
        return None

    def mails(self) -> list[EmailMessage]:
        if not (self.maildir / "new").exists():
            return []
        box = mailbox.Maildir(self.maildir, factory=None, create=False)
        parsed = [message_from_bytes(box.get_bytes(key), policy=policy.default) for key in box.iterkeys()]
        return [mail for mail in parsed if isinstance(mail, EmailMessage)]

    def review_request(self, filing_id: str, reviewer: str) -> EmailMessage | None:
        for mail in self.mails():
            reply_to = str(mail.get("Reply-To", ""))
            to = [address.lower() for _name, address in getaddresses([str(mail.get("To", ""))])]
            match = re.search(r"review\+([^@\s>]+)@", reply_to)
            if (
                match
                and reviewer.lower() in to
                and f"[{filing_id}]" in str(mail["Subject"])
                and match.group(1) not in self.used_tokens
            ):
                return mail
        return None

    def reply_as_reviewer(self, step: str, filing_id: str, reviewer: str, body: str) -> None:
        request = self.wait_for(
            step, f"the review request for {filing_id} to {reviewer}", lambda: self.review_request(filing_id, reviewer)
        )
        reply_to = getaddresses([str(request["Reply-To"])])[0][1]
        token = reply_to.split("+", 1)[1].split("@", 1)[0]
        self.used_tokens.add(token)
        quoted = "\n".join(f"> {line}" for line in _text_of(request).splitlines()[:5])
        reply = build_reply(
            reviewer, reply_to, str(request["Subject"]), f"{body}\n\n{quoted}\n", in_reply_to=str(request["Message-ID"])
        )
        send_message(self.server, reply)

    def wait_decided(self, step: str, filing_id: str, count: int) -> None:
        def decided() -> bool:
            return sum(1 for e in self.bodies(ReviewDecided) if e.filing_id == filing_id) >= count

        self.wait_for(step, f"decision #{count} on {filing_id}", decided)


def _text_of(mail: EmailMessage) -> str:
    part = mail.get_body(preferencelist=("plain",))
    return part.get_content() if part is not None else ""


# -- the steps ---------------------------------------------------------------------------------------


def step_prepare(demo: Demo) -> None:
    from chanquan.cli import main as cli

    demo.smtp_port = _free_port()
    demo.web_port = _free_port()
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
    _quiet(cli, ["--data", str(demo.data_dir), "init"])
    _quiet(cli, ["--data", str(demo.data_dir), "units", "import", str(SAMPLES / "units.csv")])
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
    _drop(SAMPLES / "01-一级企业-占有登记.zip", target)
    _drop(SAMPLES / "08-错误-股权比例合计不等于100.zip", target)
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
    _drop(SAMPLES / "03-参股企业-出资人填报.zip", demo.dropbox / FIRST_LEVEL)
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
        code, _out = _quiet(cli, ["--data", str(demo.data_dir), "verify-pdf", str(pdf)])
        if code != 0:
            raise DemoError("verify", f"verify-pdf {pdf} exited {code}: {_out}")
        results.append(f"chanquan verify-pdf {pdf.name}：签名有效，与账本签发记录一致")
    code, out = _quiet(cli, ["--data", str(demo.data_dir), "ledger", "verify"])
    if code != 0:
        raise DemoError("verify", f"ledger verify exited {code}: {out}")
    results.append(f"chanquan ledger verify：{demo.workflow.ledger.size()} 条事件，哈希树与签名检查点一致")
    demo.say("核验", *results)


def _approval_mails(demo: Demo) -> int:
    return len({e.filing_id for e in demo.bodies(MailSent) if e.purpose == "approved"})


def outbox_settled(demo: Demo) -> bool:
    """Every event that calls for mail has been dispatched and nothing waits in the queue."""
    last_cause = max((e.seq for e in demo.workflow.ledger.events() if e.kind not in OUTCOME_KINDS), default=0)
    return demo.outbox.cursor() >= last_cause and not demo.outbox.list(("queue",))


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


# -- plumbing ----------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _drop(sample: Path, folder: Path) -> None:
    """Copy under a temporary name, then rename: what a careful filer (or a sync client) does."""
    folder.mkdir(parents=True, exist_ok=True)
    partial = folder / f"{sample.name}.part"
    shutil.copyfile(sample, partial)
    partial.rename(folder / sample.name)


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


def _quiet(cli: Callable[[list[str]], int], argv: list[str]) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = cli(argv)
    return code, out.getvalue() + err.getvalue()


def witness_dir_for(data_dir: Path) -> Path:
    from chanquan.app import DataDir

    return DataDir(data_dir).default_witness_dir


def prepare_directory(data_dir: Path) -> None:
    """Only directories the demo made itself may be wiped; anything else is refused.

    The previous demo's witness folder goes with its data directory: a fresh ledger next to
    an old witness copy would rightly be refused as a rolled-back one.
    """
    for folder in (data_dir, witness_dir_for(data_dir)):
        if folder.exists() and not (folder / DEMO_MARKER).exists():
            raise DemoError("prepare", f"{folder} exists and is not the demo's; choose another --dir")
    for folder in (data_dir, witness_dir_for(data_dir)):
        if folder.exists():
            shutil.rmtree(folder)


@contextmanager
def running(demo: Demo) -> Iterator[Demo]:
    try:
        yield demo
    finally:
        stop_service(demo)


def stop_service(demo: Demo) -> None:
    if demo.web is not None:
        demo.web.stop()  # first: no web request meets a stopped intake
        demo.web = None
    if demo.intake is not None:
        demo.intake.stop()
        demo.intake = None
    if demo.outbox is not None:
        demo.outbox.close()
        demo.outbox = None
    if demo.issuer is not None:
        demo.issuer.close()
        demo.issuer = None
    if demo.workflow is not None:
        demo.workflow.close()
        demo.workflow = None
    if demo._log_stream is not None:
        import logging

        logging.getLogger().handlers[:] = []
        demo._log_stream.close()
        demo._log_stream = None
