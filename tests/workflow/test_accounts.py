"""Accounts: the initial-password rule, must-change, policy, lockout — and no secret in the ledger."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from helpers import Tree
from hypothesis import given
from hypothesis import strategies as st

from workflow import AccountStore, PasswordPolicyError, ScryptParams, Workflow


def test_initial_password_is_the_code_and_must_change(wf: Workflow, tree: Tree) -> None:
    result = wf.accounts.authenticate(tree.c.lower()[:4] + "-" + tree.c.lower()[4:], tree.c)
    assert result.ok and result.must_change and result.username == tree.c
    assert not wf.accounts.authenticate(tree.c, "something-else").ok
    assert not wf.accounts.authenticate("999999999", "999999999").ok  # no such unit


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("Ab1!", "个字符"),
        ("abcdefghijk", "类"),
        ("abcdefgh12", "类"),
    ],
)
def test_password_policy(wf: Workflow, tree: Tree, password: str, reason: str) -> None:
    with pytest.raises(PasswordPolicyError) as caught:
        wf.accounts.change_password(tree.c, tree.c, password)
    assert reason in caught.value.reason_zh
    assert wf.accounts.authenticate(tree.c, tree.c).must_change


def test_password_may_not_be_the_code(tmp_path: Path) -> None:
    store = AccountStore(tmp_path / "a.sqlite3", is_known=lambda n: n == "AB12345678", scrypt=ScryptParams(n=16))
    try:
        with pytest.raises(PasswordPolicyError) as caught:
            store.set_password("AB12345678", "ab12345678")  # same code, other case: still the code
        assert "用户名" in caught.value.reason_zh
        with pytest.raises(PasswordPolicyError):
            store.change_password("AB12345678", "wrong-old", "Good-Passw0rd")
    finally:
        store.close()


def test_change_clears_must_change_and_is_recorded(wf: Workflow, tree: Tree) -> None:
    wf.accounts.change_password(tree.c, tree.c, "Chanquan-2026!")
    result = wf.accounts.authenticate(tree.c, "Chanquan-2026!")
    assert result.ok and not result.must_change
    assert not wf.accounts.authenticate(tree.c, tree.c).ok  # the initial password no longer works
    facts = wf.account_facts(tree.c)
    assert facts is not None and facts["must_change"] == 0 and facts["password_changed_at"]
    changed = list(wf.ledger.events(kind="account.password_changed"))
    assert [e.payload for e in changed] == [{"username": tree.c}]
    everything = "".join(e.payload_json for e in wf.ledger.events())
    assert "Chanquan-2026!" not in everything and "scrypt$" not in everything


def test_lockout_after_failures_within_window(tmp_path: Path) -> None:
    now = [datetime(2026, 1, 5, 9, 0, tzinfo=UTC)]
    locked: list[tuple[str, str]] = []
    store = AccountStore(
        tmp_path / "a.sqlite3",
        lockout_failures=5,
        lockout_window=timedelta(minutes=15),
        is_known=lambda n: n == "500100008",
        notify=lambda fact: locked.append((fact.kind, fact.username)),
        scrypt=ScryptParams(n=16),
        clock=lambda: now[0],
    )
    try:
        for _ in range(4):
            assert not store.authenticate("500100008", "bad").locked
            now[0] += timedelta(minutes=1)
        now[0] += timedelta(minutes=20)  # the old failures fall out of the window
        for _ in range(4):
            assert not store.authenticate("500100008", "bad").locked
        fifth = store.authenticate("500100008", "bad")
        assert fifth.locked and not fifth.ok and "锁定" in fifth.reason_zh
        assert locked == [("account.locked", "500100008")]
        right_but_locked = store.authenticate("500100008", "500100008")
        assert not right_but_locked.ok and right_but_locked.locked
        now[0] += timedelta(minutes=16)
        assert store.authenticate("500100008", "500100008").ok
    finally:
        store.close()


def test_lockout_is_a_ledger_fact_and_reset_unlocks(wf: Workflow, tree: Tree) -> None:
    for _ in range(5):
        wf.accounts.authenticate(tree.b, "wrong")
    assert wf.accounts.authenticate(tree.b, tree.b).locked
    locked = list(wf.ledger.events(kind="account.locked"))
    assert len(locked) == 1 and locked[0].payload["username"] == tree.b and locked[0].payload["failures"] == 5
    wf.accounts.set_password(tree.b, "Chanquan-2026!")
    wf.accounts.reset(tree.b)
    again = wf.accounts.authenticate(tree.b, tree.b)
    assert again.ok and again.must_change
    facts = wf.account_facts(tree.b)
    assert facts is not None and facts["must_change"] == 1 and facts["reset_at"]


def _normalized_the_long_way(text: str) -> str:
    import unicodedata

    return "".join(ch for ch in unicodedata.normalize("NFKC", text) if ch not in "-– \t\r\n").upper()


@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=24))
def test_username_normalization_fast_path_changes_nothing(text: str) -> None:
    from workflow.accounts import normalize_username

    assert normalize_username(text) == _normalized_the_long_way(text)


def test_username_normalization_examples() -> None:
    from workflow.accounts import normalize_username

    assert normalize_username("ma5u1234x") == "MA5U1234X"
    assert normalize_username("MA5U-1234 X") == "MA5U1234X"
    assert normalize_username("ＭＡ５Ｕ１２３４Ｘ") == "MA5U1234X"
    assert normalize_username("ß") == "SS"  # not ASCII: the long way, as before
