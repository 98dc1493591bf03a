"""Web submissions: the portal's uploads go through intake's durable path, with the answer in the same call.

Real bundles from inbox_samples/, real ledger and workflow on SQLite files, the units of the samples' tree.
"""

from __future__ import annotations

import datetime as dt
import io
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from intake_helpers import TOKEN_KEY, Env, build_env, close_env, intake_config

from intake.service import IntakeService
from intake.upload import Upload, UploadedFile, pack_upload, unpack_upload
from validation.rules.base import RuleOptions
from workflow.unitfile import read_unit_rows

SAMPLES = Path(__file__).resolve().parents[2] / "inbox_samples"
GROUP, BUILDER, POWER = "202600012", "202600020", "202600127"  # 渝发集团, 渝发建设 (its child), 山城电力
FORM = "form-0123456789abcdef"


def sample(name: str) -> UploadedFile:
    return UploadedFile(name, (SAMPLES / name).read_bytes())


def upload(username: str, *files: UploadedFile, client_id: str = FORM) -> Upload:
    return Upload(client_id=client_id, username=username, files=files)


def with_sample_units(env: Env) -> Env:
    env.wf.units.import_rows(read_unit_rows(SAMPLES / "units.csv"))
    return env


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    environment = with_sample_units(build_env(tmp_path / "data", enable_smtp=False))
    yield environment
    close_env(environment)


def item_events(env: Env, item_id: str) -> list[tuple[int, str]]:
    """(seq, kind) of every event about the item or the filing it made, in ledger order."""
    filings = {ev.subject for ev in env.ledger.events(kind="filing.received") if ev.payload["item_id"] == item_id}
    return [(ev.seq, ev.kind) for ev in env.ledger.events() if ev.subject == item_id or ev.subject in filings]


def test_a_bundle_is_received_first_then_filed_in_the_same_call(env: Env) -> None:
    bundle = sample("02-子企业-变动登记.zip")
    outcome = env.service.submit_upload(upload(BUILDER.lower(), bundle))
    assert outcome.status == "accepted" and outcome.accepted and not outcome.duplicate
    assert outcome.filing_id.startswith("CQ") and outcome.round == 1 and outcome.review_unit == GROUP
    assert [kind for _, kind in item_events(env, outcome.item_id)] == [
        "intake.received",
        "filing.received",
        "review.requested",
        "intake.processed",
    ]
    (received,) = env.kinds("intake.received")
    p = received.payload
    assert (p["channel"], p["purpose"], p["sender"], p["filer"], p["reply_to"]) == (
        "web",
        "filing",
        BUILDER,
        BUILDER,
        "",
    )
    assert p["original_name"] == bundle.name and p["item_id"] == outcome.item_id
    kept = unpack_upload(env.ledger.blobs.get(p["raw_blob"]))  # the raw bytes, kept as they came
    assert [(f.original_name, f.data) for f in kept] == [(bundle.name, bundle.data)]
    (filed,) = env.kinds("filing.received")
    assert filed.payload["channel"] == "web" and filed.payload["original_name"] == bundle.name
    (processed,) = env.kinds("intake.processed")
    assert processed.payload == {"item_id": outcome.item_id, "filing_id": outcome.filing_id, "outcome": "filed"}
    assert env.service.processor.idle(), "the background worker was never given the item"


def test_a_workbook_with_its_attachments_is_one_filing_under_the_names_given(env: Env) -> None:
    folder = SAMPLES / "06-补录-未办"
    files = tuple(UploadedFile(p.name, p.read_bytes()) for p in sorted(folder.iterdir()))
    outcome = env.service.submit_upload(upload(BUILDER, *files))
    assert outcome.status == "accepted", outcome.findings
    (filed,) = env.kinds("filing.received")
    assert filed.payload["workbook_name"] == "渝发建设-补录未办.xlsx"
    assert sorted(filed.payload["attachment_names"]) == sorted(p.name for p in folder.iterdir() if p.suffix != ".xlsx")
    assert env.kinds("intake.received")[0].payload["original_name"] == "、".join(f.name for f in files)


def test_errors_come_back_with_the_findings_and_the_annotated_workbook(env: Env) -> None:
    outcome = env.service.submit_upload(upload(POWER, sample("08-错误-股权比例合计不等于100.zip")))
    assert outcome.status == "invalid" and outcome.filing_id
    assert {"investors-share-sum", "investor-share-mismatch"} <= {f.code for f in outcome.findings}
    annotated = env.ledger.blobs.get(outcome.annotated_blob)
    with zipfile.ZipFile(io.BytesIO(annotated)) as workbook:
        assert "xl/workbook.xml" in workbook.namelist()
    (invalid,) = env.kinds("filing.invalid")
    assert invalid.payload["annotated_blob"] == outcome.annotated_blob


@pytest.mark.parametrize(
    ("name", "code"),
    [("13-错误-压缩包里套压缩包.zip", "bundle-nested-zip"), ("12-错误-损坏的工作簿.xlsx", "workbook-truncated")],
)
def test_an_unreadable_bundle_is_rejected_with_the_drop_folders_code_and_message(
    env: Env, name: str, code: str
) -> None:
    outcome = env.service.submit_upload(upload(GROUP, sample(name)))
    assert outcome.status == "rejected" and outcome.code == code and outcome.filing_id == ""
    # the same file dropped into the drop folder is answered with the same words
    folder = env.dropbox / GROUP
    folder.mkdir(parents=True)
    (folder / name).write_bytes((SAMPLES / name).read_bytes())
    env.service.watcher.tracker.settle_seconds = 0.0
    assert env.service.watcher.scan_once() == 1
    (dropped,) = env.service.processor.queue.queue
    assert env.service.processor.process(dropped) == "rejected"
    web, drop = env.kinds("intake.rejected")
    assert (web.payload["channel"], drop.payload["channel"]) == ("web", "dropbox")
    assert web.payload["code"] == drop.payload["code"] == code
    assert web.payload["message"] == drop.payload["message"] == outcome.message_zh
    assert env.kinds("filing.received") == []


def test_a_retried_post_or_a_double_click_makes_one_filing(env: Env) -> None:
    bundle = sample("02-子企业-变动登记.zip")
    outcomes = []
    clicks = [
        threading.Thread(target=lambda: outcomes.append(env.service.submit_upload(upload(BUILDER, bundle))))
        for _ in range(3)
    ]
    for click in clicks:
        click.start()
    for click in clicks:
        click.join()
    retried = env.service.submit_upload(upload(BUILDER, bundle))  # the browser posts again later
    assert {o.filing_id for o in [*outcomes, retried]} == {retried.filing_id}
    assert {o.status for o in [*outcomes, retried]} == {"accepted"}
    assert sorted(o.duplicate for o in outcomes) == [False, True, True] and retried.duplicate
    assert retried.review_unit == GROUP
    assert len(env.kinds("intake.received")) == len(env.kinds("filing.received")) == 1
    # another form of the same account is another submission (and meets the open filing)
    again = env.service.submit_upload(upload(BUILDER, bundle, client_id="form-another-one-0001"))
    assert again.status == "invalid" and "filing-in-review" in {f.code for f in again.findings}


def test_a_retried_rejection_gets_the_same_rejection(env: Env) -> None:
    first = env.service.submit_upload(upload(GROUP, sample("13-错误-压缩包里套压缩包.zip")))
    again = env.service.submit_upload(upload(GROUP, sample("13-错误-压缩包里套压缩包.zip")))
    assert (again.status, again.code, again.message_zh, again.duplicate) == (
        "rejected",
        first.code,
        first.message_zh,
        True,
    )
    assert len(env.kinds("intake.rejected")) == 1


def test_the_same_form_with_other_files_is_refused(env: Env) -> None:
    assert env.service.submit_upload(upload(BUILDER, sample("02-子企业-变动登记.zip"))).accepted
    size = env.ledger.size()
    other = env.service.submit_upload(upload(BUILDER, sample("07-错误-组织机构代码校验码错.zip")))
    assert other.status == "refused" and other.code == "upload-conflict" and "重新打开" in other.message_zh
    assert env.ledger.size() == size


def test_refusals_before_anything_is_recorded(env: Env) -> None:
    limit = env.service.max_upload_bytes
    assert limit == env.service.config.smtp.max_message_bytes  # the SMTP limit, for the portal to check first
    big = UploadedFile("大.zip", b"\0" * (limit + 1))
    cases = [
        (upload(BUILDER, big), "upload-too-large"),
        (upload(BUILDER), "upload-empty"),
        (upload(BUILDER, UploadedFile("空.zip", b"")), "upload-empty"),
        (upload(BUILDER, sample("02-子企业-变动登记.zip"), client_id="short"), "upload-bad-id"),
        (upload(BUILDER, sample("02-子企业-变动登记.zip"), client_id="../../etc/passwd-xxxxxxxx"), "upload-bad-id"),
        (upload("NOTAUNIT9", sample("02-子企业-变动登记.zip")), "unknown-account"),
    ]
    size = env.ledger.size()
    for request, code in cases:
        outcome = env.service.submit_upload(request)
        assert (outcome.status, outcome.code) == ("refused", code)
        assert outcome.message_zh and outcome.item_id == ""
    assert "上限" in env.service.submit_upload(cases[0][0]).message_zh
    assert env.ledger.size() == size


def test_an_upload_received_but_not_filed_is_resumed_at_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    data = tmp_path / "data"
    env = with_sample_units(build_env(data, enable_smtp=False))
    bundle = sample("02-子企业-变动登记.zip")
    try:

        def crash(*args: object, **kwargs: object) -> None:
            raise OSError("disk went away")

        monkeypatch.setattr(env.wf, "submit_many", crash)
        outcome = env.service.submit_upload(upload(BUILDER, bundle))
        assert outcome.status == "pending" and outcome.item_id in outcome.message_zh
        assert len(env.kinds("intake.received")) == 1 and env.kinds("intake.processed") == []
    finally:
        close_env(env)
    restarted = build_env(data, enable_smtp=False)  # the next start
    try:
        assert restarted.service.recover() == 1
        (item_id,) = restarted.service.processor.queue.queue
        assert item_id == outcome.item_id
        assert restarted.service.processor.process(item_id) == "filed"
        again = restarted.service.submit_upload(upload(BUILDER, bundle))  # the user posts again
        assert again.status == "accepted" and again.duplicate and again.item_id == item_id
        assert len(restarted.kinds("filing.received")) == 1
    finally:
        close_env(restarted)


def test_worker_processes_check_with_the_configured_rule_options(tmp_path: Path) -> None:
    """The `validation.*` settings reach the check processes (they used to check with the defaults)."""
    data = tmp_path / "data"
    env = with_sample_units(build_env(data, enable_smtp=False))
    env.service.stop()
    options = RuleOptions(backfill_cutoff=dt.date(2013, 12, 31), backfill_cutoff_severity="error")
    config = intake_config(data, enable_smtp=False, enable_dropbox=False, check_processes=1, rule_options=options)
    service = IntakeService(config, ledger=env.ledger, workflow=env.wf, confirm_key=TOKEN_KEY)
    service.start()
    try:
        assert service.processor.prepare_pool is not None
        outcome = service.submit_upload(upload(POWER, sample("04-补录-已办无变化.zip")))
        assert outcome.status == "invalid" and "backfill-as-of-date" in {f.code for f in outcome.findings}
        # and the thread that prepares without the pool judges the same
        pool = service.processor.prepare_pool
        service.processor.prepare_pool = None
        pool.close()
        dropped = service.submit_upload(
            upload(POWER, sample("04-补录-已办无变化.zip"), client_id="form-second-0000001")
        )
        assert dropped.status == "invalid" and "backfill-as-of-date" in {f.code for f in dropped.findings}
    finally:
        service.stop()
        close_env(env)


def test_the_envelope_keeps_every_name_and_byte_in_order() -> None:
    files = (
        UploadedFile("登记表.xlsx", b"PK\x03\x04 workbook"),
        UploadedFile("../../etc/passwd", b"not a path"),
        UploadedFile("登记表.xlsx", b"second of the same name"),
        UploadedFile("a\\b.pdf", b"%PDF-"),
    )
    packed = pack_upload(files)
    assert packed == pack_upload(files), "the same upload is the same raw blob"
    assert [(f.original_name, f.data) for f in unpack_upload(packed)] == [(f.name, f.data) for f in files]
