"""A portal with its door into intake (报送申报) over the samples' enterprise tree (inbox_samples/units.csv).

The intake service is the real one (receiver, processor, drop-folder watcher), not started: an upload
is filed in the request that posts it, and a test drops the same file into the drop folder and runs
the watcher's scan by hand to compare the two doors' answers.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from portal_helpers import TOKEN_KEY, Clock, Site, csrf_of, open_workflow
from starlette.testclient import TestClient

from intake.dropbox import DropboxConfig
from intake.service import IntakeConfig, IntakeService
from intake.smtp import SmtpConfig
from portal import PortalConfig, create_app
from workflow.unitfile import read_unit_rows

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "inbox_samples"
# 渝发集团, 渝发建设 (under it), 山城电力 and its parent 山城能源
GROUP, BUILDER, POWER, ENERGY = "202600012", "202600020", "202600127", "202600119"
SASAC = "SASAC0001"
CLIENT_ID = re.compile(r'name="client_id" value="([^"]+)"')


@dataclass
class UploadSite(Site):
    service: IntakeService | None = None

    def kinds(self, kind: str) -> list[Any]:
        return list(self.wf.ledger.events(kind=kind))

    def close(self) -> None:
        if self.service is not None:
            self.service.stop()
        super().close()


def build_upload_site(data: Path, *, max_bytes: int = 2 * 1024 * 1024, **config: Any) -> UploadSite:
    wf = open_workflow(data)
    wf.units.ensure_root()
    wf.units.import_rows(read_unit_rows(SAMPLES / "units.csv"))
    service = IntakeService(
        IntakeConfig(
            inbound_dir=data / "inbound",
            processing_dir=data / "processing",
            dropbox=DropboxConfig(data / "dropbox", settle_seconds=0.0),
            smtp=SmtpConfig(max_message_bytes=max_bytes),
            enable_smtp=False,
            enable_worker=False,
            check_processes=0,
        ),
        ledger=wf.ledger,
        workflow=wf,
        confirm_key=TOKEN_KEY,
    )
    clock = Clock()
    portal_config = PortalConfig(sessions_db=data / "portal.sqlite3", max_upload_bytes=max_bytes, **config)
    app = create_app(wf, portal_config, clock=clock, intake=service)
    return UploadSite(data, wf, clock, app, "", service=service)


def submit_form(client: TestClient) -> tuple[str, str]:
    """(csrf, client_id) of a freshly rendered 报送 form."""
    page = client.get("/submit")
    assert page.status_code == 200, page.text
    found = CLIENT_ID.search(page.text)
    assert found, "no client_id in the form"
    return csrf_of(page.text), found.group(1)


def sample_file(name: str) -> tuple[str, bytes]:
    return name, (SAMPLES / name).read_bytes()


def post_files(
    client: TestClient,
    bundle: tuple[str, bytes] | None,
    attachments: Sequence[tuple[str, bytes]] = (),
    *,
    csrf: str | None = None,
    client_id: str | None = None,
) -> Any:
    """POST /submit as the form does (fresh token and form id unless given)."""
    token, form_id = submit_form(client)
    files: list[tuple[str, tuple[str, bytes, str]]] = []
    name, data = bundle if bundle is not None else ("", b"")  # a file input left empty sends an empty part
    files.append(("bundle", (name, data, "application/octet-stream")))
    for name, data in attachments:
        files.append(("attachments", (name, data, "application/octet-stream")))
    fields = {"client_id": form_id if client_id is None else client_id}
    if csrf != "":
        fields["csrf"] = token if csrf is None else csrf
    return client.post("/submit", data=fields, files=files)
