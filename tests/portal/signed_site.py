"""A portal whose data directory has keys, as after `chanquan init`: a signing ledger (checkpoints,
inclusion proofs), the document-signing CA and identity, and the issuer built by chanquan.app.

Filings are approved through all levels the way reviewers' mail replies approve them; the first
document of each is issued as the outbox issues it on `filing.approved`.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from portal_helpers import GROUP, SECOND, THIRD, Clock, Site, add_tree, file, workflow_over

from chanquan.app import all_projections, init_signing_identity, open_document_issuer, open_ledger
from chanquan.commands.init import step_ledger_keys
from chanquan.config import Settings, WebSettings
from documents import DocumentIssuer
from portal import PortalConfig, create_app
from workflow import ReviewDecision

ROOT = Path(__file__).resolve().parents[2]
OFFLINE_CHECKER = ROOT / "templates" / "web" / "static" / "verify_proof.py"  # served at /static/verify_proof.py


@dataclass
class SignedSite(Site):
    issuer: DocumentIssuer | None = None
    settings: Settings | None = None

    def approve(
        self, unit: str = THIRD, name: str = "重庆测试三级公司", level: int = 3, parent: str = SECOND, **options: Any
    ) -> str:
        """A filing of `unit` approved by every level up to SASAC, with its first document issued."""
        outcome = file(self.wf, unit, name, level, parent, **options)
        assert outcome.accepted, outcome
        for _ in range(level):
            self.decide(outcome.filing_id, ReviewDecision.APPROVE, "同意")
        assert self.issuer is not None
        self.issuer.issue_for_filing(outcome.filing_id)
        return outcome.filing_id

    def decide(self, filing_id: str, decision: ReviewDecision, opinion: str) -> None:
        """The current step's reviewer replies by mail (the reply stored as a blob, as intake stores it)."""
        view = self.wf.filing(filing_id)
        assert view is not None and view.state == "in_review", view
        reviewer = view.reviewers[0]
        token = self.wf.review_token(filing_id, view.round, view.level, reviewer)
        mail = self.wf.ledger.blobs.put(f"From: {reviewer}\n\n{decision.value} {opinion}".encode())
        outcome = self.wf.decide(token, reviewer, decision, opinion, mail)
        assert outcome.applied, outcome

    def check_offline(self, proof: bytes, folder: Path) -> None:
        """The portal's static verify_proof.py, what anyone outside runs on a downloaded proof, accepts it against the
        ledger's public key (in a subprocess, as they would run it)."""
        path = folder / "proof.json"
        path.write_bytes(proof)
        checked = subprocess.run(
            [sys.executable, str(OFFLINE_CHECKER), str(path), str(self.data / "keys" / "ledger.pub")],
            capture_output=True,
            check=False,
            text=True,
            timeout=120,
        )
        assert checked.returncode == 0, checked.stdout + checked.stderr

    def close(self) -> None:
        super().close()
        if self.issuer is not None:
            self.issuer.close()


def build_signed_site(data: Path, *, public_url: str = "http://127.0.0.1:8080", **config: Any) -> SignedSite:
    settings = Settings(web=WebSettings(public_url=public_url))
    data.mkdir(parents=True, exist_ok=True)
    step_ledger_keys(data, settings)
    init_signing_identity(data, settings)
    wf = workflow_over(open_ledger(data, settings, all_projections()), data)
    overseas = add_tree(wf)
    issuer = open_document_issuer(data, settings, wf)
    clock = Clock()
    portal_config = PortalConfig(sessions_db=data / "portal.sqlite3", public_url=public_url, **config)
    app = create_app(wf, portal_config, clock=clock, issuer=issuer)
    return SignedSite(data, wf, clock, app, overseas, issuer=issuer, settings=settings)


__all__ = ["GROUP", "SECOND", "THIRD", "SignedSite", "build_signed_site"]
