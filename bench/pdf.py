"""Milliseconds per signed certificate and per signed 200-investor form, next to the same unsigned.

Run: .venv/bin/python bench/pdf.py [--runs N]
One line per case: median and p90 over N runs after a warm-up, and the signed/unsigned ratio
measured in the same run. Targets: signed certificate <= 40 ms, signed 200-investor form <= 150 ms.
The third case puts CJK Extension B characters into every tenth investor name, so the fallback
faces (fonts-hanazono) are split into and embedded as well.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from documents.keys import create_signing_identity, identity_files
from documents.model import DocumentData
from documents.rendering import render
from documents.samples import sample_document
from documents.signing import DocumentSigner, SignRequest
from documents.templates import CERTIFICATE, FORM, TemplateCatalog


def timed(fn: Callable[[], object], runs: int) -> tuple[list[float], list[float]]:
    """Wall-clock and CPU milliseconds per run; CPU time shows the cost when the machine is shared."""
    fn()  # warm-up: font load, stamp import, key parse
    wall, cpu = [], []
    for _ in range(runs):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        wall.append((time.perf_counter() - start) * 1000)
        cpu.append((time.process_time() - start_cpu) * 1000)
    return wall, cpu


def with_rare_names(data: DocumentData) -> DocumentData:
    """Every tenth investor named with Extension B characters (U+20BB7, U+2A6A5, U+24B62)."""
    investors = [
        dict(inv, investor_name=f"𠮷𪚥𤭢{inv['investor_name']}") if n % 10 == 0 else inv
        for n, inv in enumerate(data.registration["investors"])
    ]
    return replace(data, registration=dict(data.registration, investors=investors))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    catalog = TemplateCatalog()
    with tempfile.TemporaryDirectory() as tmp:
        keys = Path(tmp) / "keys"
        create_signing_identity(keys, "重庆市国资委")
        signer = DocumentSigner(identity_files(keys), "重庆市国资委")
        cases = [
            ("certificate", CERTIFICATE, 3, 40.0),
            ("form-200-investors", FORM, 200, 150.0),
            ("form-200-ext-b", FORM, 200, 150.0),
        ]
        for label, doc_type, investors, target in cases:
            template = catalog.get(doc_type, "标准")
            data = sample_document(doc_type, investors)
            if label.endswith("ext-b"):
                data = with_rare_names(data)

            def unsigned(data: object = data, template: object = template) -> object:
                return render(data, template)  # type: ignore[arg-type]

            def signed(data: object = data, template: object = template) -> object:
                doc = render(data, template)  # type: ignore[arg-type]
                return signer.sign(SignRequest(doc.pdf, doc.seal_page, doc.seal_box, "产权登记", "重庆"))

            base, base_cpu = timed(unsigned, args.runs)
            full, full_cpu = timed(signed, args.runs)
            b_med, f_med = statistics.median(base), statistics.median(full)
            f_p90 = statistics.quantiles(full, n=10)[-1]
            print(
                f"{label:20s} unsigned {b_med:6.1f} ms median (cpu {statistics.median(base_cpu):6.1f})"
                f" | signed {f_med:6.1f} ms median (cpu {statistics.median(full_cpu):6.1f}), p90 {f_p90:6.1f}"
                f" | signed/unsigned {f_med / b_med:4.2f}x | target <= {target:.0f} ms: "
                f"{'ok' if f_med <= target else 'MISSED'}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
