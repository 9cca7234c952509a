"""Staff accounts: scrypt hashes, roles, lock-out after repeated failures, disable, reset; console audit log."""

from __future__ import annotations

import pytest

from qcchain_console.errors import AuthError, UserError
from qcchain_console.passwords import hash_password, verify_password
from qcchain_console.store import LOCK_AFTER, Store

PW = "Correct-horse-9"


@pytest.fixture()
def store(tmp_path):
    return Store(tmp_path / "console.db")


def test_hash_is_salted_scrypt_and_verifies():
    a, b = hash_password(PW), hash_password(PW)
    assert a.startswith("scrypt$32768$8$1$") and a != b
    assert verify_password(PW, a) and not verify_password(PW + "x", a)
    assert not verify_password(PW, "md5$abc")


@pytest.mark.parametrize("weak", ["short1A", "alllowercaseletters"])
def test_weak_passwords_refused(store, weak):
    with pytest.raises(UserError):
        store.add("bob", "viewer", weak)
    assert store.list() == []


def test_roles_and_names_checked(store):
    with pytest.raises(UserError, match="role"):
        store.add("bob", "root", PW)
    with pytest.raises(UserError, match="user name"):
        store.add("<script>", "viewer", PW)
    store.add("bob", "viewer", PW)
    with pytest.raises(UserError, match="exists"):
        store.add("bob", "admin", PW)


def test_lockout_after_repeated_failures_and_reset(store):
    store.add("bob", "operator", PW)
    for _ in range(LOCK_AFTER):
        with pytest.raises(AuthError, match="wrong"):
            store.authenticate("bob", "Wrong-pass-1")
    with pytest.raises(AuthError, match="locked"):
        store.authenticate("bob", PW)  # even the right password while locked
    store.reset("bob", "Another-pass-2")
    assert store.authenticate("bob", "Another-pass-2").role == "operator"


def test_unknown_user_and_wrong_password_look_the_same(store):
    store.add("bob", "viewer", PW)
    with pytest.raises(AuthError) as unknown:
        store.authenticate("nobody", PW)
    with pytest.raises(AuthError) as wrong:
        store.authenticate("bob", "Wrong-pass-1")
    assert str(unknown.value) == str(wrong.value)


def test_disabled_account_cannot_log_in(store):
    store.add("bob", "viewer", PW)
    store.set_disabled("bob", True)
    with pytest.raises(AuthError, match="disabled"):
        store.authenticate("bob", PW)


def test_console_audit_log_attributes_writes(store):
    store.record("alice", "sharing_approve", "g-1", "status approved", "tx1")
    (entry,) = store.audit_log()
    assert (entry.username, entry.action, entry.target, entry.tx_id) == ("alice", "sharing_approve", "g-1", "tx1")
