"""PDF inspection helpers for the tests: font dictionaries and page text."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

from pypdf import PdfReader
from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject

AUTHORITY = "重庆市国资委"


def _walk(obj: Any, seen: set[tuple[int, int]]) -> Iterator[DictionaryObject]:
    if isinstance(obj, IndirectObject):
        key = (obj.idnum, obj.generation)
        if key in seen:
            return
        seen.add(key)
        obj = obj.get_object()
    if isinstance(obj, DictionaryObject):
        yield obj
        for value in obj.values():
            yield from _walk(value, seen)
    elif isinstance(obj, ArrayObject):
        for value in obj:
            yield from _walk(value, seen)


def font_dicts(pdf: bytes) -> list[DictionaryObject]:
    """Every /Type /Font dictionary reachable from the trailer (pages, forms, stamps, AcroForm)."""
    reader = PdfReader(io.BytesIO(pdf))
    return [d for d in _walk(reader.trailer, set()) if d.get("/Type") == "/Font"]


def is_embedded(font: DictionaryObject) -> bool:
    if font.get("/Subtype") == "/Type0":
        descendants = font["/DescendantFonts"].get_object()
        assert isinstance(descendants, ArrayObject)
        return all(is_embedded(d.get_object()) for d in descendants)
    descriptor = font.get("/FontDescriptor")
    if descriptor is None:
        return False
    descriptor = descriptor.get_object()
    return any(key in descriptor for key in ("/FontFile", "/FontFile2", "/FontFile3"))


def page_texts(pdf: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages]
