"""Declared event kinds and the stored event record.

Kinds are types, not free dicts, so a misspelt field fails at the writer rather
than surfacing years later in an audit, and consumers read them typed as well:
`StoredEvent.body` is the declared model (switch on its class), parsed once per
StoredEvent. Reading never fails on an unknown kind where code only lists events:
old ledgers must stay readable after code changes, so `StoredEvent.payload` (a
dict) is always available and only `.body` needs the declaration.
"""

from __future__ import annotations

import json
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict

from ledger.canonical import encode_canonical, encode_string, refuse_floats
from ledger.errors import LedgerError, PayloadError, UnexpectedKindError, UnknownKindError

# Field names that smell of credentials; a fact such as "password changed" is fine,
# the credential itself never enters an event (it could never be removed again).
FORBIDDEN_FIELD_NAMES = frozenset(
    {
        "password",
        "passwd",
        "password_hash",
        "passwordhash",
        "pwd",
        "secret",
        "secret_key",
        "private_key",
        "api_key",
        "access_token",
        "refresh_token",
        "session_token",
        "token_secret",
        "hmac_key",
        "signing_key",
        "credentials",
    }
)
FORBIDDEN_FIELD_SUFFIXES = ("_password", "_password_hash", "_secret", "_private_key", "_api_key")


class EventBody(BaseModel):
    """Base of every declared event kind; register subclasses with `@event_kind`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: ClassVar[str] = ""
    # set by @event_kind when every field has a plain type (see _compile_payload_encoder)
    _payload_encoder: ClassVar[Callable[[dict[str, Any]], str] | None] = None

    def to_payload_json(self) -> str:
        """Canonical payload: pydantic's JSON mode (Decimal → string, date → ISO), sorted, floats refused."""
        encoder = type(self)._payload_encoder
        if encoder is not None:
            return encoder(self.__dict__)
        return self.generic_payload_json()

    def generic_payload_json(self) -> str:
        """The reference encoding every kind can use; the compiled one must give the same text (tested)."""
        data = self.model_dump(mode="json")
        try:
            return encode_canonical(data, self.kind)
        except PayloadError:
            refuse_floats(data, self.kind)  # re-walk to name the float's path
            raise


_REGISTRY: dict[str, type[EventBody]] = {}

BodyT = TypeVar("BodyT", bound=type[EventBody])
EventT = TypeVar("EventT", bound=EventBody)


def _check_field_names(model: type[BaseModel], kind: str, prefix: str = "") -> None:
    for name, info in model.model_fields.items():
        lowered = name.lower()
        if lowered in FORBIDDEN_FIELD_NAMES or lowered.endswith(FORBIDDEN_FIELD_SUFFIXES):
            raise PayloadError(kind, prefix + name, "secrets (passwords, tokens, keys) never enter the ledger")
        annotation = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            _check_field_names(annotation, kind, f"{prefix}{name}.")


def _encode_int(value: int) -> str:
    return int.__repr__(value)  # an IntEnum's str() is its name on some versions; its JSON is the number


def _encode_bool(value: bool) -> str:
    return "true" if value else "false"


def _encode_decimal(value: Decimal) -> str:
    return encode_string(str(value))  # pydantic's JSON mode writes str(Decimal) too


def _encode_str_list(value: list[str]) -> str:
    return "[" + ",".join(map(encode_string, value)) + "]"


_PLAIN_ENCODERS: dict[Any, Callable[[Any], str]] = {
    str: encode_string,
    int: _encode_int,
    bool: _encode_bool,
    Decimal: _encode_decimal,
    list[str]: _encode_str_list,
}


def _optional(encode: Callable[[Any], str]) -> Callable[[Any], str]:
    def encode_optional(value: Any) -> str:
        return "null" if value is None else encode(value)

    return encode_optional


def _field_encoder(annotation: Any) -> Callable[[Any], str] | None:
    """Direct encoder for a plain field type, or None when only pydantic's own dump is safe."""
    encoder = _PLAIN_ENCODERS.get(annotation)
    if encoder is not None:
        return encoder
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(members) == 1 and len(typing.get_args(annotation)) == 2 and members[0] in _PLAIN_ENCODERS:
            return _optional(_PLAIN_ENCODERS[members[0]])
    return None


def _compile_payload_encoder(cls: type[EventBody]) -> Callable[[dict[str, Any]], str] | None:
    """A per-kind encoder that writes the canonical payload straight from the field values.

    Appends are the ledger's hot path, and pydantic's JSON-mode dump followed by a
    sorted re-encode costs more than the SQLite insert's own share; for kinds whose
    fields are plain (str, int, bool, Decimal, list[str], optionally None) the
    canonical text can be written directly, in sorted key order, with the same string
    encoder. Anything else - nested models, dicts, dates, custom serializers, aliases
    - keeps the generic path, so the shortcut never changes a byte (tests compare both).
    """
    decorators = cls.__pydantic_decorators__
    if decorators.field_serializers or decorators.model_serializers or cls.model_computed_fields:
        return None
    terms: list[str] = []
    namespace: dict[str, Any] = {}
    for position, name in enumerate(sorted(cls.model_fields)):
        info = cls.model_fields[name]
        if info.alias is not None or info.serialization_alias is not None or info.exclude:
            return None
        encoder = _field_encoder(info.annotation)
        if encoder is None:
            return None
        namespace[f"encode_{position}"] = encoder
        key = encode_string(name)  # a field name is an identifier: no quote, brace or backslash to escape
        terms.append(f"{key}:{{encode_{position}(values[{name!r}])}}")
    # generated like dataclasses' __init__: one f-string (a single allocation, unlike a chain of +),
    # no per-field loop or call on the hot path
    # (triple double quotes: the keys are JSON strings, the subscripts single-quoted identifiers)
    source = 'def encode(values):\n    return f"""{{' + ",".join(terms) + '}}"""\n'
    exec(source, namespace)  # the source holds only field names (identifiers) and repr()-quoted literals
    encode: Callable[[dict[str, Any]], str] = namespace["encode"]
    return encode


def event_kind(kind: str) -> Any:
    """Class decorator declaring `kind` as the event kind of an `EventBody` subclass."""
    if not kind or kind != kind.strip():
        raise LedgerError(f"invalid event kind {kind!r}")

    def register(cls: BodyT) -> BodyT:
        if not (isinstance(cls, type) and issubclass(cls, EventBody)):
            raise LedgerError(f"@event_kind({kind!r}) must decorate an EventBody subclass")
        existing = _REGISTRY.get(kind)
        if existing is not None and (existing.__module__, existing.__qualname__) != (cls.__module__, cls.__qualname__):
            raise LedgerError(
                f"event kind {kind!r} is already declared by {existing.__module__}.{existing.__qualname__}"
            )
        _check_field_names(cls, kind)
        cls.kind = kind
        cls._payload_encoder = _compile_payload_encoder(cls)
        _REGISTRY[kind] = cls
        return cls

    return register


def body_type(kind: str) -> type[EventBody]:
    try:
        return _REGISTRY[kind]
    except KeyError:
        raise UnknownKindError(kind) from None


def registered_kinds() -> dict[str, type[EventBody]]:
    return dict(_REGISTRY)


@dataclass(slots=True, unsafe_hash=True)  # hashable like the frozen value it stands for
class StoredEvent:
    """One event as it is in the ledger: its position, time, who, about what, and the payload.

    A value: treat it as read-only. (Not a frozen dataclass only because frozen
    construction costs three times as much, and every append builds one per event.)
    """

    seq: int
    ts: datetime
    kind: str
    actor: str
    subject: str
    payload_json: str
    leaf_hash: bytes
    _payload: dict[str, Any] | None = field(default=None, repr=False, compare=False)
    _body: EventBody | None = field(default=None, repr=False, compare=False)

    @property
    def payload(self) -> dict[str, Any]:
        """The payload as a dict (parsed once); readable whether or not the kind is declared.

        For code that lists events of any kind (ledger log, export, verify); everything
        that acts on an event reads `.body`."""
        if self._payload is None:
            self._payload = json.loads(self.payload_json)
        return self._payload

    @property
    def body(self) -> EventBody:
        """The typed body, validated and parsed once; raises `UnknownKindError` for a kind this code
        base does not declare.

        Validated rather than built with `model_construct`: pydantic-core's `model_validate_json`
        costs about what `json.loads` of the same text does (measured on a filing.received with
        its registration: ~22 us both; ~1.5 us both for a small kind), less than `json.loads`
        followed by `model_construct`, and it types nested values, fills the defaults of
        fields added after an old event was written and refuses a payload that no longer fits.
        """
        body = self._body
        if body is None:
            cls = body_type(self.kind)
            parsed = self._payload
            body = cls.model_validate_json(self.payload_json) if parsed is None else cls.model_validate(parsed)
            self._body = body
        return body

    def body_as(self, cls: type[EventT]) -> EventT:
        """`.body` where the caller selected the kind (e.g. `ledger.events(kind=Cls.kind)`), typed as such."""
        body = self.body
        if not isinstance(body, cls):
            raise UnexpectedKindError(self.seq, self.kind, cls.kind)
        return body

    @property
    def leaf_index(self) -> int:
        return self.seq - 1

    def to_json_dict(self) -> dict[str, Any]:
        from ledger.canonical import format_ts

        return {
            "seq": self.seq,
            "ts": format_ts(self.ts),
            "kind": self.kind,
            "actor": self.actor,
            "subject": self.subject,
            "payload": self.payload,
            "leaf_hash": self.leaf_hash.hex(),
        }
