"""GB 11714 organization codes and GB 32100 USCCs: known values and properties."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from validation.codes import (
    USCC_ALPHABET,
    is_valid_org_code,
    is_valid_uscc,
    make_org_code,
    make_uscc,
    normalize_org_code,
    org_check_char,
    org_code_of_uscc,
    uscc_check_char,
    valid_usccs,
)

ORG_BODY = st.text(alphabet="0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=8, max_size=8)
USCC_BODY = st.text(alphabet=USCC_ALPHABET, min_size=17, max_size=17)


def test_published_examples() -> None:
    assert org_check_char("D2143569") == "X"  # the standard's own example D2143569-X
    assert is_valid_org_code("D2143569X")
    assert is_valid_uscc("91350100M000100Y43")
    assert org_code_of_uscc("91350100M000100Y43") == "M000100Y4"


def test_check_character_edge_values() -> None:
    remainders = {org_check_char(f"{n:08d}") for n in range(3000)}
    assert "X" in remainders and "0" in remainders  # 10 -> X and 11 -> 0 both occur


@given(ORG_BODY)
def test_org_check_character_is_weighted_mod_11(body: str) -> None:
    values = [int(ch, 36) for ch in body]
    total = sum(v * w for v, w in zip(values, (3, 7, 9, 10, 5, 8, 4, 2), strict=True))
    expected = {10: "X", 11: "0"}.get(11 - total % 11, str(11 - total % 11))
    assert org_check_char(body) == expected
    assert is_valid_org_code(body + expected)


@given(ORG_BODY, st.sampled_from("0123456789X"))
def test_any_other_org_check_character_is_refused(body: str, other: str) -> None:
    if other != org_check_char(body):
        assert not is_valid_org_code(body + other)


@given(USCC_BODY)
def test_uscc_check_character(body: str) -> None:
    values = [USCC_ALPHABET.index(ch) for ch in body]
    total = sum(v * pow(3, i, 31) for i, v in enumerate(values))
    expected = USCC_ALPHABET[(31 - total % 31) % 31]
    assert uscc_check_char(body) == expected
    assert is_valid_uscc(body + expected)
    for other in USCC_ALPHABET:
        if other != expected:
            assert not is_valid_uscc(body + other)


@given(st.text(alphabet=USCC_ALPHABET, min_size=8, max_size=8))
def test_made_uscc_embeds_the_org_code(body: str) -> None:
    """Only codes made of the USCC alphabet can sit inside a USCC (GB 32100 drops I, O, Z, S, V)."""
    org = make_org_code(body)
    uscc = make_uscc("91500000", org)
    assert is_valid_uscc(uscc) and org_code_of_uscc(uscc) == org


@given(ORG_BODY)
def test_normalize_folds_what_people_type(body: str) -> None:
    code = make_org_code(body)
    typed = [
        f"{code[:8]}-{code[8]}",
        f" {code.lower()} ",
        "".join(chr(ord(c) + 0xFEE0) for c in code),
        f"{code[:4]} {code[4:8]}－{code[8]}",
        f"\u3000{code}\u00a0",
    ]
    for text in typed:
        assert normalize_org_code(text) == code
    assert normalize_org_code(normalize_org_code(typed[0])) == code


@pytest.mark.parametrize("bad", ["1234567", "ABCDEFGHIJ", "ABCDEFGH?", ""])
def test_malformed_org_codes(bad: str) -> None:
    assert not is_valid_org_code(bad)


def test_uscc_refuses_letters_outside_the_alphabet() -> None:
    assert not is_valid_uscc("91350100M000100YI3")
    with pytest.raises(ValueError):
        uscc_check_char("I" * 17)


@given(
    st.lists(
        st.one_of(
            st.builds(lambda body: body + uscc_check_char(body), USCC_BODY),
            st.text(alphabet=USCC_ALPHABET, min_size=18, max_size=18),
            st.text(alphabet=USCC_ALPHABET + "IOZSV-\n ", min_size=0, max_size=40),
        ),
        max_size=12,
    )
)
def test_bulk_uscc_check_agrees_with_the_single_check(codes: list[str]) -> None:
    assert valid_usccs(codes) == [is_valid_uscc(code) for code in codes]
