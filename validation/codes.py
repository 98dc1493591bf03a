"""Chinese organization identifiers: GB 11714-1997 organization codes and GB 32100-2015 USCCs.

Filers type codes with hyphens, spaces, full-width characters and lower case; everything is
folded by `normalize_org_code` before the check characters are computed, so that a code is
judged on its content and not on how it was keyed in.
"""

from __future__ import annotations

import re

ORG_WEIGHTS: tuple[int, ...] = (3, 7, 9, 10, 5, 8, 4, 2)
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_VALUE = {ch: i for i, ch in enumerate(USCC_ALPHABET)}
USCC_WEIGHTS: tuple[int, ...] = tuple(pow(3, i, 31) for i in range(17))

_ORG_BODY = re.compile(r"^[0-9A-Z]{8}\Z")
_ORG_FULL = re.compile(r"^[0-9A-Z]{8}[0-9X]\Z")
_USCC_FULL = re.compile(r"^[0-9A-HJ-NP-RTUW-Y]{18}\Z")
_STRIP = dict.fromkeys(map(ord, "-－‐‑–— \t\r\n\u3000\u00a0"), None)


_FOLD = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}


def fold_width(text: str) -> str:
    """Full-width ASCII (Ａ１－) to half-width; ideographic space to a plain space."""
    if text.isascii():  # nothing to fold, and translate() with a dict costs a lookup per character
        return text
    return text.translate(_FOLD)


_NORMALIZE = {**_FOLD, **_STRIP}


def normalize_org_code(text: str) -> str:
    """Hyphens and blanks removed, full-width folded, upper case: the form user names use too."""
    if text.isascii() and text.isalnum():  # already plain (the usual case): translate() with a dict is slow
        return text.upper()
    return text.translate(_NORMALIZE).upper()


_ORG_VALUE = {ch: i for i, ch in enumerate("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ")}
# One {character: value * weight} table per position, so a check sum is a single map over the code:
# checks run for every investor row, and this form is several times faster than computing products.
_ORG_TERMS = tuple({ch: v * w for ch, v in _ORG_VALUE.items()} for w in ORG_WEIGHTS)
_USCC_BODY = re.compile(r"^[0-9A-HJ-NP-RTUW-Y]{17}\Z")


def org_check_char(body: str) -> str:
    """Check character of an 8-character organization code body (GB 11714: 10 -> X, 11 -> 0)."""
    if not _ORG_BODY.match(body):
        raise ValueError(f"organization code body must be 8 characters 0-9A-Z: {body!r}")
    return org_check_char_unchecked(body)


def org_check_char_unchecked(body: str) -> str:
    """org_check_char for a body already known to match the format (the rules check format first)."""
    check = 11 - sum(map(dict.__getitem__, _ORG_TERMS, body)) % 11
    if check == 10:
        return "X"
    if check == 11:
        return "0"
    return str(check)


def is_org_code_format(code: str) -> bool:
    return bool(_ORG_FULL.match(code))


def is_valid_org_code(code: str) -> bool:
    """True for a normalized 9-character code whose last character is the right check character."""
    return is_org_code_format(code) and org_check_char_unchecked(code[:8]) == code[8]


def uscc_check_char(body: str) -> str:
    """Check character of the first 17 characters of a USCC (GB 32100: weights 3^(i-1) mod 31)."""
    if not _USCC_BODY.match(body):
        raise ValueError(f"USCC body must be 17 characters of {USCC_ALPHABET}: {body!r}")
    return uscc_check_char_unchecked(body)


def _base34_digits() -> bytes:
    table = bytearray(range(256))
    for ch, value in _USCC_VALUE.items():
        table[ord(ch)] = ord("0123456789abcdefghijklmnopqrstu"[value])
    return bytes(table)


_USCC_AS_BASE34 = _base34_digits()
"""Each USCC character as the base-34 digit of its value (0-9, a-u)."""


def uscc_check_char_unchecked(body: str) -> str:
    """uscc_check_char for a body already known to match the format (the rules check format first).

    The weights are 3^i mod 31 and 34 = 3 (mod 31), so the weighted sum is, mod 31, the body read
    backwards as a base-34 number: int() does the whole sum in C, twice as fast as summing the
    terms, and this runs for every investor row.
    """
    return USCC_ALPHABET[-int(body.encode("ascii")[::-1].translate(_USCC_AS_BASE34), 34) % 31]


_USCC_LINE_BYTES = (USCC_ALPHABET + "\n").encode("ascii")


def valid_usccs(codes: list[str]) -> list[bool]:
    """is_valid_uscc of each code; a few passes over the joined column check the format of a whole table.

    The column is then encoded, translated to base-34 digits and reversed once as a whole: in
    the reversed text each code's body is the 17 bytes ending 19 * index before the end, already
    backwards, so each check character costs one slice and one int().
    """
    joined = ("\n".join(codes) + "\n").encode("utf-8")
    count = len(codes)
    plain = (
        len(joined) == 19 * count  # (UTF-8: any non-ASCII character makes the text longer)
        and not joined.translate(None, _USCC_LINE_BYTES)  # nothing outside the alphabet and line breaks
        and joined.count(b"\n") == count
        and joined[18::19] == b"\n" * count  # each line exactly 18 characters
    )
    if not plain:
        return [is_valid_uscc(code) for code in codes]
    backwards = joined.translate(_USCC_AS_BASE34)[::-1]
    end = len(backwards)
    return [
        USCC_ALPHABET[-int(backwards[end - 19 * index - 17 : end - 19 * index], 34) % 31] == code[17]
        for index, code in enumerate(codes)
    ]


def is_uscc_format(code: str) -> bool:
    return bool(_USCC_FULL.match(code))


def is_valid_uscc(code: str) -> bool:
    return is_uscc_format(code) and uscc_check_char_unchecked(code[:17]) == code[17]


def org_code_of_uscc(uscc: str) -> str:
    """Characters 9-17 of a USCC, which are the unit's organization code."""
    return uscc[8:17]


def make_org_code(body: str) -> str:
    """A valid organization code for an 8-character body (used by tests, samples and demos)."""
    return body + org_check_char(body)


def make_uscc(prefix: str, org_code: str) -> str:
    """A valid USCC from an 8-character prefix (authority, kind, 6-digit region) and a 9-character org code."""
    body = prefix + org_code
    return body + uscc_check_char(body)
