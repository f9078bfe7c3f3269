"""Password hashes, user tables, htpasswd reloads and the success cache
(wsgikit/_passwords.py), through BasicAuth, the public seam.

Password checks are observed at the libraries' own functions (``bcrypt.checkpw``
and ``hashlib.sha1``), not by patching wsgikit's helpers.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import re
import sys
import time
from functools import partial
from pathlib import Path
from typing import Any

import bcrypt
import pytest
from e2e_auth_apps import ALICE_PASSWORD, BOB_PASSWORD, USERS, sha_hash, whoami
from helpers import basic, bcrypt_hash, call, echo_environ_app, testapp, text_app

from wsgikit._passwords import UNKNOWN_USER, WRONG_PASSWORD, SuccessCache, UserTable, users_table
from wsgikit.auth import BasicAuth

APR1 = "$apr1$abcdefgh$0123456789abcdefghijkl"  # htpasswd's default (MD5)


def write_htpasswd(path: Path, *lines: str) -> str:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


def rewrite_htpasswd(path: Path, *lines: str, later: int = 1) -> None:
    """Write the file again, its modification time ``later`` seconds ahead
    (a rewrite within the file system's time resolution is still seen)."""
    write_htpasswd(path, *lines)
    os.utime(path, ns=(time.time_ns(), time.time_ns() + later * 10**9))


def reloading(tmp_path: Path, *lines: str) -> tuple[Path, BasicAuth]:
    """An htpasswd file of ``lines``, and a BasicAuth checking it on every request."""
    path = tmp_path / "htpasswd"
    write_htpasswd(path, *lines)
    return path, BasicAuth(text_app(), htpasswd=path, reload_interval=0)


@pytest.fixture
def checks(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, bytes]]:
    """Every password check from now on: ``(the bcrypt hash, password)``, or
    ``("sha", password)`` for a ``{SHA}`` one."""
    checked: list[tuple[str, bytes]] = []
    checkpw, sha1 = bcrypt.checkpw, hashlib.sha1

    def checkpw_spy(password: bytes, hashed: bytes) -> bool:
        checked.append((hashed.decode(), password))
        return checkpw(password, hashed)

    def sha1_spy(data: bytes = b"", **options: Any) -> Any:
        checked.append(("sha", bytes(data)))
        return sha1(data, **options)

    monkeypatch.setattr(bcrypt, "checkpw", checkpw_spy)
    monkeypatch.setattr(hashlib, "sha1", sha1_spy)
    return checked


def kinds(checked: list[tuple[str, bytes]]) -> list[str]:
    return ["sha" if stored == "sha" else "bcrypt" for stored, _ in checked]


# --- hashes and user tables, at construction ---------------------------------------------


@pytest.mark.parametrize(
    ("users", "error", "match"),
    [
        pytest.param(
            {"a": "plaintext"},
            ValueError,
            r"users\['a'\]: unsupported password hash \(not a known hash\)",
            id="plaintext password",
        ),
        pytest.param(
            {"a": "$apr1$abc$0123456789012345678901"},
            ValueError,
            r"Apache MD5",
            id="apr1",
        ),
        pytest.param({"a": "{SHA}not-base64!"}, ValueError, "not a valid {SHA}", id="bad SHA"),
        pytest.param(
            {"a": "{SHA}" + base64.b64encode(b"short").decode()},
            ValueError,
            "not a valid {SHA}",
            id="short SHA",
        ),
        pytest.param({"a:b": sha_hash("x")}, ValueError, "user name", id="colon name"),
        pytest.param({"": sha_hash("x")}, ValueError, "user name", id="empty name"),
        pytest.param({1: sha_hash("x")}, TypeError, "user names must be str", id="int"),
        pytest.param({"a": None}, TypeError, "password hash", id="hash None"),
    ],
)
def test_users_table_refuses_bad_entries(users: Any, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        BasicAuth(text_app(), users=users)


def test_bcrypt_hash_without_bcrypt_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "bcrypt", None)  # import bcrypt now fails
    with pytest.raises(ValueError, match=r"users\['bob'\].*wsgikit\[bcrypt\]"):
        BasicAuth(text_app(), users=USERS)
    # {SHA} entries need nothing.
    app = BasicAuth(echo_environ_app, users={"alice": USERS["alice"]})
    status, _, _ = call(app, HTTP_AUTHORIZATION=basic("alice", ALICE_PASSWORD))
    assert status == "200 OK"


def test_bcrypt_password_over_72_bytes_is_truncated_like_htpasswd() -> None:
    long = "x" * 72
    app = BasicAuth(whoami, users={"u": bcrypt_hash(long)})
    status, _, _ = call(app, HTTP_AUTHORIZATION=basic("u", long + "-and-more"))
    assert status == "200 OK"
    status, _, _ = call(app, HTTP_AUTHORIZATION=basic("u", "x" * 71))
    assert status.startswith("401")


# --- checking ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("username", "password", "outcome"),
    [
        pytest.param("alice", ALICE_PASSWORD, None, id="{SHA} right"),
        pytest.param("alice", ALICE_PASSWORD + " ", WRONG_PASSWORD, id="{SHA} wrong"),
        pytest.param("bob", BOB_PASSWORD, None, id="bcrypt right"),
        pytest.param("bob", BOB_PASSWORD.upper(), WRONG_PASSWORD, id="bcrypt wrong"),
        pytest.param("Alice", ALICE_PASSWORD, UNKNOWN_USER, id="names are case-sensitive"),
        pytest.param("carol", "", UNKNOWN_USER, id="unknown"),
    ],
)
def test_user_table_check_outcomes(username: str, password: str, outcome: str | None) -> None:
    """What BasicAuth logs: ``None`` (granted), or why not."""
    _, table = users_table(USERS)
    checker = UserTable(table, cache_ttl=60.0, cache_size=8)
    assert [checker.check(username, password) for _ in range(2)] == [outcome] * 2


@pytest.mark.parametrize(
    ("users", "stand_in"),
    [
        pytest.param(
            {"a": bcrypt_hash("a", 4), "b": bcrypt_hash("b", 4), "c": bcrypt_hash("c", 5)},
            "$2b$04$",
            id="most users at cost 4",
        ),
        pytest.param(
            {"a": bcrypt_hash("a", 5), "b": bcrypt_hash("b", 4), "c": bcrypt_hash("c", 5)},
            "$2b$05$",
            id="most users at cost 5",
        ),
        pytest.param(
            {"cheap": bcrypt_hash("y", 4), "costly": bcrypt_hash("x", 5), "sha": sha_hash("z")},
            "$2b$05$",
            id="a tie: the costliest",
        ),
        pytest.param(
            {"a": sha_hash("a"), "b": sha_hash("b"), "c": bcrypt_hash("c", 4)},
            "sha",
            id="mostly {SHA}",
        ),
        pytest.param({"a": sha_hash("pw")}, "sha", id="only {SHA}"),
    ],
)
def test_unknown_user_is_checked_against_the_most_common_kind_and_cost(
    checks: list[tuple[str, bytes]], users: dict[str, str], stand_in: str
) -> None:
    """Timing then tells an unknown name from no more users than it must."""
    app = BasicAuth(text_app(), users=users)
    status, _, _ = call(app, HTTP_AUTHORIZATION=basic("nobody", "x"))
    assert status.startswith("401")
    assert [(stored[:7], password) for stored, password in checks] == [(stand_in[:7], b"x")]
    if stand_in != "sha":  # one of the table's own hashes, even with its user's password
        assert checks[0][0] in users.values()


# --- the success cache -----------------------------------------------------------------


def test_successful_bcrypt_check_is_cached(checks: list[tuple[str, bytes]]) -> None:
    app = BasicAuth(text_app(), users=USERS)
    good = {"HTTP_AUTHORIZATION": basic("bob", BOB_PASSWORD)}
    bad = {"HTTP_AUTHORIZATION": basic("bob", "wrong")}
    assert [call(app, **good).status for _ in range(3)] == ["200 OK"] * 3
    assert kinds(checks) == ["bcrypt"]
    assert [call(app, **bad).status for _ in range(2)] == ["401 Unauthorized"] * 2
    assert kinds(checks) == ["bcrypt"] * 3  # failures are never cached


def test_sha_checks_and_disabled_cache_are_not_cached(checks: list[tuple[str, bytes]]) -> None:
    app = BasicAuth(text_app(), users=USERS, cache_ttl=0)
    for user, password in [("bob", BOB_PASSWORD), ("alice", ALICE_PASSWORD)] * 2:
        assert call(app, HTTP_AUTHORIZATION=basic(user, password)).status == "200 OK"
    assert kinds(checks) == ["bcrypt", "sha"] * 2


def test_cache_is_bounded_and_expires(
    monkeypatch: pytest.MonkeyPatch, checks: list[tuple[str, bytes]]
) -> None:
    users = {"a": bcrypt_hash("pa"), "b": bcrypt_hash("pb")}
    app = BasicAuth(text_app(), users=users, cache_size=1)
    for user in ["a", "a", "b", "a"]:
        assert call(app, HTTP_AUTHORIZATION=basic(user, "p" + user)).status == "200 OK"
    assert len(checks) == 3  # "b" evicted "a"
    now = time.monotonic()
    monkeypatch.setattr(time, "monotonic", lambda: now + 61)
    assert call(app, HTTP_AUTHORIZATION=basic("a", "pa")).status == "200 OK"
    assert len(checks) == 4  # expired after cache_ttl


def test_cache_key_holds_no_plaintext() -> None:
    cache = SuccessCache(4, 60.0)
    key = cache.key("bob", USERS["bob"], BOB_PASSWORD.encode())
    cache.add(key)
    assert cache.keys() == [key] and cache.hit(key)
    assert len(key) == 32 and BOB_PASSWORD.encode() not in key and b"bob" not in key
    # A per-process random key: another cache (process) makes other keys.
    assert SuccessCache(4, 60.0).key("bob", USERS["bob"], BOB_PASSWORD.encode()) != key


# --- htpasswd files ---------------------------------------------------------------------


def test_htpasswd_file_with_bcrypt_sha_comments_and_extra_fields(tmp_path: Path) -> None:
    path = write_htpasswd(
        tmp_path / "htpasswd",
        "# staff",
        "",
        f"alice:{USERS['alice']}",
        f"  bob:{USERS['bob']}:Bob the builder  ",
    )
    app = testapp(whoami, partial(BasicAuth, htpasswd=path))
    for user, password in [("alice", ALICE_PASSWORD), ("bob", BOB_PASSWORD)]:
        assert app.get("/", headers={"Authorization": basic(user, password)}).json[
            "remote_user"
        ] == (user)
    app.get("/", headers={"Authorization": basic("alice", BOB_PASSWORD)}, status=401)


@pytest.mark.parametrize(
    ("lines", "match"),
    [
        pytest.param(["alice:{SHA}x", "bob:$apr1$salt$hash"], "line 1", id="bad SHA"),
        pytest.param(
            ["# c", "alice:$apr1$abcdefgh$0123456789abcdefghijkl"], "line 2.*MD5", id="md5"
        ),
        pytest.param(["carol:abJnggxhB/yWI"], "line 1.*crypt", id="crypt"),
        pytest.param(["dave:$6$salt$" + "a" * 86], "SHA-512-crypt", id="sha512"),
        pytest.param(["no colon here"], "line 1: expected name:hash", id="no colon"),
        pytest.param([f"a:{USERS['alice']}", f"a:{USERS['alice']}"], "line 2.*twice", id="dup"),
        pytest.param(
            ["x", f"a:{APR1}", "b:{SHA}"],
            r"line 1: expected name:hash \(and 2 more problem\(s\)\)$",
            id="first of several problems",
        ),
    ],
)
def test_htpasswd_refuses_unsupported_lines(tmp_path: Path, lines: list[str], match: str) -> None:
    path = write_htpasswd(tmp_path / "htpasswd", *lines)
    with pytest.raises(ValueError, match=match):
        BasicAuth(text_app(), htpasswd=path)


def test_htpasswd_missing_or_not_utf8(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cannot read"):
        BasicAuth(text_app(), htpasswd=tmp_path / "nope")
    bad = tmp_path / "latin1"
    bad.write_bytes(b"j\xfcrgen:" + USERS["alice"].encode())
    with pytest.raises(ValueError, match="not UTF-8"):
        BasicAuth(text_app(), htpasswd=bad)


def test_htpasswd_is_reloaded_when_it_changes(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path, app = reloading(tmp_path, f"alice:{USERS['alice']}")
    alice = {"HTTP_AUTHORIZATION": basic("alice", ALICE_PASSWORD)}
    bob = {"HTTP_AUTHORIZATION": basic("bob", BOB_PASSWORD)}
    assert call(app, **alice).status == "200 OK" and call(app, **bob).status.startswith("401")

    rewrite_htpasswd(path, f"bob:{USERS['bob']}")
    assert call(app, **bob).status == "200 OK" and call(app, **alice).status.startswith("401")

    rewrite_htpasswd(path, "bob:$apr1$broken", later=2)  # invalid: bob is refused, not kept
    with caplog.at_level(logging.ERROR, logger="wsgikit.auth"):
        assert call(app, **bob).status.startswith("401")
        assert call(app, **bob).status.startswith("401")
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and "line 1" in errors[0] and "'bob' refused" in errors[0]

    rewrite_htpasswd(path, f"bob:{USERS['bob']}", later=3)
    assert call(app, **bob).status == "200 OK"
    path.unlink()
    caplog.clear()
    with caplog.at_level(logging.ERROR, logger="wsgikit.auth"):
        assert call(app, **bob).status.startswith("401")  # deny everyone, not keep bob
        assert call(app, **bob).status.startswith("401")
    assert [r.getMessage().split(" (")[0] for r in caplog.records] == [
        f"htpasswd {path} unreadable"
    ]

    write_htpasswd(path, f"alice:{USERS['alice']}")  # back: reloaded
    assert call(app, **alice).status == "200 OK" and call(app, **bob).status.startswith("401")


@pytest.mark.parametrize(
    ("lines", "refused", "logged"),
    [
        pytest.param(
            [f"alice:{USERS['alice']}", f"carol:{APR1}"],
            ["bob", "carol"],
            [r"line 2: unsupported password hash \(Apache MD5.*'carol' refused"],
            id="bob removed, carol added with htpasswd's default $apr1$",
        ),
        pytest.param(
            [f"alice:{USERS['alice']}", f"bob:!{USERS['bob']}"],
            ["bob"],
            ["line 2: unsupported password hash.*'bob' refused"],
            id="bob locked with a leading !",
        ),
        pytest.param(
            [f"bob:{USERS['bob']}", f"alice:{USERS['alice']}", f"bob:{USERS['bob']}"],
            ["bob"],
            ["line 3: user 'bob' is listed twice.*'bob' refused"],
            id="duplicate name: both lines refused",
        ),
        pytest.param(
            [f"bob:{USERS['bob']}", "bob:{SHA}broken", f"alice:{USERS['alice']}"],
            ["bob"],
            ["line 2: user 'bob' is listed twice.*'bob' refused"],
            id="valid line then a broken duplicate",
        ),
        pytest.param(
            ["bob:plaintext", f"bob:{USERS['bob']}", f"alice:{USERS['alice']}"],
            ["bob"],
            [r"line 1: unsupported.*'bob' refused", r"line 2: user 'bob' is listed twice"],
            id="broken line then a valid duplicate",
        ),
        pytest.param(
            ["just a name", f"alice:{USERS['alice']}", f"bob:{USERS['bob']}"],
            [],
            ["line 1: expected name:hash; line ignored"],
            id="line without colon",
        ),
        pytest.param(
            [f"alice:{USERS['alice']}", "j\udcfcrgen:{SHA}x", f"bob:{USERS['bob']}"],
            [],
            ["line 2: not UTF-8 text; line ignored"],
            id="line not UTF-8",
        ),
    ],
)
def test_htpasswd_reload_refuses_the_users_of_bad_lines(
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    lines: list[str],
    refused: list[str],
    logged: list[str],
) -> None:
    """Reloading fails closed: a bad line never leaves the old users in force."""
    path, app = reloading(tmp_path, f"alice:{USERS['alice']}", f"bob:{USERS['bob']}")
    passwords = {"alice": ALICE_PASSWORD, "bob": BOB_PASSWORD, "carol": "carol"}
    assert call(app, HTTP_AUTHORIZATION=basic("bob", BOB_PASSWORD)).status == "200 OK"

    path.write_bytes(
        "\n".join(lines).encode("utf-8", "surrogateescape") + b"\n"  # \udcfc: byte 0xfc
    )
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 10**9))
    with caplog.at_level(logging.ERROR, logger="wsgikit.auth"):
        for user, password in passwords.items():
            status = call(app, HTTP_AUTHORIZATION=basic(user, password)).status
            listed = any(line.startswith(f"{user}:") for line in lines)
            assert (status == "200 OK") is (listed and user not in refused), user
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == len(logged)  # once per change, not once per request
    for message, pattern in zip(errors, logged, strict=True):
        assert message.startswith(f"htpasswd {str(path)!r}, line ")
        assert re.search(pattern, message), message


def test_htpasswd_reload_refuses_bcrypt_users_without_bcrypt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    path, app = reloading(tmp_path, f"alice:{USERS['alice']}")
    monkeypatch.setitem(sys.modules, "bcrypt", None)  # import bcrypt now fails
    rewrite_htpasswd(path, f"alice:{USERS['alice']}", f"bob:{USERS['bob']}")
    with caplog.at_level(logging.ERROR, logger="wsgikit.auth"):
        assert call(app, HTTP_AUTHORIZATION=basic("bob", BOB_PASSWORD)).status.startswith("401")
        assert call(app, HTTP_AUTHORIZATION=basic("alice", ALICE_PASSWORD)).status == "200 OK"
    (error,) = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert "line 2" in error and "wsgikit[bcrypt]" in error and "'bob' refused" in error


def test_htpasswd_that_cannot_be_opened_refuses_everyone(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """stat() works but open() fails (here: a directory in its place)."""
    path, app = reloading(tmp_path, f"alice:{USERS['alice']}")
    alice = {"HTTP_AUTHORIZATION": basic("alice", ALICE_PASSWORD)}
    assert call(app, **alice).status == "200 OK"
    path.unlink()
    path.mkdir()
    with caplog.at_level(logging.ERROR, logger="wsgikit.auth"):
        assert call(app, **alice).status.startswith("401")
        assert call(app, **alice).status.startswith("401")
    (error,) = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert error.startswith(f"htpasswd {path} unreadable") and "every login is refused" in error
    path.rmdir()
    write_htpasswd(path, f"alice:{USERS['alice']}")
    assert call(app, **alice).status == "200 OK"


def test_htpasswd_reload_can_be_turned_off(tmp_path: Path) -> None:
    path = tmp_path / "htpasswd"
    write_htpasswd(path, f"alice:{USERS['alice']}")
    app = BasicAuth(text_app(), htpasswd=path, reload_interval=None)
    rewrite_htpasswd(path, f"bob:{USERS['bob']}")
    assert call(app, HTTP_AUTHORIZATION=basic("alice", ALICE_PASSWORD)).status == "200 OK"
