"""SIGKILL `chanquan serve` at random moments while 200 bundles arrive by both channels.

Every bundle must end filed exactly once: one intake.received per bundle, one
intake.processed and one filing.received per item, nothing left in the spool or in
processing/. SMTP clients behave like real ones: a send without a 250 is retried.
"""

from __future__ import annotations

import random
import signal
import smtplib
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from pathlib import Path

import pytest
from intake_helpers import CHILD, FIRST, PDF, valid_attachments, valid_workbook, workbook_for_unit

from intake.smtp import free_port
from validation.codes import make_org_code
from workflow.unitimport import UnitRow

CHANQUAN = str(Path(sys.executable).with_name("chanquan"))
PASSWORD = "Crash#Test2026pw"
DROPPED, MAILED = 100, 100


def prepare(data: Path, port: int) -> list[str]:
    from chanquan.app import open_workflow

    data.mkdir(parents=True)
    (data / "chanquan.toml").write_text(
        f"[intake]\nsettle_seconds = 0.2\nrescan_seconds = 1.0\nsmtp_port = {port}\n"
        "[ledger]\ncheckpoint_interval_seconds = 0.5\n",
        encoding="utf-8",
    )
    workflow = open_workflow(data)
    try:
        workflow.units.add(FIRST, "重庆测试集团有限公司", reviewer_emails=["reviewer@first.example.cn"])
        units = [make_org_code(f"7{index:07d}") for index in range(DROPPED + MAILED)]
        rows = [UnitRow(row=i + 2, code=unit, name="重庆测试子公司", parent_code=FIRST) for i, unit in enumerate(units)]
        workflow.units.import_rows(rows)
        with ThreadPoolExecutor(4) as pool:  # scrypt releases the GIL
            list(pool.map(lambda unit: workflow.accounts.set_password(unit, PASSWORD), units[DROPPED:]))
    finally:
        workflow.close()
    return units


def bundle_bytes(base: bytes, unit: str) -> bytes:
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("登记表.xlsx", workbook_for_unit(base, CHILD, unit))
        for name, data in valid_attachments().items():
            archive.writestr(name, data)
    return buffer.getvalue()


def mail_for(base: bytes, unit: str) -> EmailMessage:
    message = EmailMessage()
    message["From"], message["To"] = f"filer-{unit}@example.cn", "filing@chanquan.localhost"
    message["Subject"] = f"crash-{unit}"
    message["Message-ID"] = f"<crash-{unit}@example.cn>"
    message.set_content("登记表见附件")
    message.add_attachment(
        workbook_for_unit(base, CHILD, unit), maintype="application", subtype="zip", filename="登记表.xlsx"
    )
    for name in valid_attachments():
        message.add_attachment(PDF, maintype="application", subtype="pdf", filename=name)
    return message


def send_until_accepted(port: int, unit: str, message: EmailMessage, stop: threading.Event) -> None:
    """A mail client's queue: the same bytes are resent until a 250 was seen."""
    raw = message.as_bytes(policy=SMTP_POLICY)  # serialized once, as a queued message is
    while not stop.is_set():
        try:
            with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
                smtp.login(unit, PASSWORD)
                smtp.sendmail(message["From"], [message["To"]], raw)
                return
        except (OSError, smtplib.SMTPException):
            time.sleep(0.2)  # the server is down or died mid-transaction: retry like a real client


def wait_ready(port: int, process: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, "serve exited early"
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("serve did not start listening")


def count(data: Path, sql: str) -> list[tuple[str, int]]:
    conn = sqlite3.connect(f"file:{data / 'ledger.sqlite3'}?mode=ro", uri=True)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


@pytest.mark.slow
def test_sigkill_during_arrivals_files_every_bundle_exactly_once(tmp_path: Path) -> None:
    data = tmp_path / "data"
    port = free_port()
    units = prepare(data, port)
    base = valid_workbook(unit=CHILD, name="重庆测试子公司")
    dropped, mailed = units[:DROPPED], units[DROPPED:]
    log = open(tmp_path / "serve.log", "ab")  # noqa: SIM115 (kept open across restarts)
    rng = random.Random(20260302)
    stop_clients = threading.Event()

    def drop_all() -> None:
        for unit in dropped:
            folder = data / "dropbox" / unit
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"{unit}-bundle.zip").write_bytes(bundle_bytes(base, unit))
            time.sleep(rng.uniform(0, 0.04))

    def mail_some(chunk: list[str]) -> None:
        for unit in chunk:
            send_until_accepted(port, unit, mail_for(base, unit), stop_clients)

    def start() -> subprocess.Popen[bytes]:
        process = subprocess.Popen(
            [CHANQUAN, "--data", str(data), "serve", "--no-outbox", "--no-web"], stdout=log, stderr=log
        )
        wait_ready(port, process)
        return process

    clients = [threading.Thread(target=drop_all)]
    clients += [threading.Thread(target=mail_some, args=(mailed[i::4],)) for i in range(4)]
    try:
        process = start()
        for thread in clients:
            thread.start()
        for _ in range(5):
            time.sleep(rng.uniform(0.3, 2.0))
            process.send_signal(signal.SIGKILL)
            process.wait()
            process = start()
        for thread in clients:
            thread.join(60)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            done = count(data, "SELECT 'n', COUNT(*) FROM intake_items WHERE processed_seq IS NOT NULL")[0][1]
            if done >= DROPPED + MAILED:
                break
            time.sleep(0.3)
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0  # clean shutdown exits 0
    finally:
        stop_clients.set()
        if process.poll() is None:
            process.kill()
            process.wait()
        log.close()

    # a bundle is its file name in the drop folder, a mail its Message-ID (its original name is the attachments')
    received = count(
        data,
        "SELECT CASE channel WHEN 'smtp' THEN message_id ELSE original_name END, COUNT(*) FROM intake_items GROUP BY 1",
    )
    names = Counter(dict(received))
    assert len(names) == DROPPED + MAILED and set(names.values()) == {1}, names.most_common(3)
    per_item = dict(
        count(data, "SELECT subject, COUNT(*) FROM ledger_events WHERE kind = 'intake.processed' GROUP BY subject")
    )
    assert len(per_item) == DROPPED + MAILED and set(per_item.values()) == {1}
    filed = count(
        data,
        "SELECT json_extract(payload, '$.item_id'), COUNT(*) FROM ledger_events "
        "WHERE kind = 'filing.received' GROUP BY 1",
    )
    assert len(filed) == DROPPED + MAILED and {n for _, n in filed} == {1}
    assert set(dict(filed)) == set(per_item)
    assert list((data / "processing").iterdir()) == []
    assert list((data / "inbound").glob("*.msg")) == []
    assert all(not (data / "dropbox" / unit / f"{unit}-bundle.zip").exists() for unit in dropped)
