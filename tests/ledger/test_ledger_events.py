"""Canonical payloads, declared kinds, the secrets guard, blobs and signed notes."""

from __future__ import annotations

import base64
import hashlib
import json
import stat
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from ledger_support import ORIGIN, UnitAdded, make_keys
from pydantic import ValidationError

from ledger import (
    BlobError,
    BlobStore,
    Checkpoint,
    EventBody,
    LedgerError,
    NoteSigner,
    NoteVerifier,
    PayloadError,
    canonical_json,
    event_kind,
    leaf_data,
    load_verifier,
    open_note,
)
from ledger.note import NoteError, key_id


def test_canonical_json_is_sorted_compact_utf8_and_floatless() -> None:
    value = {"b": Decimal("1.10"), "a": [date(2026, 1, 2), "国资委", None, True, 3]}
    assert canonical_json(value) == '{"a":["2026-01-02","国资委",null,true,3],"b":"1.10"}'
    moment = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)
    assert canonical_json({"t": moment}) == '{"t":"2026-11-27T08:00:00.000000Z"}'
    for bad in ({"x": 1.5}, {"x": [0.1]}, {1: "a"}, {"x": Decimal("NaN")}, {"x": b"raw"}, {"x": object()}):
        with pytest.raises(PayloadError):
            canonical_json(bad)


def test_leaf_data_is_the_canonical_array() -> None:
    data = leaf_data(7, "2026-11-27T08:00:00.000000Z", "k.x", "演员", "S1", '{"a":"b"}')
    assert json.loads(data) == [7, "2026-11-27T08:00:00.000000Z", "k.x", "演员", "S1", {"a": "b"}]
    assert data == json.dumps(json.loads(data), ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()


def test_event_bodies_are_frozen_strict_and_refuse_floats() -> None:
    body = UnitAdded(code="U1", name="甲", capital=Decimal("5"))
    with pytest.raises(ValidationError):
        UnitAdded(code="U1", name="甲", capital=Decimal("5"), extra="no")  # type: ignore[call-arg]
    with pytest.raises(ValidationError):
        body.code = "U2"  # type: ignore[misc]
    assert body.to_payload_json() == '{"capital":"5","code":"U1","founded":null,"name":"甲"}'

    @event_kind("test.with_float")
    class WithFloat(EventBody):
        ratio: float

    with pytest.raises(PayloadError):
        WithFloat(ratio=0.5).to_payload_json()


def test_secret_fields_and_duplicate_kinds_are_refused_at_declaration() -> None:
    for field_name in ("password", "password_hash", "api_key", "reviewer_secret"):
        namespace = {"__annotations__": {field_name: str}}
        cls = type(f"Leaky_{field_name}", (EventBody,), namespace)
        with pytest.raises(PayloadError):
            event_kind(f"test.leaky.{field_name}")(cls)

    @event_kind("test.password_changed")
    class PasswordChanged(EventBody):  # the fact is fine, the secret is not in it
        username: str

    with pytest.raises(LedgerError):

        @event_kind("test.unit_added")
        class Impostor(EventBody):
            code: str


def test_blob_store_is_content_addressed_and_write_once(tmp_path: Path) -> None:
    blobs = BlobStore(tmp_path / "blobs")
    digest = blobs.put(b"hello")
    assert digest == hashlib.sha256(b"hello").hexdigest()
    path = blobs.path(digest)
    assert path == tmp_path / "blobs" / digest[:2] / digest[2:4] / digest
    assert blobs.get(digest) == b"hello" and blobs.exists(digest)
    assert blobs.put(b"hello") == digest
    source = tmp_path / "big.bin"
    source.write_bytes(b"x" * 3_000_000)
    big = blobs.put_file(source)
    with blobs.open(big) as handle:
        assert hashlib.sha256(handle.read()).hexdigest() == big
    assert blobs.check(digest) is None
    assert not list(path.parent.glob(".tmp-*"))
    assert stat.S_IMODE(path.stat().st_mode) == 0o444
    path.chmod(0o644)
    path.write_bytes(b"changed")
    assert blobs.check(digest) == "content does not match its hash"
    missing = "0" * 64
    assert blobs.check(missing) == "missing" and not blobs.exists(missing)
    with pytest.raises(BlobError):
        blobs.get(missing)
    with pytest.raises(BlobError):
        blobs.path("../../etc/passwd")


def test_signed_note_format_and_key_id(tmp_path: Path) -> None:
    key_path, pub_path = make_keys(tmp_path)
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    verifier = load_verifier(pub_path)
    raw = verifier.public_raw
    assert verifier.key_id == hashlib.sha256(ORIGIN.encode() + b"\n\x01" + raw).digest()[:4]
    encoded = base64.b64encode(b"\x01" + raw).decode()
    assert pub_path.read_text().strip() == f"{ORIGIN}+{verifier.key_id.hex()}+{encoded}"
    signer = NoteSigner(ORIGIN, Ed25519PrivateKey.from_private_bytes(b"\x07" * 32))
    checkpoint = Checkpoint(ORIGIN, 5, hashlib.sha256(b"root").digest())
    note = signer.sign(checkpoint.text())
    text, signature_line = note.split("\n\n")
    assert text.split("\n") == [ORIGIN, "5", base64.b64encode(checkpoint.root).decode()]
    assert signature_line.startswith(f"\u2014 {ORIGIN} ")
    assert open_note(note, signer.verifier) == checkpoint
    # the other verifier (the real key) does not accept it, nor does a tampered note
    with pytest.raises(NoteError):
        open_note(note, verifier)
    with pytest.raises(NoteError):
        open_note(note.replace("\n5\n", "\n6\n"), signer.verifier)
    blob = base64.b64decode(signature_line.split(" ")[-1])
    forged = blob[:10] + bytes([blob[10] ^ 1]) + blob[11:]
    with pytest.raises(NoteError):
        open_note(note.replace(base64.b64encode(blob).decode(), base64.b64encode(forged).decode()), signer.verifier)
    assert NoteVerifier.from_string(signer.verifier.to_string()).key_id == key_id(ORIGIN, signer.verifier.public_raw)


def test_key_generation_never_overwrites(tmp_path: Path) -> None:
    key_path, pub_path = make_keys(tmp_path)
    before = key_path.read_bytes()
    pub_path.unlink()
    make_keys(tmp_path)
    assert key_path.read_bytes() == before
    assert load_verifier(pub_path).public_raw == NoteSigner(ORIGIN, _load(key_path)).verifier.public_raw


def _load(path: Path) -> Ed25519PrivateKey:
    from cryptography.hazmat.primitives import serialization

    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    assert isinstance(key, Ed25519PrivateKey)
    return key


def test_standalone_ed25519_agrees_with_cryptography() -> None:
    import importlib.util
    import os

    spec = importlib.util.spec_from_file_location(
        "verify_proof_script", Path(__file__).resolve().parents[2] / "templates" / "web" / "static" / "verify_proof.py"
    )
    assert spec is not None and spec.loader is not None
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    for _ in range(4):
        key = Ed25519PrivateKey.generate()
        public = NoteSigner(ORIGIN, key).verifier.public_raw
        message = os.urandom(40)
        signature = key.sign(message)
        assert script.ed25519_verify(public, message, signature)
        assert not script.ed25519_verify(public, message + b"x", signature)
        assert not script.ed25519_verify(public, message, signature[:-1] + bytes([signature[-1] ^ 1]))
        assert not script.ed25519_verify(public, message, bytes([signature[0] ^ 4]) + signature[1:])
        other = NoteSigner(ORIGIN, Ed25519PrivateKey.generate()).verifier.public_raw
        assert not script.ed25519_verify(other, message, signature)


# Strings that trip hand-written JSON encoders: quotes, backslashes, controls, separators, CJK, astral.
TRICKY_TEXT = ["", '"', "\\", "a\nb\tc\r", "\x00\x1f\x7f", "\u2028\u2029", "国资委（测试）", "😀 emoji", "</script>"]
TRICKY_DECIMALS = ["0", "-0", "0.00", "1E+3", "1e-7", "12345.6700", "123456789012345678901234567890.123"]


def _sample_value(annotation: object, variant: int) -> object:
    import typing

    if annotation is str:
        return TRICKY_TEXT[variant % len(TRICKY_TEXT)]
    if annotation is int:
        return [0, -7, 2**63, 42][variant % 4]
    if annotation is bool:
        return variant % 2 == 0
    if annotation is Decimal:
        return Decimal(TRICKY_DECIMALS[variant % len(TRICKY_DECIMALS)])
    if annotation == list[str]:
        return TRICKY_TEXT[: variant % len(TRICKY_TEXT)]
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if len(args) == 1:
        return None if variant % 3 == 0 else _sample_value(args[0], variant)
    return None


def test_compiled_payload_encoders_write_exactly_the_generic_bytes() -> None:
    """Every declared kind with a compiled encoder agrees with pydantic's dump + canonical encoder."""
    import documents.events  # noqa: F401
    import intake.events  # noqa: F401 - registers the kinds under test
    import workflow.events  # noqa: F401
    from ledger.events import registered_kinds

    compiled = 0
    for kind, cls in registered_kinds().items():
        if cls._payload_encoder is None:
            continue
        compiled += 1
        for variant in range(12):
            values = {
                name: _sample_value(info.annotation, variant + i)
                for i, (name, info) in enumerate(cls.model_fields.items())
            }
            body = cls.model_validate(values)
            assert body.to_payload_json() == body.generic_payload_json(), (kind, values)
            assert json.loads(body.to_payload_json()) == json.loads(body.generic_payload_json())
    assert compiled >= 20  # the shortcut covers the common kinds; a regression to none would be silent otherwise


def test_kinds_with_nested_or_loose_fields_keep_the_generic_encoder() -> None:
    @event_kind("test.nested_payload")
    class Nested(EventBody):
        items: list[dict[str, str]]
        when: date
        extra: dict[str, object] | None = None

    assert Nested._payload_encoder is None
    body = Nested(items=[{"b": "2", "a": "1"}], when=date(2026, 1, 2))
    assert body.to_payload_json() == '{"extra":null,"items":[{"a":"1","b":"2"}],"when":"2026-01-02"}'
