"""Intake throughput and memory, each case next to the same work done by direct function calls.

    .venv/bin/python bench/intake.py [--bundles 2000] [--mails 2000] [--idle 1000]

Cases (one line each):
  backlog   N small valid bundles waiting in the drop folder, drained by a running intake
            (claimed → recorded → loaded → checked → submitted → processed; the receipt is then
            due in the ledger for the outbox) vs. load_bundle+check_bundle+submit called directly.
  smtp      filing mails of ~100 KB from 20 concurrent authenticated clients running in another
            process, counted when answered 250 (durably spooled; stored and recorded right after, in
            batches) vs. MailGate.accept called from 20 threads, vs. bare aiosmtpd answering 250, and
            the same service on aiosmtpd's own DATA reader instead of intake/smtpdata.py's block reader.
  idle      concurrent idle SMTP connections held open, then each answers NOOP.
Peak memory is the process's maximum RSS after each case.
"""

from __future__ import annotations

import argparse
import io
import multiprocessing
import os
import pickle
import resource
import smtplib
import socket
import sys
import tempfile
import threading
import time
import zipfile
from collections.abc import Callable
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from pathlib import Path
from typing import Any

# This file is named like the package it measures: keep bench/ off the path, the helpers on it.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
# tests/ holds folders named like the packages (tests/ledger, ...): the project root goes first so
# that the packages win, tests/ only serves `support`
sys.path[:0] = [str(_HERE.parent), str(_HERE.parent / "tests" / "intake")]
sys.path.append(str(_HERE.parent / "tests"))

from intake_helpers import (  # noqa: E402
    CHILD,
    FIRST,
    PASSWORD,
    build_env,
    close_env,
    run_check,
    valid_attachments,
    valid_workbook,
    workbook_for_unit,
)

from intake.service import default_check_processes  # noqa: E402
from intake.smtp import Login, SmtpServer  # noqa: E402
from intake.smtpdata import BlockDataController, ChineseFirstController  # noqa: E402
from validation.bundle import load_bundle  # noqa: E402
from validation.codes import make_org_code  # noqa: E402


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def add_units(env: Any, count: int, prefix: str) -> list[str]:
    from workflow.unitimport import UnitRow

    codes = [make_org_code(f"{prefix}{index:06d}") for index in range(count)]
    rows = [UnitRow(row=i + 2, code=c, name="重庆测试子公司", parent_code=FIRST) for i, c in enumerate(codes)]
    env.wf.units.import_rows(rows)
    return codes


def zipped(workbook: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("登记表.xlsx", workbook)
        for name, data in valid_attachments().items():
            archive.writestr(name, data)
    return buffer.getvalue()


def wait(predicate: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("benchmark case did not finish in time")
        time.sleep(0.05)


def processed_count(env: Any) -> int:
    with env.ledger.reader() as conn:
        return int(conn.execute("SELECT COUNT(*) FROM intake_items WHERE processed_seq IS NOT NULL").fetchone()[0])


def bench_backlog(root: Path, count: int, base: bytes, processes: int) -> None:
    # The running intake first, so that the peak RSS printed is the service's own (the direct case
    # below holds all its bundles in memory at once).
    env = build_env(
        root / "intake", enable_smtp=False, settle_seconds=0.2, rescan_seconds=1.0, check_processes=processes
    )
    codes = add_units(env, count, "82")
    for code in codes:
        folder = env.dropbox / code
        folder.mkdir(parents=True)
        (folder / "bundle.zip").write_bytes(zipped(workbook_for_unit(base, CHILD, code)))
    cpu_started = cpu_seconds()
    started = time.perf_counter()
    env.service.start()
    wait(lambda: processed_count(env) >= count, 3600)
    elapsed = time.perf_counter() - started
    serve_cpu = cpu_seconds() - cpu_started
    close_env(env)
    workers_cpu = children_cpu_seconds()
    service_peak = peak_mb()
    rate = count / elapsed

    # direct calls: the same stages without watcher, spool or worker
    direct = build_env(root / "direct", enable_smtp=False, enable_dropbox=False, enable_worker=False)
    codes = add_units(direct, count, "81")
    bundles = [zipped(workbook_for_unit(base, CHILD, code)) for code in codes]
    started = time.perf_counter()
    for index, (code, data) in enumerate(zip(codes, bundles, strict=True)):
        bundle = load_bundle(data, name="bundle.zip")
        result = run_check(bundle, direct.wf.ledger_rules(code))
        direct.wf.submit(f"D{index}", filer=code, channel="dropbox", reply_to="", bundle=bundle, check_result=result)
    direct_rate = count / (time.perf_counter() - started)
    close_env(direct)
    print(
        f"backlog   {count} bundles drained: {rate:7.1f} bundles/s end to end "
        f"(direct calls {direct_rate:7.1f}/s, ratio {rate / direct_rate:4.2f}; {processes} check processes); "
        f"CPU per bundle: serve process {1000 * serve_cpu / count:.2f} ms, check processes "
        f"{1000 * workers_cpu / count:.2f} ms (with their start); peak RSS {service_peak:.0f} MB "
        f"(then {peak_mb():.0f} MB with the direct case's {count * 23 // 1024} MB of bundles held at once)"
    )


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def children_cpu_seconds() -> float:
    """CPU of the ended child processes (the check processes, once the service has stopped)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def filing_mail(index: int, workbook: bytes, padding: bytes) -> bytes:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "filer@child.example.cn", "filing@x", f"报送 {index}"
    message["Message-ID"] = f"<bench-{index}@child.example.cn>"
    message.set_content("登记表见附件")
    message.add_attachment(workbook, maintype="application", subtype="octet-stream", filename="登记表.xlsx")
    message.add_attachment(padding, maintype="application", subtype="pdf", filename="扫描件.pdf")
    return message.as_bytes(policy=SMTP_POLICY)


def send_all(port: int, mails: list[bytes], clients: int, login: tuple[str, str] | None) -> tuple[float, list[str]]:
    """`clients` concurrent SMTP sessions sending `mails` between them; (seconds, refusals)."""
    errors: list[str] = []

    def client(chunk: list[bytes]) -> None:
        with smtplib.SMTP("127.0.0.1", port, timeout=120) as smtp:
            if login is not None:
                smtp.login(*login)
            for raw in chunk:
                try:
                    smtp.sendmail("filer@child.example.cn", ["filing@x"], raw)
                except smtplib.SMTPException as exc:
                    errors.append(str(exc))

    started = time.perf_counter()
    threads = [threading.Thread(target=client, args=(mails[i::clients],)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started, errors


def client_process(port: int, mails_file: str, clients: int, login: tuple[str, str] | None, out: Any) -> None:
    """The clients run in a process of their own: real senders are other machines, and in the
    server's process they would compete with it for the interpreter lock."""
    mails = pickle.loads(Path(mails_file).read_bytes())
    out.send(send_all(port, mails, clients, login))
    out.close()


def send_from_other_process(port: int, mails_file: Path, clients: int, login: tuple[str, str] | None) -> float:
    context = multiprocessing.get_context("spawn")
    receiving, sending = context.Pipe(duplex=False)
    process = context.Process(target=client_process, args=(port, str(mails_file), clients, login, sending))
    process.start()
    sending.close()
    elapsed, errors = receiving.recv()
    process.join()
    receiving.close()
    if errors:
        raise RuntimeError(f"{len(errors)} mails refused, first: {errors[0]}")
    return float(elapsed)


def bench_smtp(root: Path, count: int, base: bytes, clients: int = 20) -> None:
    padding = os.urandom(60 * 1024)
    mails = [filing_mail(index, base, padding) for index in range(count)]
    size_kb = sum(len(m) for m in mails) / len(mails) / 1024
    mails_file = root / "mails.pickle"
    mails_file.write_bytes(pickle.dumps(mails))

    # direct: MailGate.accept from 20 threads of this process, the spool recorder running as in serve
    direct = build_env(root / "smtp-direct", enable_smtp=False, enable_dropbox=False, enable_worker=False)
    login = Login(CHILD, CHILD, False, PASSWORD)
    stop = threading.Event()
    recorder = threading.Thread(target=direct.service.recorder.run, args=(stop,))
    recorder.start()

    def direct_worker(chunk: list[bytes]) -> None:
        for raw in chunk:
            assert direct.service.gate.accept(login, "filer@child.example.cn", ["filing@x"], raw).startswith("250")

    started = time.perf_counter()
    threads = [threading.Thread(target=direct_worker, args=(mails[i::clients],)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    direct_rate = count / (time.perf_counter() - started)
    stop.set()
    recorder.join()
    close_env(direct)

    raw_rate = raw_aiosmtpd_rate(mails_file, count, clients)

    rate, received, drained = service_rate(root / "smtp", mails_file, count, clients)
    # the same service on aiosmtpd's own (public) DATA path: what intake/smtpdata.py's block reader is for
    SmtpServer.controller_class = ChineseFirstController
    try:
        stock_rate, _, _ = service_rate(root / "smtp-stock-data", mails_file, count, clients)
    finally:
        SmtpServer.controller_class = BlockDataController
    print(
        f"smtp      {count} mails of {size_kb:.0f} KB from {clients} clients in another process: "
        f"{rate:7.1f} mails/s answered 250 after a durable spool "
        f"(direct MailGate.accept {direct_rate:7.1f}/s, ratio {rate / direct_rate:4.2f}; "
        f"bare aiosmtpd with a no-op handler {raw_rate:7.1f}/s, ratio {rate / raw_rate:4.2f}; "
        f"the service on aiosmtpd's own DATA reader {stock_rate:7.1f}/s, ratio {stock_rate / raw_rate:4.2f} "
        f"of bare); recorded {received} ({drained:.1f} s after the last 250); peak RSS {peak_mb():.0f} MB"
    )


def service_rate(root: Path, mails_file: Path, count: int, clients: int) -> tuple[float, int, float]:
    """(mails/s answered 250 by a running service, mails recorded, seconds from the last 250 to the last record)."""
    env = build_env(root, enable_dropbox=False, enable_worker=False)
    env.service.start()
    elapsed = send_from_other_process(env.port, mails_file, clients, (CHILD, PASSWORD))
    drain_started = time.perf_counter()
    wait(lambda: received_count(env) >= count, 600)
    drained = time.perf_counter() - drain_started
    received = received_count(env)
    close_env(env)
    return count / elapsed, received, drained


def received_count(env: Any) -> int:
    with env.ledger.reader() as conn:
        return int(conn.execute("SELECT COUNT(*) FROM intake_items").fetchone()[0])


def raw_aiosmtpd_rate(mails_file: Path, count: int, clients: int) -> float:
    """The ceiling of this machine: the same clients against aiosmtpd answering 250 at once."""
    from aiosmtpd.controller import Controller

    from intake.smtp import free_port

    class Accept:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            return "250 OK"

    port = free_port()
    controller = Controller(Accept(), hostname="127.0.0.1", port=port, data_size_limit=64 * 1024 * 1024)
    controller.start()
    try:
        elapsed = send_from_other_process(port, mails_file, clients, None)
    finally:
        controller.stop()
    return count / elapsed


def bench_idle(root: Path, count: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = min(hard, max(soft, 2 * count + 256))
    resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    env = build_env(root / "idle", enable_dropbox=False, enable_worker=False)
    env.service.start()
    sockets: list[socket.socket] = []
    failures = 0
    try:
        started = time.perf_counter()
        for _ in range(count):
            sock = socket.create_connection(("127.0.0.1", env.port), timeout=30)
            sockets.append(sock)
        for sock in sockets:
            if not sock.recv(512).startswith(b"220"):
                failures += 1
        opened = time.perf_counter() - started
        time.sleep(2.0)  # all of them idle at once
        for sock in sockets:
            sock.sendall(b"NOOP\r\n")
        for sock in sockets:
            if not sock.recv(512).startswith(b"250"):
                failures += 1
        # the server still serves a real session meanwhile
        with smtplib.SMTP("127.0.0.1", env.port, timeout=30) as smtp:
            smtp.login(CHILD, PASSWORD)
            ok = smtp.noop()[0] == 250
    finally:
        for sock in sockets:
            sock.close()
        close_env(env)
    print(
        f"idle      {count} concurrent idle SMTP connections: opened in {opened:.2f} s, "
        f"{failures} failures, new session {'ok' if ok else 'FAILED'}; peak RSS {peak_mb():.0f} MB"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bundles", type=int, default=2000)
    parser.add_argument("--mails", type=int, default=2000)
    parser.add_argument("--idle", type=int, default=1000)
    parser.add_argument("--cases", default="backlog,smtp,idle")
    parser.add_argument("--check-processes", type=int, default=default_check_processes(), help="0: check in threads")
    args = parser.parse_args()
    import logging

    logging.disable(logging.INFO)
    base = valid_workbook()
    with tempfile.TemporaryDirectory(prefix="chanquan-bench-") as tmp:
        root = Path(tmp)
        cases = args.cases.split(",")
        if "backlog" in cases:
            bench_backlog(root, args.bundles, base, args.check_processes)
        if "smtp" in cases:
            bench_smtp(root, args.mails, base)
        if "idle" in cases:
            bench_idle(root, args.idle)
    return 0


if __name__ == "__main__":
    sys.exit(main())
