"""One way of writing a file size, whoever writes it: validation's `human_size` (“2 MB”, “1.5 MB”,
“800 字节”), in findings, receipts and review requests, the SMTP listener's refusal and the portal's."""

from __future__ import annotations

from intake import upload
from intake.smtpdata import too_large
from outbox import notices, review_notices
from validation.findings import human_size

MB = 1024 * 1024


def test_every_layer_writes_sizes_the_same_way() -> None:
    # the layers' own name for it (imported, not re-exported: read from the module's namespace)
    assert vars(notices)["human_size"] is human_size and vars(review_notices)["human_size"] is human_size
    assert upload.size_text is human_size
    assert human_size(2 * MB) == "2 MB"  # not “2.0 MB”
    assert human_size(800) == "800 字节"  # not “800 B”
    assert "（上限 30 MB）" in too_large(30 * MB)
    assert "（上限 1000 字节）" in too_large(1000)  # not “1 KB”
