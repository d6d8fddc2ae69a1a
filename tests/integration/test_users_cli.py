"""`wirewatch users ...` against the embedded Redis, as an administrator runs it: accounts,
roles, API keys shown once, and moving free-text owners to accounts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.cli import Run, cli


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Run:
    monkeypatch.setenv("WIREWATCH_DATA_DIR", str(tmp_path / "data"))
    return cli()


def listed(run: Run, *command: str, key: str = "name") -> dict[str, dict[str, object]]:
    code, out, err = run(*command, "--json")
    assert code == 0, err
    return {row[key]: row for row in map(json.loads, out.splitlines())}


def test_users_are_added_listed_changed_and_removed(run: Run) -> None:
    code, out, err = run("users", "add", "ana", "--role", "subscriber", "--password-stdin",
                         input="ana-password\n")
    assert (code, out) == (0, "added subscriber ana\n"), err
    code, _, err = run("users", "add", "ana", "--role", "admin", "--no-password")
    assert code == 1 and "user 'ana' exists already" in err
    code, _, err = run("users", "add", "bo", "--role", "subscriber", "--password-stdin",
                       input="short\n")
    assert code == 1 and "at least 8 characters" in err
    code, _, err = run("users", "add", "Bo Smith", "--role", "subscriber", "--no-password")
    assert code == 1 and "user name 'Bo Smith'" in err
    code, _, err = run("users", "add", "bo", "--role", "root", "--no-password")
    assert code == 2 and "'root' is not one of" in err
    assert run("users", "add", "sso-op", "--role", "operator", "--no-password")[0] == 0

    users = listed(run, "users", "list")
    assert {name: (row["role"], row["password"]) for name, row in users.items()} == {
        "ana": ("subscriber", True), "sso-op": ("operator", False)}

    assert run("users", "set-role", "ana", "operator")[1] == "ana is now operator\n"
    code, out, err = run("users", "key", "create", "ana")
    assert code == 0 and out.startswith("wwk_") and "not shown again" in err
    [key_id] = listed(run, "users", "list")["ana"]["keys"]  # type: ignore[misc]
    assert out.strip() not in json.dumps(listed(run, "users", "list"))  # only the id
    assert run("users", "key", "revoke", "ana", "nope00")[0] == 1
    assert run("users", "key", "revoke", "ana", str(key_id))[0] == 0
    assert listed(run, "users", "list")["ana"]["keys"] == []
    assert run("users", "reset", "ana", "--no-password")[1] == "ana has no password now\n"
    assert listed(run, "users", "list")["ana"]["password"] is False

    code, _, err = run("users", "remove", "ana", input="n\n")
    assert code == 1 and "nothing removed" in err
    assert run("users", "remove", "ana", "--yes")[1] == "removed user ana\n"
    assert set(listed(run, "users", "list")) == {"sso-op"}
    assert run("users", "set-role", "ana", "admin")[0] == 1


def test_adopt_moves_exact_free_text_owners_to_a_user_and_only_when_run(run: Run) -> None:
    for name, owner in (("Ana one", "Ana Lima"), ("Ana two", "Ana Lima"), ("Other", "ana")):
        code, _, err = run("subscriptions", "add", name, "--query", "topic:earnings",
                           "--owner", owner)
        assert code == 0, err
    code, _, err = run("users", "adopt", "Ana Lima", "--user", "ana")
    assert code == 1 and "no user 'ana'" in err
    assert run("users", "add", "ana", "--role", "subscriber", "--no-password")[0] == 0
    code, out, _ = run("users", "adopt", "Ana Lima", "--user", "ana", "--dry-run")
    assert out == "would give 2 subscription(s) owned by 'Ana Lima' to ana: ana-one, ana-two\n"
    owners = {sid: row["owner"] for sid, row in listed(run, "subscriptions", "list",
                                                                    key="id").items()}
    assert owners == {"ana-one": "Ana Lima", "ana-two": "Ana Lima", "other": "ana"}
    code, out, _ = run("users", "adopt", "Ana Lima", "--user", "ana")
    assert out.startswith("gave 2 subscription(s)")
    owners = {sid: row["owner"] for sid, row in listed(run, "subscriptions", "list",
                                                                    key="id").items()}
    assert owners == {"ana-one": "ana", "ana-two": "ana", "other": "ana"}
