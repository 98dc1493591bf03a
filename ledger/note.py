"""Checkpoints in the C2SP signed-note format, signed with Ed25519.

The format is the one transparency logs and their witnesses speak, so a
checkpoint can be checked by tools other than ours: text is `origin\\nsize\\nroot\\n`,
then a blank line, then `— <name> <base64(keyid ‖ signature)>` lines.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ledger.durable import atomic_write_text, write_new
from ledger.errors import KeyFileError

ALG_ED25519 = b"\x01"
SIGNATURE_PREFIX = "\u2014 "  # em dash and a space, as the spec requires


def key_id(name: str, public_raw: bytes) -> bytes:
    return hashlib.sha256(name.encode("utf-8") + b"\n" + ALG_ED25519 + public_raw).digest()[:4]


def _public_raw(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


@dataclass(frozen=True)
class NoteVerifier:
    """A public key with its note name, as in a verifier key string `name+hexid+base64key`."""

    name: str
    public_key: Ed25519PublicKey

    @property
    def public_raw(self) -> bytes:
        return _public_raw(self.public_key)

    @property
    def key_id(self) -> bytes:
        return key_id(self.name, self.public_raw)

    def to_string(self) -> str:
        encoded = base64.b64encode(ALG_ED25519 + self.public_raw).decode("ascii")
        return f"{self.name}+{self.key_id.hex()}+{encoded}"

    @classmethod
    def from_string(cls, text: str) -> NoteVerifier:
        parts = text.strip().split("+", 2)  # the base64 key itself may contain "+"
        if len(parts) != 3:
            raise ValueError("a verifier key has the form name+keyid+base64key")
        name, hex_id, encoded = parts
        raw = base64.b64decode(encoded, validate=True)
        if len(raw) != 33 or raw[:1] != ALG_ED25519:
            raise ValueError("only Ed25519 verifier keys (algorithm 0x01) are supported")
        verifier = cls(name, Ed25519PublicKey.from_public_bytes(raw[1:]))
        if verifier.key_id.hex() != hex_id.lower():
            raise ValueError("key id does not match the name and public key")
        return verifier


def check_key_name(name: str) -> None:
    """The signed-note spec: a key name is non-empty and has no spaces, newlines or plus signs."""
    if not name or "+" in name or any(ch.isspace() for ch in name):
        raise ValueError(f"invalid note key name {name!r}: must be non-empty, without spaces or '+'")


@dataclass(frozen=True)
class NoteSigner:
    name: str
    private_key: Ed25519PrivateKey

    def __post_init__(self) -> None:
        check_key_name(self.name)

    @property
    def verifier(self) -> NoteVerifier:
        return NoteVerifier(self.name, self.private_key.public_key())

    def sign(self, text: str) -> str:
        """The complete signed note for `text` (which must end in a newline)."""
        if not text.endswith("\n"):
            raise ValueError("note text must end with a newline")
        signature = self.private_key.sign(text.encode("utf-8"))
        blob = base64.b64encode(self.verifier.key_id + signature).decode("ascii")
        return f"{text}\n{SIGNATURE_PREFIX}{self.name} {blob}\n"


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes

    def text(self) -> str:
        return f"{self.origin}\n{self.size}\n{base64.b64encode(self.root).decode('ascii')}\n"


class NoteError(ValueError):
    """A signed note that does not parse or whose signature does not verify."""


def open_note(note: str, verifier: NoteVerifier) -> Checkpoint:
    """Parse a signed checkpoint and check the signature by `verifier`; raises NoteError."""
    text, sep, signatures = note.partition("\n\n")
    if not sep:
        raise NoteError("no blank line between text and signatures")
    text += "\n"
    verified = False
    for line in signatures.splitlines():
        if not line.startswith(SIGNATURE_PREFIX):
            raise NoteError("malformed signature line")
        name, _, blob = line[len(SIGNATURE_PREFIX) :].rpartition(" ")
        if name != verifier.name:
            continue
        try:
            raw = base64.b64decode(blob, validate=True)
        except ValueError as exc:
            raise NoteError("signature is not base64") from exc
        if raw[:4] != verifier.key_id:
            continue
        try:
            verifier.public_key.verify(raw[4:], text.encode("utf-8"))
        except InvalidSignature as exc:
            raise NoteError("bad signature") from exc
        verified = True
    if not verified:
        raise NoteError(f"no signature by {verifier.name}")
    return _checkpoint_text(text)


def open_any(note: str, verifiers: Sequence[NoteVerifier]) -> Checkpoint:
    """The checkpoint of a note signed by any of `verifiers`; the first verifier's complaint otherwise."""
    first: NoteError | None = None
    for verifier in verifiers:
        try:
            return open_note(note, verifier)
        except NoteError as exc:
            first = first or exc
    raise first or NoteError("no verifier key")


def read_unverified(note: str) -> Checkpoint:
    """The checkpoint a note claims, signature not checked: for a deployment without any key file.

    It can still tell that a database is older than what was once signed; only with a
    verifier can it tell that the claim itself is genuine.
    """
    text, sep, _signatures = note.partition("\n\n")
    if not sep:
        raise NoteError("no blank line between text and signatures")
    return _checkpoint_text(text + "\n")


def _checkpoint_text(text: str) -> Checkpoint:
    lines = text.split("\n")
    if len(lines) < 4 or not lines[1].isdigit():
        raise NoteError("checkpoint text must be origin, size, root")
    try:
        root = base64.b64decode(lines[2], validate=True)
    except ValueError as exc:
        raise NoteError("root hash is not base64") from exc
    if len(root) != 32:
        raise NoteError("root hash is not 32 bytes")
    return Checkpoint(lines[0], int(lines[1]), root)


def generate_key_files(private_path: Path, public_path: Path, name: str) -> bool:
    """Create the Ed25519 key pair unless the private key exists; True when created.

    The private key is written 0600 through O_EXCL so an existing key is never
    overwritten (a new key would orphan every checkpoint a witness holds).
    """
    try:
        check_key_name(name)
    except ValueError as exc:
        raise KeyFileError(str(private_path), str(exc)) from exc
    private_path.parent.mkdir(parents=True, exist_ok=True)
    if private_path.exists():
        if not public_path.exists():
            signer = load_signer(private_path, name)
            atomic_write_text(public_path, signer.verifier.to_string() + "\n")
        return False
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    write_new(private_path, pem, mode=0o600)
    atomic_write_text(public_path, NoteSigner(name, key).verifier.to_string() + "\n")
    return True


def load_signer(private_path: Path, name: str) -> NoteSigner:
    try:
        check_key_name(name)
    except ValueError as exc:
        raise KeyFileError(str(private_path), str(exc)) from exc
    try:
        key = serialization.load_pem_private_key(private_path.read_bytes(), password=None)
    except (OSError, ValueError) as exc:
        raise KeyFileError(str(private_path), f"cannot be read: {exc}") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyFileError(str(private_path), "not an Ed25519 private key")
    return NoteSigner(name, key)


def load_verifier(public_path: Path) -> NoteVerifier:
    try:
        return NoteVerifier.from_string(public_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise KeyFileError(str(public_path), f"cannot be read: {exc}") from exc
