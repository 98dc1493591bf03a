#!/usr/bin/env python3
"""Check a `chanquan ledger proof SEQ` document offline, with nothing but the standard library.

Usage:  python3 verify_proof.py proof.json ledger.pub
        (ledger.pub holds the verifier key line `name+keyid+base64key`; get it from the
        operator through a channel other than the proof itself)

It recomputes the event's leaf hash from its fields, walks the RFC 9162 inclusion
proof up to a root, and checks that root against the checkpoint signed with the
ledger's Ed25519 key (C2SP signed note). Ed25519 verification is the RFC 8032
reference algorithm in pure Python (slow, but a single signature takes well under
a second). Exit status 0 means every check held.
"""

from __future__ import annotations

import base64
import hashlib
import json
import sys

# ---- Ed25519 verification (RFC 8032, section 6 reference code) ----
P = 2**255 - 19
Q = 2**252 + 27742317777372353535851937790883648493
D = -121665 * pow(121666, P - 2, P) % P
SQRT_M1 = pow(2, (P - 1) // 4, P)


def _recover_x(y: int, sign: int) -> int | None:
    if y >= P:
        return None
    x2 = (y * y - 1) * pow(D * y * y + 1, P - 2, P)
    if x2 % P == 0:
        return None if sign else 0
    x = pow(x2, (P + 3) // 8, P)
    if (x * x - x2) % P != 0:
        x = x * SQRT_M1 % P
    if (x * x - x2) % P != 0:
        return None
    if (x & 1) != sign:
        x = P - x
    return x


def _add(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
    big_a = (a[1] - a[0]) * (b[1] - b[0]) % P
    big_b = (a[1] + a[0]) * (b[1] + b[0]) % P
    big_c = 2 * a[3] * b[3] * D % P
    big_d = 2 * a[2] * b[2] % P
    e, f, g, h = big_b - big_a, big_d - big_c, big_d + big_c, big_b + big_a
    return (e * f % P, g * h % P, f * g % P, e * h % P)


def _mul(s: int, point: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
    result = (0, 1, 1, 0)
    while s > 0:
        if s & 1:
            result = _add(result, point)
        point = _add(point, point)
        s >>= 1
    return result


def _equal(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    return (a[0] * b[2] - b[0] * a[2]) % P == 0 and (a[1] * b[2] - b[1] * a[2]) % P == 0


def _decompress(data: bytes) -> tuple[int, int, int, int] | None:
    if len(data) != 32:
        return None
    y = int.from_bytes(data, "little")
    sign = y >> 255
    y &= (1 << 255) - 1
    x = _recover_x(y, sign)
    if x is None:
        return None
    return (x, y, 1, x * y % P)


_GY = 4 * pow(5, P - 2, P) % P
_GX = _recover_x(_GY, 0)
assert _GX is not None
BASE = (_GX, _GY, 1, _GX * _GY % P)


def ed25519_verify(public: bytes, message: bytes, signature: bytes) -> bool:
    if len(public) != 32 or len(signature) != 64:
        return False
    a = _decompress(public)
    r = _decompress(signature[:32])
    if a is None or r is None:
        return False
    s = int.from_bytes(signature[32:], "little")
    if s >= Q:
        return False
    h = int.from_bytes(hashlib.sha512(signature[:32] + public + message).digest(), "little") % Q
    return _equal(_mul(s, BASE), _add(r, _mul(h, a)))


# ---- RFC 9162 hashing and inclusion verification ----
def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def root_from_inclusion(leaf: bytes, index: int, size: int, proof: list[bytes]) -> bytes | None:
    if not 0 <= index < size:
        return None
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            r = _node(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = _node(r, p)
        fn >>= 1
        sn >>= 1
    return r if sn == 0 else None


def leaf_bytes(event: dict) -> bytes:
    """Canonical JSON of [seq, ts, kind, actor, subject, payload]: sorted keys, no spaces, UTF-8."""
    fields = [event["seq"], event["ts"], event["kind"], event["actor"], event["subject"], event["payload"]]
    return json.dumps(fields, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")


def check(proof_doc: dict, verifier_key: str) -> list[str]:
    problems: list[str] = []
    name, key_hex, key_b64 = verifier_key.strip().split("+", 2)
    key_raw = base64.b64decode(key_b64)
    if len(key_raw) != 33 or key_raw[0] != 1:
        return ["verifier key is not an Ed25519 note key"]
    public = key_raw[1:]
    key_id = hashlib.sha256(name.encode() + b"\n\x01" + public).digest()[:4]
    if key_id.hex() != key_hex:
        return ["verifier key id does not match its name and key"]

    note = proof_doc["checkpoint"]
    text, _, signatures = note.partition("\n\n")
    text += "\n"
    signed = False
    for line in signatures.splitlines():
        signer, _, blob_b64 = line.removeprefix("\u2014 ").rpartition(" ")
        blob = base64.b64decode(blob_b64)
        if signer == name and blob[:4] == key_id:
            signed = ed25519_verify(public, text.encode("utf-8"), blob[4:])
    if not signed:
        problems.append("checkpoint signature missing or invalid")
    _origin, size_text, root_b64 = text.split("\n")[:3]
    if int(size_text) != proof_doc["tree_size"]:
        problems.append("checkpoint size differs from the proof's tree size")
    root = base64.b64decode(root_b64)

    event = proof_doc["event"]
    leaf = hashlib.sha256(b"\x00" + leaf_bytes(event)).digest()
    if event.get("leaf_hash") and leaf.hex() != event["leaf_hash"]:
        problems.append("event fields do not hash to the stated leaf hash")
    if proof_doc["leaf_index"] != event["seq"] - 1:
        problems.append("leaf index is not seq - 1")
    path = [base64.b64decode(h) for h in proof_doc["inclusion_proof"]]
    if root_from_inclusion(leaf, proof_doc["leaf_index"], proof_doc["tree_size"], path) != root:
        problems.append("inclusion proof does not lead to the signed root")
    return problems


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(__doc__)
        return 2
    try:
        with open(argv[1], encoding="utf-8") as handle:
            proof_doc = json.load(handle)
        with open(argv[2], encoding="utf-8") as handle:
            verifier_key = handle.read()
        problems = check(proof_doc, verifier_key)
    except (OSError, ValueError, KeyError, TypeError, IndexError) as exc:
        print(f"FAIL: cannot read the proof or the key: {exc!r}")
        return 1
    for problem in problems:
        print("FAIL:", problem)
    if not problems:
        event = proof_doc["event"]
        print(f"OK: event {event['seq']} ({event['kind']}) is in the signed tree of size {proof_doc['tree_size']}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
