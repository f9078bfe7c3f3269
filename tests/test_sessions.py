"""SessionMiddleware: a lazily verified, signed cookie session for any WSGI app."""

from __future__ import annotations

import base64
import contextlib
import copy
import datetime
import hashlib
import hmac
import json
import logging
import operator
import random
import threading
import time
import uuid
import zlib
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment
from wsgiref.validate import validator

import itsdangerous
import pytest
import requests
import webtest
from helpers import (
    JSON_VALUES,
    Handshake,
    Tracked,
    call,
    cookie_headers,
    error_first_app,
    header_values,
    import_file,
    json_view_app,
    linted,
    make_environ,
    run_wsgi,
    session_data,
    testapp,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from markupsafe import Markup

from wsgikit import JSONErrors, MemoryStore, SessionTooLarge
from wsgikit.sessions import (
    MAX_COOKIE_SIZE,
    SESSION_KEY,
    Session,
    SessionMiddleware,
    TaggedJSON,
    get_session,
)

SECRET = "test-secret-key-0123456789abcdef"
OLD_SECRET = "old-secret-key-fedcba98765432100"
T0 = 1_700_000_000
DAY = 86400

Action = Callable[[Session], object]


# --- helpers ------------------------------------------------------------------


class Clock:
    """A settable ``time.time`` (itsdangerous and werkzeug both read it)."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock(T0)
    monkeypatch.setattr(time, "time", fake)
    return fake


@pytest.fixture
def checks(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """Records every signature comparison (the fast codec and itsdangerous
    both compare with ``hmac.compare_digest``; one per verification with one key)."""
    seen: list[bytes] = []
    original = hmac.compare_digest

    def counting(a: Any, b: Any) -> bool:
        seen.append(b)
        return original(a, b)

    monkeypatch.setattr(hmac, "compare_digest", counting)
    return seen


def session_app(action: Action | None = None, headers: Iterable[tuple[str, str]] = ()) -> Any:
    """An app that runs ``action(session)`` and returns the session as JSON."""

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        session = get_session(environ)
        if action is not None:
            action(session)
        body = json.dumps(dict(session), default=repr, sort_keys=True).encode()
        start_response(
            "200 OK",
            [("Content-Type", "application/json"), ("Content-Length", str(len(body))), *headers],
        )
        return [body]

    return app


def ignoring_app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    """Never touches the session."""
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
    return [b"ok"]


def set_cookie(headers: list[tuple[str, str]], name: str = "session") -> str | None:
    """The value of the ``Set-Cookie`` for ``name`` (one at most), or ``None``."""
    found = [v for v in header_values(headers, "Set-Cookie") if v.startswith(name + "=")]
    assert len(found) <= 1
    return found[0] if found else None


def value_of(cookie: str | None) -> str:
    assert cookie is not None
    return cookie.split(";", 1)[0].split("=", 1)[1]


def attributes(cookie: str) -> dict[str, str]:
    parts = [part.strip() for part in cookie.split(";")[1:]]
    return {p.split("=", 1)[0]: (p.split("=", 1)[1] if "=" in p else "") for p in parts}


def signed(
    data: Any,
    key: str = SECRET,
    *,
    salt: str = "wsgikit.session",
    digest: Any = hashlib.sha256,
    payload: bytes | None = None,
) -> str:
    """A cookie value made with itsdangerous directly (independent of our code)."""
    serializer = itsdangerous.URLSafeTimedSerializer(
        key, salt=salt, signer_kwargs={"key_derivation": "hmac", "digest_method": digest}
    )
    if payload is None:
        return serializer.dumps(data)
    signer = serializer.make_signer()
    return signer.sign(payload).decode()


def unsign(value: str, key: str = SECRET, max_age: int | None = None) -> Any:
    serializer = itsdangerous.URLSafeTimedSerializer(
        key,
        salt="wsgikit.session",
        signer_kwargs={"key_derivation": "hmac", "digest_method": hashlib.sha256},
    )
    return serializer.loads(value, max_age=max_age)


def middleware(action: Action | None = None, **options: Any) -> SessionMiddleware:
    return SessionMiddleware(session_app(action), options.pop("secret_key", SECRET), **options)


def setter(**values: Any) -> Action:
    return lambda session: session.update(values)


# --- known answers --------------------------------------------------------------


def test_known_answer_cookie(clock: Clock) -> None:
    """A fixed time and key give exactly this cookie (an itsdangerous token)."""
    _, headers, _ = call(middleware(setter(user="alice", n=1)))
    assert set_cookie(headers) == (
        "session=eyJ1c2VyIjoiYWxpY2UiLCJuIjoxfQ.ZVPxAA."
        "bCitovom1I998WGgYEFYTbBIios3MhpvBgI43q58SRE; "
        "Expires=Tue, 28 Nov 2023 22:13:20 GMT; Max-Age=1209600; HttpOnly; Path=/; SameSite=Lax"
    )
    assert unsign(value_of(set_cookie(headers))) == {"user": "alice", "n": 1}


def test_known_answer_compressed_cookie(clock: Clock) -> None:
    """A payload that compresses well is zlib-compressed (a leading ".")."""
    _, headers, _ = call(middleware(setter(text="ab" * 200), max_age=None, samesite=None))
    value = value_of(set_cookie(headers))
    assert value.startswith(".")
    payload = value[1:].split(".")[0]
    decoded = zlib.decompress(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert json.loads(decoded) == {"text": "ab" * 200}
    assert set_cookie(headers) == f"session={value}; HttpOnly; Path=/"
    assert unsign(value) == {"text": "ab" * 200}


def flask_session_app(data: dict[str, Any], secret: str = SECRET) -> Any:
    """A real Flask app: ``/write`` puts ``data`` in Flask's own session,
    ``/read`` shows the session Flask read."""
    import flask

    app = flask.Flask("known_answer")
    app.secret_key = secret

    @app.route("/write")
    def write() -> str:
        flask.session.update(data)
        return "ok"

    @app.route("/read")
    def read() -> Any:
        return repr(sorted(flask.session.items()))

    return app


def flask_cookie(data: dict[str, Any], secret: str = SECRET) -> str:
    """The session cookie a real Flask app writes for ``data``."""
    response = flask_session_app(data, secret).test_client().get("/write")
    return response.headers["Set-Cookie"]


TAGGED = {
    "tuple": (1, "two", [3]),
    "bytes": b"\x00\xffbinary",
    "markup": Markup("<b>bold</b>"),
    "uuid": uuid.UUID("12345678-1234-5678-1234-567812345678"),
    "when": datetime.datetime(2024, 2, 29, 12, 30, 15, tzinfo=datetime.UTC),
    "tag_like": {" t": "not a tuple"},
    "nested": {"list": [(1, 2), {"b": b"x"}], "plain": "ünïcode"},
}


def test_flask_mode_writes_exactly_what_flask_writes(clock: Clock) -> None:
    ours = middleware(setter(**TAGGED), flask_compatible=True, max_age=None, samesite=None)
    _, headers, _ = call(ours)
    assert set_cookie(headers) == flask_cookie(TAGGED)


# --- laziness and when a cookie is written --------------------------------------


def test_untouched_session_costs_no_verification(checks: list[bytes]) -> None:
    calls, chunks, result = run_wsgi(
        SessionMiddleware(ignoring_app, SECRET), {"HTTP_COOKIE": "session=" + signed({"a": 1})}
    )
    assert checks == []
    assert calls == [("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])]
    assert chunks == [b"ok"]


def test_untouched_session_returns_the_apps_own_iterable() -> None:
    body = [b"ok"]

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return body

    result = SessionMiddleware(app, SECRET)(make_environ(), lambda s, h, e=None: lambda b: None)
    assert result is body


def test_cookie_is_verified_once_on_first_access(checks: list[bytes]) -> None:
    def read_a_lot(session: Session) -> None:
        for _ in range(5):
            assert session["a"] == 1
        assert "a" in session and len(session) == 1 and session.get("b") is None

    status, headers, body = call(middleware(read_a_lot), HTTP_COOKIE="session=" + signed({"a": 1}))
    assert len(checks) == 1
    assert json.loads(body) == {"a": 1}


def test_reading_sends_no_cookie_but_varies_on_cookie() -> None:
    status, headers, body = call(
        middleware(lambda s: s.get("a")), HTTP_COOKIE="session=" + signed({"a": 1})
    )
    assert set_cookie(headers) is None
    assert header_values(headers, "Vary") == ["Cookie"]
    assert json.loads(body) == {"a": 1}


def test_unchanged_new_session_writes_nothing() -> None:
    _, headers, body = call(middleware(lambda s: s.get("a")))
    assert set_cookie(headers) is None and json.loads(body) == {}


def test_change_writes_a_cookie_that_reads_back() -> None:
    app = middleware(lambda s: s.__setitem__("n", s.get("n", 0) + 1))
    _, headers, body = call(app)
    assert json.loads(body) == {"n": 1}
    _, headers, body = call(app, HTTP_COOKIE="other=1; session=" + value_of(set_cookie(headers)))
    assert json.loads(body) == {"n": 2}
    assert unsign(value_of(set_cookie(headers))) == {"n": 2}


@pytest.mark.parametrize(
    ("vary", "expected", "write"),
    [
        pytest.param([], ["Cookie"], False, id="none"),
        pytest.param(["Accept-Encoding"], ["Accept-Encoding, Cookie"], False, id="merged"),
        pytest.param(
            ["accept-encoding, COOKIE"], ["accept-encoding, COOKIE"], False, id="already there"
        ),
        pytest.param(["*"], ["*"], False, id="star"),
        pytest.param(
            ["Accept", "Origin"], ["Accept, Origin, Cookie"], False, id="two headers, one out"
        ),
        pytest.param(["Accept"], ["Accept, Cookie"], True, id="merged, cookie set"),
        pytest.param(["cookie"], ["cookie"], True, id="names Cookie already, cookie set"),
        pytest.param(["*"], ["*"], True, id="star, cookie set"),
    ],
)
def test_vary_cookie_is_merged_into_a_copy_of_the_app_headers(
    vary: list[str], expected: list[str], write: bool
) -> None:
    """Read or written, the session's response varies on Cookie; the list the
    app passed to start_response is left as it was."""
    app_headers = [("Content-Type", "text/plain"), *[("Vary", value) for value in vary]]
    sent = list(app_headers)

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        session = get_session(environ)
        if write:
            session["a"] = 1
        else:
            session.get("a")
        start_response("200 OK", app_headers)
        return [b""]

    _, headers, _ = call(SessionMiddleware(app, SECRET))
    assert app_headers == sent
    assert header_values(headers, "Vary") == expected
    if write:
        assert unsign(value_of(set_cookie(headers))) == {"a": 1}
    else:
        assert set_cookie(headers) is None


@pytest.mark.parametrize(
    "action",
    [
        pytest.param(lambda s: s.clear(), id="clear()"),
        pytest.param(lambda s: s.__delitem__("a"), id="del last key"),
        pytest.param(lambda s: s.pop("a"), id="pop last key"),
        pytest.param(lambda s: s.popitem(), id="popitem last key"),
    ],
)
def test_emptying_a_session_deletes_the_cookie(action: Action) -> None:
    app = middleware(action, domain="example.com", secure=True)
    _, headers, body = call(app, HTTP_COOKIE="session=" + signed({"a": 1}))
    cookie = set_cookie(headers)
    assert cookie is not None and json.loads(body) == {}
    attrs = attributes(cookie)
    assert value_of(cookie) == ""
    assert attrs["Max-Age"] == "0" and attrs["Expires"] == "Thu, 01 Jan 1970 00:00:00 GMT"
    assert attrs["Domain"] == "example.com" and "Secure" in attrs and attrs["Path"] == "/"


def test_clearing_without_a_cookie_writes_nothing() -> None:
    _, headers, _ = call(middleware(lambda s: s.clear()))
    assert set_cookie(headers) is None
    assert header_values(headers, "Vary") == ["Cookie"]


def test_clearing_an_invalid_cookie_deletes_it() -> None:
    _, headers, _ = call(middleware(lambda s: s.clear()), HTTP_COOKIE="session=garbage")
    assert value_of(set_cookie(headers)) == ""


def test_nested_change_needs_modified_flag() -> None:
    value = "session=" + signed({"cart": ["a"]})
    _, headers, body = call(middleware(lambda s: s["cart"].append("b")), HTTP_COOKIE=value)
    assert set_cookie(headers) is None  # not detected, as documented
    assert json.loads(body) == {"cart": ["a", "b"]}

    def append_and_flag(session: Session) -> None:
        session["cart"].append("b")
        session.modified = True

    _, headers, _ = call(middleware(append_and_flag), HTTP_COOKIE=value)
    assert unsign(value_of(set_cookie(headers))) == {"cart": ["a", "b"]}


@pytest.mark.parametrize("flask_compatible", [False, True])
def test_detect_changes_writes_a_change_inside_a_value(flask_compatible: bool) -> None:
    """#12: a fingerprint (the serialised data) at load vs at the end of the request."""
    options = {"detect_changes": True, "flask_compatible": flask_compatible}
    value = value_of(set_cookie(call(middleware(setter(cart=["a"]), **options)).header_list))
    _, headers, _ = call(
        middleware(lambda s: s["cart"].append("b"), **options), HTTP_COOKIE="session=" + value
    )
    written = value_of(set_cookie(headers))
    _, _, body = call(middleware(**options), HTTP_COOKIE="session=" + written)
    assert json.loads(body) == {"cart": ["a", "b"]}


def test_detect_changes_leaves_an_unchanged_session_alone(checks: list[bytes]) -> None:
    value = "session=" + signed({"cart": ["a"], "n": 1.5})
    _, headers, _ = call(middleware(lambda s: s["cart"][0], detect_changes=True), HTTP_COOKIE=value)
    assert set_cookie(headers) is None and header_values(headers, "Vary") == ["Cookie"]
    assert len(checks) == 1


def test_modified_flag_alone_loads_and_rewrites_the_data(checks: list[bytes]) -> None:
    def flagging_app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        get_session(environ).modified = True
        return ignoring_app(environ, start_response)

    app = SessionMiddleware(flagging_app, SECRET)
    _, headers, _ = call(app, HTTP_COOKIE="session=" + signed({"keep": "me"}))
    assert len(checks) == 1
    assert unsign(value_of(set_cookie(headers))) == {"keep": "me"}


def test_refresh_each_request_resigns_a_read_session(clock: Clock) -> None:
    value = signed({"a": 1})
    clock.now = T0 + 100
    app = middleware(lambda s: s.get("a"), refresh_each_request=True)
    _, headers, _ = call(app, HTTP_COOKIE="session=" + value)
    new = value_of(set_cookie(headers))
    assert new != value and unsign(new) == {"a": 1}
    assert attributes(set_cookie(headers) or "")["Max-Age"] == str(14 * DAY)
    # A request that never touches the session still costs nothing.
    untouched = SessionMiddleware(ignoring_app, SECRET, refresh_each_request=True)
    _, headers, _ = call(untouched, HTTP_COOKIE="session=" + value)
    assert set_cookie(headers) is None and header_values(headers, "Vary") == []


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        pytest.param(
            {},
            {
                "Expires": "Tue, 28 Nov 2023 22:13:20 GMT",
                "Max-Age": "1209600",
                "HttpOnly": "",
                "Path": "/",
                "SameSite": "Lax",
            },
            id="defaults",
        ),
        pytest.param(
            {"max_age": None, "httponly": False, "samesite": None},
            {"Path": "/"},
            id="browser session, no flags",
        ),
        pytest.param(
            {
                "max_age": datetime.timedelta(hours=1),
                "secure": True,
                "samesite": "strict",
                "domain": "example.com",
                "path": "/app",
            },
            {
                "Domain": "example.com",
                "Expires": "Tue, 14 Nov 2023 23:13:20 GMT",
                "Max-Age": "3600",
                "Secure": "",
                "HttpOnly": "",
                "Path": "/app",
                "SameSite": "Strict",
            },
            id="all set",
        ),
        pytest.param(
            {"secure": True, "samesite": "None", "partitioned": True, "max_age": 60},
            {
                "Expires": "Tue, 14 Nov 2023 22:14:20 GMT",
                "Max-Age": "60",
                "Secure": "",
                "HttpOnly": "",
                "Path": "/",
                "SameSite": "None",
                "Partitioned": "",
            },
            id="cross-site partitioned",
        ),
    ],
)
def test_cookie_attributes(clock: Clock, options: dict[str, Any], expected: dict[str, str]) -> None:
    _, headers, _ = call(middleware(setter(a=1), **options))
    cookie = set_cookie(headers)
    assert cookie is not None and attributes(cookie) == expected


def test_cookie_name_is_configurable() -> None:
    app = middleware(setter(a=1), cookie_name="__Host-sid", secure=True)
    _, headers, _ = call(app, HTTP_COOKIE="session=" + signed({"wrong": "cookie"}))
    cookie = set_cookie(headers, "__Host-sid")
    assert set_cookie(headers) is None
    _, _, body = call(app, HTTP_COOKIE="__Host-sid=" + value_of(cookie))
    assert json.loads(body) == {"a": 1}


# --- expiry, rotation, salt, digest --------------------------------------------


@pytest.mark.parametrize(
    ("age", "valid"),
    [
        pytest.param(0, True, id="just signed"),
        pytest.param(DAY - 1, True, id="within max_age"),
        pytest.param(DAY, True, id="exactly max_age"),
        pytest.param(DAY + 1, False, id="expired"),
        pytest.param(-10, False, id="signed in the future"),
    ],
)
def test_expiry_is_enforced_on_the_server(
    clock: Clock, caplog: pytest.LogCaptureFixture, age: int, valid: bool
) -> None:
    value = signed({"a": 1})
    clock.now = T0 + age
    with caplog.at_level(logging.INFO, "wsgikit.sessions"):
        _, _, body = call(
            middleware(lambda s: s.get("a"), max_age=DAY), HTTP_COOKIE="session=" + value
        )
    assert json.loads(body) == ({"a": 1} if valid else {})
    assert bool(caplog.records) is not valid
    if not valid:
        assert caplog.records[0].levelno == logging.INFO and "expired" in caplog.text


def test_no_max_age_accepts_old_cookies(clock: Clock) -> None:
    value = signed({"a": 1})
    clock.now = T0 + 400 * DAY
    _, _, body = call(
        middleware(lambda s: s.get("a"), max_age=None), HTTP_COOKIE="session=" + value
    )
    assert json.loads(body) == {"a": 1}


def test_browser_session_cookie_with_a_server_side_age_limit(clock: Clock) -> None:
    """#12: Flask's default -- no Expires on the cookie, max_age still checked here."""
    app = middleware(setter(a=1), max_age=DAY, permanent=False)
    _, headers, _ = call(app)
    cookie = set_cookie(headers)
    assert cookie is not None
    assert "Expires" not in attributes(cookie) and "Max-Age" not in attributes(cookie)
    reader = middleware(lambda s: s.get("a"), max_age=DAY, permanent=False)
    clock.now = T0 + DAY
    assert json.loads(call(reader, HTTP_COOKIE="session=" + value_of(cookie)).body) == {"a": 1}
    clock.now = T0 + DAY + 1
    assert json.loads(call(reader, HTTP_COOKIE="session=" + value_of(cookie)).body) == {}


@pytest.mark.parametrize(
    ("data", "permanent", "expires"),
    [
        pytest.param({"_permanent": True}, False, True, id="flask permanent"),
        pytest.param({}, False, False, id="flask default, permanent=False"),
        pytest.param({"_permanent": False}, True, False, id="flask not permanent"),
        pytest.param({}, True, True, id="no flag, permanent=True"),
    ],
)
def test_flask_mode_honours_session_permanent(
    data: dict[str, Any], permanent: bool, expires: bool
) -> None:
    app = middleware(setter(**data, a=1), flask_compatible=True, permanent=permanent)
    _, headers, _ = call(app)
    cookie = set_cookie(headers)
    assert cookie is not None and ("Expires" in attributes(cookie)) is expires


def test_flask_mode_keeps_what_flasks_permanent_flag_says() -> None:
    """Flask sets session.permanent; the WSGI side writes the same session later."""
    import flask

    inner = flask.Flask("permanent")
    inner.secret_key = SECRET

    @inner.route("/login")
    def login() -> Any:
        flask.session.permanent = True
        flask.session["user"] = "alice"
        return "ok"

    def shop(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        get_session(environ)["cart"] = ["x"]
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    def site(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        handler = inner if environ["PATH_INFO"] == "/login" else shop_app
        return handler(environ, start_response)

    shop_app = SessionMiddleware(shop, SECRET, flask_compatible=True, permanent=False)
    app = testapp(site)
    assert "Expires" in app.get("/login").headers["Set-Cookie"]
    assert "Expires" in app.get("/shop").headers["Set-Cookie"]  # still permanent
    app.reset()
    assert "Expires" not in app.get("/shop").headers["Set-Cookie"]  # Flask's default


def test_rotate_of_a_cookie_session_re_signs_it(clock: Clock) -> None:
    value = signed({"a": 1})
    clock.now = T0 + 10
    _, headers, _ = call(middleware(lambda s: s.rotate()), HTTP_COOKIE="session=" + value)
    rotated = value_of(set_cookie(headers))
    assert rotated != value and unsign(rotated) == {"a": 1}


def test_fallback_keys_verify_but_never_sign() -> None:
    old = "session=" + signed({"a": 1}, OLD_SECRET)
    rotated = middleware(setter(b=2), fallback_keys=[OLD_SECRET])
    _, headers, body = call(rotated, HTTP_COOKIE=old)
    assert json.loads(body) == {"a": 1, "b": 2}
    new = value_of(set_cookie(headers))
    assert unsign(new, SECRET) == {"a": 1, "b": 2}
    with pytest.raises(itsdangerous.BadSignature):
        unsign(new, OLD_SECRET)
    # Without the fallback the old cookie is just a bad one.
    _, _, body = call(middleware(lambda s: s.get("a")), HTTP_COOKIE=old)
    assert json.loads(body) == {}


def test_several_fallback_keys() -> None:
    oldest = "session=" + signed({"v": "oldest"}, "k1-oldest-key")
    app = middleware(lambda s: s.get("v"), fallback_keys=("k2-old-key", "k1-oldest-key"))
    assert json.loads(call(app, HTTP_COOKIE=oldest).body) == {"v": "oldest"}


@pytest.mark.parametrize(
    ("options", "salt", "digest"),
    [
        pytest.param({"salt": "my-app"}, "my-app", hashlib.sha256, id="salt"),
        pytest.param({"digest": "sha512"}, "wsgikit.session", hashlib.sha512, id="digest"),
        pytest.param({"flask_compatible": True}, "cookie-session", hashlib.sha1, id="flask"),
    ],
)
def test_salt_and_digest(options: dict[str, Any], salt: str, digest: Any) -> None:
    app = middleware(lambda s: s.get("v"), **options)
    good = signed({"v": 1}, salt=salt, digest=digest)
    assert json.loads(call(app, HTTP_COOKIE="session=" + good).body) == {"v": 1}
    default = signed({"v": 1})
    assert json.loads(call(app, HTTP_COOKIE="session=" + default).body) == {}


# --- bad cookies: empty session, a log line, the app's data still saved --------


def _bad_cookies() -> list[Any]:
    good = signed({"a": 1})
    payload, timestamp, sig = good.split(".")
    return [
        pytest.param(f"session={good[:-1]}", id="truncated signature"),
        pytest.param(f"session={good[:20]}", id="truncated"),
        pytest.param(f"session={payload}x.{timestamp}.{sig}", id="tampered payload"),
        pytest.param(
            "session="
            + base64.urlsafe_b64encode(b'{"admin":true}').decode().rstrip("=")
            + f".{timestamp}.{sig}",
            id="swapped payload",
        ),
        pytest.param("session=" + signed({"a": 1}, "wrong-key"), id="wrong key"),
        pytest.param("session=" + signed({"a": 1}, salt="other"), id="wrong salt"),
        pytest.param("session=" + signed(None, payload=b"bm90IGpzb24"), id="signed non-JSON"),
        pytest.param("session=" + signed([1, 2]), id="signed JSON list"),
        pytest.param("session=" + signed(None, payload=b"!!!"), id="signed bad base64"),
        pytest.param("session=" + signed(None, payload=b".bm90IHpsaWI"), id="signed bad zlib"),
        pytest.param("session=" + signed(None, payload=b"/w"), id="signed non-UTF-8"),
        pytest.param("session=", id="empty value"),
        pytest.param("session", id="no value"),
        pytest.param("session=a.b.c", id="three dots"),
        pytest.param("session=x.AAAAAAAAAAAAAAAAAAAAAAAA.y", id="huge timestamp"),
        pytest.param('session="unterminated; a=1', id="bad quoting"),
        pytest.param("session=\xff\xfe\x80; ;;=;", id="not UTF-8, bad syntax"),
        pytest.param("session=garbage; session=more garbage", id="two bad cookies"),
    ]


@pytest.mark.parametrize("cookie", _bad_cookies())
def test_bad_cookie_gives_an_empty_session_and_keeps_new_data(
    cookie: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, "wsgikit.sessions"):
        status, headers, body = call(middleware(setter(after=1)), HTTP_COOKIE=cookie)
    assert status == "200 OK"
    assert json.loads(body) == {"after": 1}
    assert unsign(value_of(set_cookie(headers))) == {"after": 1}
    assert caplog.records and all(r.name == "wsgikit.sessions" for r in caplog.records)
    assert {r.levelno for r in caplog.records} <= {logging.INFO, logging.WARNING}


@pytest.mark.parametrize("timestamp", [2**64 - 1, 2**40], ids=["overflow", "year 36812"])
def test_signed_absurd_timestamp_is_an_empty_session(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, timestamp: int
) -> None:
    with monkeypatch.context() as patch:
        patch.setattr(itsdangerous.TimestampSigner, "get_timestamp", lambda self: timestamp)
        value = signed({"a": 1})
    with caplog.at_level(logging.INFO, "wsgikit.sessions"):
        _, _, body = call(middleware(lambda s: s.get("a")), HTTP_COOKIE="session=" + value)
        _, _, twice = call(
            middleware(lambda s: s.get("a")), HTTP_COOKIE=f"session={value}; session={value}"
        )
    assert json.loads(body) == {} == json.loads(twice)
    assert caplog.records


def test_bad_cookie_log_does_not_show_its_content(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, "wsgikit.sessions"):
        call(
            middleware(lambda s: s.get("a")),
            HTTP_COOKIE="session=" + signed({"secret": "xyzzy"}, "bad"),
        )
    assert "xyzzy" not in caplog.text and signed({"secret": "xyzzy"}, "bad") not in caplog.text
    assert caplog.records[0].levelno == logging.WARNING


@pytest.mark.parametrize("cookie", _bad_cookies())
def test_bad_cookie_is_kept_by_a_request_that_only_reads_the_session(cookie: str) -> None:
    """Another instance may hold the key this one lacks (#8): never delete on a failed check."""
    app = middleware(lambda s: s.get("a"), domain="example.com", path="/app")
    _, headers, body = call(app, HTTP_COOKIE=cookie)
    assert json.loads(body) == {}
    assert set_cookie(headers) is None
    assert header_values(headers, "Vary") == ["Cookie"]


def test_expired_cookie_is_kept_when_only_read(clock: Clock) -> None:
    value = signed({"a": 1})
    clock.now = T0 + 2 * DAY
    _, headers, body = call(
        middleware(lambda s: s.get("a"), max_age=DAY), HTTP_COOKIE="session=" + value
    )
    assert json.loads(body) == {} and set_cookie(headers) is None


def test_rolling_key_rotation_does_not_log_users_out() -> None:
    """Instances are updated one by one: the new key reaches some before others.

    A request served by an instance still without the new key must not
    destroy the cookie; the next instance that has the key reads it again.
    """
    new_key = "new-secret-key-" + "n" * 32
    updated = SessionMiddleware(session_app(setter(user="alice")), new_key, fallback_keys=[SECRET])
    reader = session_app(lambda s: s.get("user"))
    lagging = SessionMiddleware(reader, SECRET)
    recovered = SessionMiddleware(reader, new_key, fallback_keys=[SECRET])
    routes = {"/login": updated, "/lagging": lagging, "/": recovered}

    def site(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        return routes[environ["PATH_INFO"]](environ, start_response)

    app = testapp(site)
    app.get("/login")
    assert app.get("/lagging").json == {}
    assert app.get("/lagging").headers.getall("Set-Cookie") == []
    assert app.get("/").json == {"user": "alice"}


def test_repeated_bad_cookie_log_is_bounded(caplog: pytest.LogCaptureFixture) -> None:
    app = middleware(lambda s: s.get("a"))
    cookie = "session=" + signed({"a": 1}, "wrong-key-" + "w" * 32)
    with caplog.at_level(logging.DEBUG, "wsgikit.sessions"):
        for _ in range(5):
            call(app, HTTP_COOKIE=cookie)
    levels = [r.levelno for r in caplog.records]
    assert levels == [logging.WARNING] + [logging.DEBUG] * 4
    # Another instance (another stack in the process) logs its own first line.
    caplog.clear()
    with caplog.at_level(logging.DEBUG, "wsgikit.sessions"):
        call(middleware(lambda s: s.get("a")), HTTP_COOKIE=cookie)
    assert [r.levelno for r in caplog.records] == [logging.WARNING]


@pytest.mark.parametrize(
    "cookie",
    [
        pytest.param(f"session=bad; session={signed({'a': 1})}", id="one valid of two"),
        pytest.param(f"session={signed({})}", id="valid but empty"),
        pytest.param("sessionid=bad; other=x", id="another name"),
        pytest.param("session=bad; session=worse", id="none valid of two"),
    ],
)
def test_reading_never_deletes_a_cookie(cookie: str) -> None:
    _, headers, _ = call(middleware(lambda s: s.get("a")), HTTP_COOKIE=cookie)
    assert set_cookie(headers) is None


def test_bad_cookie_is_replaced_not_deleted_when_the_app_stores_data() -> None:
    _, headers, _ = call(middleware(setter(fresh=1)), HTTP_COOKIE="session=garbage")
    [cookie] = header_values(headers, "Set-Cookie")
    assert unsign(value_of(cookie)) == {"fresh": 1}


def test_bad_cookie_of_an_untouched_session_is_left_alone(checks: list[bytes]) -> None:
    calls, _, _ = run_wsgi(SessionMiddleware(ignoring_app, SECRET), {"HTTP_COOKIE": "session=bad"})
    assert checks == [] and header_values(calls[-1][1], "Set-Cookie") == []


def test_several_cookies_the_one_signed_last_wins(clock: Clock) -> None:
    older = signed({"v": "older"})
    clock.now = T0 + 10
    newer = signed({"v": "newer"})
    app = middleware(lambda s: s.get("v"))
    for header_value, expected in [
        (f"session={older}; session={newer}", "newer"),
        (f"session={newer}; session={older}", "newer"),
        (f"session=bad; session={older}; session=worse", "older"),
    ]:
        assert json.loads(call(app, HTTP_COOKIE=header_value).body) == {"v": expected}


def test_other_cookies_are_ignored() -> None:
    app = middleware(lambda s: s.get("a"))
    cookie = f"sessionid=zzz; my_session=yyy; session={signed({'a': 1})}; x=session"
    assert json.loads(call(app, HTTP_COOKIE=cookie).body) == {"a": 1}
    assert json.loads(call(app, HTTP_COOKIE="sessionid=1; xsession=2").body) == {}


BIG = base64.b64encode(random.Random(7).randbytes(3200)).decode()  # incompressible


def test_oversized_session_fails_the_request_by_default() -> None:
    """#12: a cookie the browser would drop must not pass silently."""
    calls: list[Any] = []

    def start_response(status: str, headers: Any, exc_info: Any = None) -> Any:
        calls.append(status)

    app = middleware(setter(big=BIG))
    with pytest.raises(SessionTooLarge) as raised:
        app(make_environ(), start_response)
    assert calls == []  # before the response started
    message = str(raised.value)
    assert str(raised.value.size) in message and "store=" in message
    assert raised.value.size > MAX_COOKIE_SIZE == raised.value.limit


def test_oversized_session_is_a_logged_500_through_json_errors(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = testapp(session_app(setter(big=BIG)), partial(JSONErrors), middleware_layer())
    with caplog.at_level(logging.INFO):
        response = app.get("/", status=500, expect_errors=True)
    assert response.json["status"] == 500 and "Set-Cookie" not in response.headers
    assert "SessionTooLarge" in caplog.text and "store=" in caplog.text


def middleware_layer(**options: Any) -> Callable[[WSGIApplication], SessionMiddleware]:
    return partial(SessionMiddleware, secret_key=SECRET, **options)


def test_oversized_cookie_is_logged_as_error_and_sent(caplog: pytest.LogCaptureFixture) -> None:
    big = BIG
    with caplog.at_level(logging.INFO, "wsgikit.sessions"):
        _, headers, _ = call(middleware(setter(big=big), oversize="log"))
    cookie = set_cookie(headers)
    assert cookie is not None and len(cookie) > MAX_COOKIE_SIZE
    [record] = caplog.records
    assert record.levelno == logging.ERROR and str(len(cookie)) in record.getMessage()


def test_small_cookie_is_not_logged(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, "wsgikit.sessions"):
        call(middleware(setter(small="x" * 100)))
    assert caplog.records == []


def test_unserialisable_value_is_a_programming_error() -> None:
    app = SessionMiddleware(session_app(setter(bad={1, 2})), SECRET)
    with pytest.raises(TypeError, match="cannot be serialised"):
        run_wsgi(app)


# --- the session object -----------------------------------------------------------


READS: list[Any] = [
    pytest.param(lambda s: s["a"], 1, id="getitem"),
    pytest.param(lambda s: s.get("a"), 1, id="get"),
    pytest.param(lambda s: "a" in s, True, id="contains"),
    pytest.param(lambda s: len(s), 2, id="len"),
    pytest.param(lambda s: bool(s), True, id="bool"),
    pytest.param(lambda s: list(s), ["a", "b"], id="iter"),
    pytest.param(lambda s: list(reversed(s)), ["b", "a"], id="reversed"),
    pytest.param(lambda s: list(s.keys()), ["a", "b"], id="keys"),
    pytest.param(lambda s: list(s.values()), [1, [2]], id="values"),
    pytest.param(lambda s: dict(s.items()), {"a": 1, "b": [2]}, id="items"),
    pytest.param(lambda s: dict(s), {"a": 1, "b": [2]}, id="dict()"),
    pytest.param(lambda s: {**s}, {"a": 1, "b": [2]}, id="unpacking"),
    pytest.param(lambda s: s.copy(), {"a": 1, "b": [2]}, id="copy"),
    pytest.param(lambda s: copy.copy(s), {"a": 1, "b": [2]}, id="copy.copy"),
    pytest.param(lambda s: s == {"a": 1, "b": [2]}, True, id="eq"),
    pytest.param(lambda s: operator.eq({"a": 1, "b": [2]}, s), True, id="reflected eq"),
    pytest.param(lambda s: s != {}, True, id="ne"),
    pytest.param(lambda s: s | {"c": 3}, {"a": 1, "b": [2], "c": 3}, id="or"),
    pytest.param(lambda s: {"c": 3} | s, {"c": 3, "a": 1, "b": [2]}, id="ror"),
    pytest.param(lambda s: json.loads(json.dumps(s)), {"a": 1, "b": [2]}, id="json.dumps"),
    pytest.param(lambda s: s.new, False, id="new"),
]


@pytest.mark.parametrize(("read", "expected"), READS)
def test_every_read_loads_the_cookie(read: Callable[[Session], Any], expected: Any) -> None:
    results: list[Any] = []
    app = middleware(lambda s: (results.append(read(s)), results.append(s.modified)))
    _, headers, _ = call(app, HTTP_COOKIE="session=" + signed({"a": 1, "b": [2]}))
    assert results == [expected, False]
    assert set_cookie(headers) is None and header_values(headers, "Vary") == ["Cookie"]


def test_repr_does_not_load_the_cookie(checks: list[bytes]) -> None:
    seen: list[Any] = []

    def look(session: Session) -> None:
        seen.extend([repr(session), f"{session!s}", session.accessed])
        seen.extend([session.get("a"), repr(session), session.accessed])

    call(middleware(look), HTTP_COOKIE="session=" + signed({"a": 1}))
    assert seen == [
        "<Session (not loaded)>",
        "<Session (not loaded)>",
        False,
        1,
        "<Session {'a': 1}>",
        True,
    ]
    assert len(checks) == 1  # the get(), not the repr()


def test_validator_repr_of_the_environ_leaves_the_session_untouched(
    checks: list[bytes],
) -> None:
    """wsgiref.validate formats the whole environ (``%r``) on every request."""
    calls, chunks, _ = run_wsgi(
        SessionMiddleware(validator(ignoring_app), SECRET),
        make_environ(HTTP_COOKIE="session=" + signed({"a": 1})),
    )
    assert checks == []
    assert calls == [("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])]
    assert chunks == [b"ok"]


WRITES: list[Any] = [
    pytest.param(lambda s: s.__setitem__("c", 3), {"a": 1, "c": 3}, id="setitem"),
    pytest.param(lambda s: s.__delitem__("a"), {}, id="delitem"),
    pytest.param(lambda s: s.update(c=3), {"a": 1, "c": 3}, id="update"),
    pytest.param(lambda s: s.__ior__({"c": 3}), {"a": 1, "c": 3}, id="ior"),
    pytest.param(lambda s: s.setdefault("c", 3), {"a": 1, "c": 3}, id="setdefault new"),
    pytest.param(lambda s: s.pop("a"), {}, id="pop"),
    pytest.param(lambda s: s.popitem(), {}, id="popitem"),
    pytest.param(lambda s: s.clear(), {}, id="clear"),
]


@pytest.mark.parametrize(("write", "expected"), WRITES)
def test_every_change_is_saved(write: Action, expected: dict[str, Any]) -> None:
    app = middleware(write)
    _, headers, body = call(app, HTTP_COOKIE="session=" + signed({"a": 1}))
    assert json.loads(body) == expected
    cookie = value_of(set_cookie(headers))
    assert (unsign(cookie) if cookie else {}) == expected


@pytest.mark.parametrize(
    "noop",
    [
        pytest.param(lambda s: s.setdefault("a", 5), id="setdefault existing"),
        pytest.param(lambda s: s.pop("missing", None), id="pop missing"),
    ],
)
def test_non_changes_write_nothing(noop: Action) -> None:
    _, headers, body = call(middleware(noop), HTTP_COOKIE="session=" + signed({"a": 1}))
    assert set_cookie(headers) is None and json.loads(body) == {"a": 1}


def test_new_and_accessed_flags() -> None:
    seen: dict[str, Any] = {}

    def look(session: Session) -> None:
        seen["accessed_before"] = session.accessed
        seen["new"] = session.new
        seen["accessed_after"] = session.accessed

    call(middleware(look))
    assert seen == {"accessed_before": False, "new": True, "accessed_after": True}
    call(middleware(look), HTTP_COOKIE="session=" + signed({"a": 1}))
    assert seen["new"] is False
    call(middleware(look), HTTP_COOKIE="session=tampered")
    assert seen["new"] is True


def test_a_session_built_directly_is_a_plain_dict() -> None:
    session = Session({"a": 1}, b=2)
    assert isinstance(session, dict) and session == {"a": 1, "b": 2}
    assert session.new and not session.modified
    session["c"] = 3
    assert session.modified and not session.accessed  # no request, no cookie


def test_get_session_without_the_middleware() -> None:
    with pytest.raises(LookupError, match="SessionMiddleware"):
        get_session(make_environ())


def test_session_is_in_the_environ() -> None:
    seen: list[Any] = []

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        session = environ["wsgikit.session"]  # the key DESIGN.md names
        seen.append((type(session), session is get_session(environ)))
        return ignoring_app(environ, start_response)

    call(SessionMiddleware(app, SECRET))
    assert SESSION_KEY == "wsgikit.session" and seen == [(Session, True)]


# --- PEP 3333 paths ----------------------------------------------------------------


def test_generator_app_changing_the_session_before_start_response() -> None:
    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterator[bytes]:
        get_session(environ)["lazy"] = True
        start_response("200 OK", [("Content-Type", "text/plain")])
        yield b"lazy"

    _, headers, body = call(SessionMiddleware(app, SECRET))
    assert unsign(value_of(set_cookie(headers))) == {"lazy": True} and body == b"lazy"


def test_change_during_the_body_is_logged_and_lost(caplog: pytest.LogCaptureFixture) -> None:
    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterator[bytes]:
        session = get_session(environ)
        session["before"] = 1
        start_response("200 OK", [("Content-Type", "text/plain")])
        yield b"first"
        session["during"] = 2
        session["again"] = 3
        yield b"second"

    with caplog.at_level(logging.INFO, "wsgikit.sessions"):
        _, headers, body = call(SessionMiddleware(app, SECRET))
    assert unsign(value_of(set_cookie(headers))) == {"before": 1}
    assert body == b"firstsecond"
    [record] = caplog.records  # once per request
    assert record.levelno == logging.WARNING and "after start_response" in caplog.text


@pytest.mark.parametrize(
    ("touch", "warned"),
    [
        pytest.param(lambda s: s.__setitem__("user", "alice"), True, id="set"),
        pytest.param(lambda s: s.clear(), True, id="clear"),
        pytest.param(lambda s: setattr(s, "modified", True), False, id="modified flag"),
        pytest.param(lambda s: s.get("user"), False, id="read"),
    ],
)
def test_first_touch_during_the_body_is_logged_and_lost(
    touch: Action, warned: bool, caplog: pytest.LogCaptureFixture
) -> None:
    """The app touches the session for the first time inside its body generator."""

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])

        def body() -> Iterator[bytes]:
            touch(get_session(environ))
            get_session(environ).get("again")
            yield b"hi"

        return body()

    with caplog.at_level(logging.INFO, "wsgikit.sessions"):
        _, headers, body = call(
            SessionMiddleware(app, SECRET), HTTP_COOKIE="session=" + signed({"a": 1})
        )
    assert body == b"hi"
    assert header_values(headers, "Set-Cookie") == [] and header_values(headers, "Vary") == []
    warnings = [r for r in caplog.records if "after start_response" in r.getMessage()]
    assert [r.levelno for r in warnings] == ([logging.WARNING] if warned else [])


def test_streaming_is_kept() -> None:
    handshake = Handshake()

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        get_session(environ)["streamed"] = True
        return handshake(environ, start_response)

    assert handshake.drive(SessionMiddleware(app, SECRET)) == [b"first", b"second"]
    assert handshake.second_produced


@pytest.mark.parametrize("touch", [False, True], ids=["untouched", "changed"])
@pytest.mark.parametrize("fail_at", [None, 1], ids=["complete", "raises mid-body"])
def test_inner_iterable_is_closed_once(touch: bool, fail_at: int | None) -> None:
    tracked = Tracked([b"a", b"b"], fail_at=fail_at)

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if touch:
            get_session(environ)["x"] = 1
        start_response("200 OK", [("Content-Type", "text/plain")])
        return tracked

    if fail_at is None:
        calls, _, _ = run_wsgi(linted(SessionMiddleware(app, SECRET)))
        assert (set_cookie(calls[-1][1]) is not None) is touch
    else:
        with pytest.raises(RuntimeError, match="boom"):
            run_wsgi(linted(SessionMiddleware(app, SECRET)))
    assert tracked.closes == 1


def test_legacy_write_app() -> None:
    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        get_session(environ)["w"] = 1
        write = start_response("200 OK", [("Content-Type", "text/plain")])
        write(b"written ")
        return [b"returned"]

    _, headers, body = call(SessionMiddleware(app, SECRET))
    assert body == b"written returned" and unsign(value_of(set_cookie(headers))) == {"w": 1}


def test_exc_info_replacement_carries_the_cookie() -> None:
    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        session = get_session(environ)
        session["step"] = 1
        start_response("200 OK", [("Content-Type", "text/plain")])
        try:
            raise ValueError("failed")
        except ValueError:
            import sys

            session["step"] = 2  # before anything was sent: the replacement saves it
            start_response(
                "500 Internal Server Error", [("Content-Type", "text/plain")], sys.exc_info()
            )
        return [b"error page"]

    calls, chunks, _ = run_wsgi(SessionMiddleware(app, SECRET))
    status, headers = calls[-1]
    assert status.startswith("500")
    assert unsign(value_of(set_cookie(headers))) == {"step": 2}


def test_head_request_gets_the_cookie() -> None:
    _, headers, _ = call(middleware(setter(a=1)), REQUEST_METHOD="HEAD")
    assert unsign(value_of(set_cookie(headers))) == {"a": 1}


def test_session_beside_a_cookie_that_is_not_utf8_is_read() -> None:
    """Another cookie's non-UTF-8 bytes (werkzeug.http.parse_cookie raises on
    them) do not cost the session."""
    cookie = "other=caf\xe9; session=" + signed({"a": 1})
    _, headers, body = call(middleware(lambda s: s.get("a")), HTTP_COOKIE=cookie)
    assert json.loads(body) == {"a": 1} and set_cookie(headers) is None


def test_app_raising_before_start_response_propagates() -> None:
    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        get_session(environ)["a"] = 1
        raise RuntimeError("app failed")

    with pytest.raises(RuntimeError, match="app failed"):
        run_wsgi(linted(SessionMiddleware(app, SECRET)))


@pytest.mark.parametrize("status", ["204 No Content", "304 Not Modified"])
def test_bodyless_statuses_get_the_cookie(status: str) -> None:
    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        get_session(environ)["a"] = 1
        start_response(status, [])
        return []

    sent, headers, body = call(SessionMiddleware(app, SECRET))
    assert sent == status and body == b""
    assert unsign(value_of(set_cookie(headers))) == {"a": 1}
    assert (
        header_values(headers, "Vary") == ["Cookie"]
        and header_values(headers, "Content-Length") == []
    )


class _LazyUnserialisable:
    """A lazy app's iterable that stores a ``set`` in the session, then calls
    ``start_response`` on its first iteration; counts ``close()`` calls."""

    def __init__(self, environ: WSGIEnvironment, start_response: StartResponse) -> None:
        self.environ = environ
        self.start_response = start_response
        self.closes = 0

    def __iter__(self) -> Iterator[bytes]:
        get_session(self.environ)["bad"] = {1, 2}
        self.start_response("200 OK", [("Content-Type", "text/plain")])
        yield b"never sent"

    def close(self) -> None:
        self.closes += 1


def test_error_in_our_start_response_closes_a_lazy_iterable_once() -> None:
    made: list[_LazyUnserialisable] = []

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        made.append(_LazyUnserialisable(environ, start_response))
        return made[0]

    with pytest.raises(TypeError, match="cannot be serialised"):
        run_wsgi(SessionMiddleware(app, SECRET))
    assert [body.closes for body in made] == [1]


# --- options ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cookie_name", "options", "prefix"),
    [
        pytest.param(
            "__Host-s", {"secure": True, "path": "/a"}, "__Host-", id="__Host- with a path"
        ),
        pytest.param("__Secure-s", {}, "__Secure-", id="__Secure- plain"),
        # Browsers apply the prefix rules case-insensitively (#8).
        pytest.param("__host-sid", {}, "__Host-", id="__host- plain"),
        pytest.param("__HOST-sid", {}, "__Host-", id="__HOST- plain"),
        pytest.param(
            "__hOsT-sid",
            {"secure": True, "domain": "example.com"},
            "__Host-",
            id="__hOsT- with a domain",
        ),
        pytest.param("__secure-sid", {}, "__Secure-", id="__secure-"),
        pytest.param("__SECURE-sid", {}, "__Secure-", id="__SECURE-"),
    ],
)
def test_cookie_name_prefix_rules_fail_at_construction(
    cookie_name: str, options: dict[str, Any], prefix: str
) -> None:
    """A ``__Secure-`` name needs ``secure``; a ``__Host-`` name also path ``/`` and no domain."""
    with pytest.raises(ValueError, match=prefix):
        SessionMiddleware(ignoring_app, SECRET, cookie_name=cookie_name, **options)


@pytest.mark.parametrize(
    ("key", "warned"),
    [
        pytest.param("k" * 31, True, id="31 chars"),
        pytest.param(b"k" * 16, True, id="16 bytes"),
        pytest.param("é" * 16, False, id="32 UTF-8 bytes"),
        pytest.param(SECRET, False, id="32 chars"),
    ],
)
def test_short_secret_key_is_logged_at_construction(
    key: str | bytes, warned: bool, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, "wsgikit.sessions"):
        SessionMiddleware(ignoring_app, key)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert bool(warnings) is warned
    if warned:
        assert "32" in warnings[0].getMessage() and str(key) not in warnings[0].getMessage()


SESSION_EXAMPLES = ["pyramid_session_counter.py", "shared_session_flask_bottle.py"]


@pytest.mark.parametrize("name", SESSION_EXAMPLES)
def test_examples_without_a_secret_key_share_a_labelled_development_key(
    name: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """gunicorn -w 4 imports the example once per worker: every worker must
    sign with the same key, or most requests reset the session (#8)."""
    monkeypatch.delenv("SECRET_KEY", raising=False)
    path = Path(__file__).resolve().parent.parent / "examples" / name
    cookies = []
    for worker in range(2):
        with caplog.at_level(logging.WARNING):
            module = _load_example(path, f"worker{worker}")
        assert any("SECRET_KEY" in r.getMessage() for r in caplog.records)
        caplog.clear()
        app = webtest.TestApp(module.app)
        prefix = "/bottle" if "bottle" in name else ""
        app.get(prefix + ("/add/x" if prefix else "/"))
        cookies.append(app.cookies["session"])
    # A cookie written by one worker is read by the other.
    other = webtest.TestApp(_load_example(path, "worker2").app)
    other.set_cookie("session", cookies[0])
    if "bottle" in name:
        assert other.get("/bottle/cart").json["cart"] == ["x"]
    else:
        assert other.get("/").json["visits"] == 2


@pytest.mark.parametrize("name", SESSION_EXAMPLES)
def test_examples_read_the_secret_key_from_the_environment(
    name: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("SECRET_KEY", "from-the-environment-" + "x" * 32)
    path = Path(__file__).resolve().parent.parent / "examples" / name
    with caplog.at_level(logging.WARNING):
        module = _load_example(path, "env")
    assert not [r for r in caplog.records if "SECRET_KEY" in r.getMessage()]
    app = webtest.TestApp(module.app)
    app.get("/bottle/add/x" if "bottle" in name else "/")
    reader = SessionMiddleware(
        session_app(), "from-the-environment-" + "x" * 32, flask_compatible="bottle" in name
    )
    _, _, body = call(reader, HTTP_COOKIE="session=" + app.cookies["session"].strip('"'))
    assert json.loads(body) != {}


def _load_example(path: Path, tag: str) -> Any:
    return import_file(path, f"session_example_{path.stem}_{tag}")


def test_options_are_public_attributes() -> None:
    app = SessionMiddleware(
        ignoring_app,
        b"bytes-key",
        cookie_name="sid",
        max_age=datetime.timedelta(days=1),
        samesite="strict",
        fallback_keys=["old"],
        flask_compatible=True,
    )
    assert app.app is ignoring_app and app.secret_key == b"bytes-key"
    assert (app.cookie_name, app.max_age, app.samesite) == ("sid", DAY, "Strict")
    assert app.fallback_keys == ("old",) and (app.salt, app.digest) == ("cookie-session", "sha1")
    assert isinstance(app.serializer, TaggedJSON)


def test_custom_serializer() -> None:
    class Upper:
        def dumps(self, obj: Any) -> str:
            return json.dumps(obj).upper()

        def loads(self, text: str) -> Any:
            return json.loads(text.lower())

    app = middleware(setter(k="v"), serializer=Upper())
    _, headers, _ = call(app)
    reader = middleware(lambda s: s.get("k"), serializer=Upper())
    assert json.loads(
        call(reader, HTTP_COOKIE="session=" + value_of(set_cookie(headers))).body
    ) == {"k": "v"}


# --- property tests -------------------------------------------------------------------


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(header_value=cookie_headers(lambda a, b: signed({"a": 1})))
def test_any_cookie_header_gives_a_dict_session(header_value: str) -> None:
    seen: list[Any] = []
    app = middleware(lambda s: seen.append((type(s), dict(s))))
    status, headers, body = call(app, HTTP_COOKIE=header_value, lint=False)
    assert status == "200 OK"
    [(kind, data)] = seen
    assert kind is Session and isinstance(data, dict)
    assert data in ({}, {"a": 1})


@settings(max_examples=100, deadline=None)
@given(data=st.dictionaries(st.text(max_size=10), JSON_VALUES, max_size=6))
def test_json_contents_round_trip(data: dict[str, Any]) -> None:
    writer = SessionMiddleware(session_app(lambda s: (s.clear(), s.update(data))), SECRET)
    _, headers, _ = call(writer, lint=False)
    seen: list[dict[str, Any]] = []
    reader = SessionMiddleware(session_app(lambda s: seen.append(dict(s))), SECRET)
    if data:
        call(reader, HTTP_COOKIE="session=" + value_of(set_cookie(headers)), lint=False)
        assert seen == [data]
    else:
        assert set_cookie(headers) is None


TAGGED_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.text()
    | st.binary(max_size=20)
    | st.uuids()
    | st.builds(Markup, st.text(max_size=10))
    | st.datetimes(
        min_value=datetime.datetime(1970, 1, 1), max_value=datetime.datetime(9999, 1, 1)
    ).map(lambda d: d.replace(microsecond=0, tzinfo=datetime.UTC)),
    lambda children: (
        st.lists(children, max_size=3)
        | st.lists(children, max_size=3).map(tuple)
        | st.dictionaries(
            st.sampled_from([" t", " b", " di", " m", " u", " d", "k", "k__"])
            | st.text(max_size=5),
            children,
            max_size=3,
        )
    ),
    max_leaves=10,
)


@settings(max_examples=100, deadline=None)
@given(value=TAGGED_VALUES)
def test_tagged_json_round_trip(value: Any) -> None:
    tagged = TaggedJSON()
    assert tagged.loads(tagged.dumps({"v": value})) == {"v": value}


@settings(max_examples=60, deadline=None)
@given(value=TAGGED_VALUES)
def test_tagged_json_matches_flask(value: Any) -> None:
    from flask.json.tag import TaggedJSONSerializer

    flask_serializer = TaggedJSONSerializer()
    ours = TaggedJSON()
    text = ours.dumps({"v": value})
    assert flask_serializer.loads(text) == {"v": value}
    assert ours.loads(flask_serializer.dumps({"v": value})) == {"v": value}


@settings(max_examples=100, deadline=None)
@given(value=TAGGED_VALUES, escaped=st.booleans())
def test_tagged_json_reads_what_flask_reads(value: Any, escaped: bool) -> None:
    """Also when a tag's leading space is written as an escape (the shortcut for
    texts without tags must not miss one)."""
    from flask.json.tag import TaggedJSONSerializer

    flask_serializer = TaggedJSONSerializer()
    text = flask_serializer.dumps({"v": value})
    if escaped:
        text = text.replace('" ', '"\\u0020')
    assert TaggedJSON().loads(text) == flask_serializer.loads(text)


# --- Flask interoperability ----------------------------------------------------------


def test_flask_writes_we_read() -> None:
    cookie = flask_cookie(TAGGED)
    seen: list[dict[str, Any]] = []
    app = middleware(lambda s: seen.append(dict(s)), flask_compatible=True)
    call(app, HTTP_COOKIE="session=" + value_of(cookie))
    assert seen == [TAGGED]
    assert {type(v) for v in seen[0].values()} == {type(v) for v in TAGGED.values()}


def test_we_write_flask_reads() -> None:
    _, headers, _ = call(middleware(setter(**TAGGED), flask_compatible=True))
    flask_app = flask_session_app(TAGGED)
    client = flask_app.test_client()
    client.set_cookie("session", value_of(set_cookie(headers)))
    assert client.get("/read").text == repr(sorted(TAGGED.items()))


def test_flask_and_us_in_one_stack_share_the_session(caplog: pytest.LogCaptureFixture) -> None:
    """A Flask app inside our middleware: both see and change the same cookie."""
    import flask

    inner = flask.Flask("shared")
    inner.secret_key = SECRET

    @inner.route("/flask")
    def by_flask() -> Any:
        flask.session["flask"] = flask.session.get("flask", 0) + 1
        return flask.jsonify(dict(flask.session))

    @inner.route("/ours")
    def by_us() -> Any:
        session = get_session(flask.request.environ)
        session["ours"] = session.get("ours", 0) + 1
        return flask.jsonify(dict(session))

    app = testapp(inner, partial(SessionMiddleware, secret_key=SECRET, flask_compatible=True))
    with caplog.at_level(logging.INFO, "wsgikit.sessions"):
        assert app.get("/flask").json == {"flask": 1}
        assert app.get("/ours").json == {"flask": 1, "ours": 1}
        assert app.get("/flask").json == {"flask": 2, "ours": 1}
        assert app.get("/ours").json == {"flask": 2, "ours": 2}
    assert caplog.records == []  # Flask writing the shared cookie is no clash


def test_flask_cookie_with_malformed_tags_is_rejected(caplog: pytest.LogCaptureFixture) -> None:
    bad = signed(
        None, salt="cookie-session", digest=hashlib.sha1, payload=_b64(b'{"x":{" u":"nope"}}')
    )
    with caplog.at_level(logging.INFO, "wsgikit.sessions"):
        _, _, body = call(
            middleware(lambda s: s.get("x"), flask_compatible=True), HTTP_COOKIE="session=" + bad
        )
    assert json.loads(body) == {} and caplog.records[0].levelno == logging.WARNING


def _b64(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def _clashing_app(their_cookie: str, action: Action) -> WSGIApplication:
    """An app that sets a cookie of its own (``their_cookie``) and runs ``action``."""

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        action(get_session(environ))
        start_response("200 OK", [("Content-Type", "text/plain"), ("Set-Cookie", their_cookie)])
        return [b"ok"]

    return app


@pytest.mark.parametrize(
    ("their_cookie", "action", "options", "warned"),
    [
        pytest.param("session=theirs; Path=/", setter(a=1), {}, True, id="both write"),
        pytest.param(" session =theirs", lambda s: s.get("a"), {}, True, id="we only read"),
        pytest.param(
            "session=theirs",
            lambda s: s.get("a"),
            {"flask_compatible": True},
            False,
            id="flask mode, we only read",
        ),
        pytest.param("sessionid=x", setter(a=1), {}, False, id="another name"),
        pytest.param("session=theirs", setter(a=1), {"cookie_name": "sid"}, False, id="renamed"),
        # Warned even when our session was not touched (#8): around Pyramid's
        # SignedCookieSessionFactory both sessions reset without a word otherwise.
        pytest.param("session=theirs", lambda s: None, {}, True, id="untouched"),
        pytest.param(
            "session=theirs", lambda s: None, {"flask_compatible": True}, False, id="flask, none"
        ),
    ],
)
def test_app_setting_a_cookie_of_our_name_is_logged_once(
    their_cookie: str,
    action: Action,
    options: dict[str, Any],
    warned: bool,
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = SessionMiddleware(_clashing_app(their_cookie, action), SECRET, **options)
    with caplog.at_level(logging.INFO, "wsgikit.sessions"):
        _, headers, _ = call(app)
        _, again, _ = call(app)
    assert headers == again
    cookies = header_values(headers, "Set-Cookie")
    assert cookies[0] == their_cookie  # the app's cookie is passed on as it was
    clash = [r for r in caplog.records if "sets a cookie named" in r.getMessage()]
    assert [r.levelno for r in clash] == ([logging.WARNING] if warned else [])
    if warned:
        assert "cookie_name" in caplog.text and "flask_compatible" in caplog.text


def test_app_cookie_of_our_name_replaces_a_bad_one_without_a_deletion() -> None:
    app = SessionMiddleware(
        _clashing_app("session=fresh", lambda s: s.get("a")), SECRET, flask_compatible=True
    )
    _, headers, _ = call(app, HTTP_COOKIE="session=stale")
    assert header_values(headers, "Set-Cookie") == ["session=fresh"]


def test_pyramid_cookie_session_around_is_logged_though_ours_is_untouched(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Pyramid's SignedCookieSessionFactory also names its cookie ``session``."""
    from pyramid.config import Configurator
    from pyramid.session import SignedCookieSessionFactory

    def view(request: Any) -> Any:
        request.session["n"] = request.session.get("n", 0) + 1
        return {"n": request.session["n"]}

    with Configurator(session_factory=SignedCookieSessionFactory("p" * 32)) as config:
        config.add_route("index", "/")
        config.add_view(view, route_name="index", renderer="json")
        pyramid_app = config.make_wsgi_app()
    app = testapp(pyramid_app, partial(SessionMiddleware, secret_key=SECRET))
    with caplog.at_level(logging.INFO, "wsgikit.sessions"):
        counts = [app.get("/").json["n"] for _ in range(3)]
    assert counts == [1, 2, 3]  # our untouched session leaves Pyramid's alone
    clash = [r for r in caplog.records if "sets a cookie named session" in r.getMessage()]
    assert [r.levelno for r in clash] == [logging.WARNING]


def test_flask_mode_app_cookie_that_does_not_verify_is_refused_loudly() -> None:
    """Both sides wrote, and the app's cookie cannot be the merge base: no silent loss."""
    app = SessionMiddleware(
        _clashing_app("session=theirs; Path=/", setter(a=1)), SECRET, flask_compatible=True
    )
    with pytest.raises(RuntimeError, match="cannot merge"):
        run_wsgi(app)


def _flask_counter(
    cookie_name: str = "session", flask_key: str = "flask-" + SECRET, **options: Any
) -> webtest.TestApp:
    """Flask's own session and ours, side by side in one Flask view."""
    import flask

    inner = flask.Flask("clash")
    inner.secret_key = flask_key

    @inner.route("/")
    def index() -> Any:
        ours = get_session(flask.request.environ)
        ours["mw"] = ours.get("mw", 0) + 1
        flask.session["fl"] = flask.session.get("fl", 0) + 1
        return flask.jsonify(fl=flask.session["fl"], mw=ours["mw"])

    return testapp(
        inner, partial(SessionMiddleware, secret_key=SECRET, cookie_name=cookie_name, **options)
    )


def test_wrapping_flask_with_the_default_name_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    app = _flask_counter()
    with caplog.at_level(logging.INFO, "wsgikit.sessions"):
        counts = [app.get("/").json for _ in range(3)]
    assert counts[-1] == {"fl": 1, "mw": 3}  # Flask's session is overwritten every time
    assert "sets a cookie named session" in caplog.text


def test_wrapping_flask_with_another_cookie_name_keeps_both_sessions(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = _flask_counter("wsgikit_session")
    with caplog.at_level(logging.INFO, "wsgikit.sessions"):
        counts = [app.get("/").json for _ in range(3)]
    assert counts == [{"fl": n, "mw": n} for n in (1, 2, 3)]
    assert caplog.records == []


def test_flask_mode_merges_flask_and_wsgi_writes_of_one_request(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """#8: Flask's Set-Cookie is the base, our changes go on top, one cookie is sent."""
    app = _flask_counter(flask_key=SECRET, flask_compatible=True)
    with caplog.at_level(logging.INFO, "wsgikit.sessions"):
        responses = [app.get("/") for _ in range(3)]
    assert [r.json for r in responses] == [{"fl": n, "mw": n} for n in (1, 2, 3)]
    assert all(len(r.headers.getall("Set-Cookie")) == 1 for r in responses)
    assert caplog.records == []


def test_flask_mode_merges_with_an_inner_wsgi_layer() -> None:
    """A WSGI layer between us and Flask writes our session; Flask writes its own."""
    import flask

    inner = flask.Flask("merge")
    inner.secret_key = SECRET

    @inner.route("/")
    def index() -> Any:
        flask.session["fl"] = flask.session.get("fl", 0) + 1
        flask.session.pop("gone", None)
        return flask.jsonify(dict(flask.session))

    @inner.route("/seed")
    def seed() -> Any:
        flask.session.update(gone=1, kept="x")
        return flask.jsonify({})

    @inner.route("/logout")
    def logout() -> Any:
        flask.session.clear()  # Flask deletes the cookie ...
        return flask.jsonify({})

    def layer(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        session = get_session(environ)
        session["wsgi"] = session.get("wsgi", 0) + 1
        return inner(environ, start_response)

    app = testapp(layer, partial(SessionMiddleware, secret_key=SECRET, flask_compatible=True))
    app.get("/seed")
    app.get("/")
    assert app.get("/").json == {"fl": 2, "kept": "x", "wsgi": 2}  # as Flask saw it
    app.get("/logout")  # ... and our change on top keeps only what we wrote
    assert app.get("/").json == {"fl": 1, "wsgi": 4}


# --- real frameworks use the session via the environ -----------------------------------


def count_visits(request: Any) -> dict[str, Any]:
    session = get_session(request.environ)
    session["n"] = session.get("n", 0) + 1
    return {"n": session["n"]}


@pytest.fixture(params=["flask", "pyramid", "bottle"])
def counting_app(request: pytest.FixtureRequest) -> WSGIApplication:
    """A framework app counting visits in ``get_session(environ)["n"]`` at ``/``."""
    return json_view_app(request.param, "/", count_visits)


def test_frameworks_keep_a_session_across_requests(counting_app: WSGIApplication) -> None:
    app = testapp(counting_app, partial(SessionMiddleware, secret_key=SECRET))
    assert [app.get("/").json["n"] for _ in range(3)] == [1, 2, 3]
    response = app.get("/")
    assert response.json == {"n": 4}
    assert "Cookie" in response.headers["Vary"]
    assert unsign(app.cookies["session"]) == {"n": 4}


# --- concurrency and a real server --------------------------------------------------


def test_sessions_never_bleed_between_threads() -> None:
    barrier = threading.Barrier(8)

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        session = get_session(environ)
        who = environ["QUERY_STRING"]
        previous = session.get("who")
        with contextlib.suppress(threading.BrokenBarrierError):
            barrier.wait(timeout=0.05)
        session["who"] = who
        body = json.dumps({"previous": previous, "who": who}).encode()
        start_response("200 OK", [("Content-Type", "application/json")])
        return [body]

    shared = SessionMiddleware(app, SECRET)

    def client(number: int) -> list[str]:
        problems = []
        cookie = None
        for step in range(15):
            who = f"client{number}-{step}"
            environ = {"QUERY_STRING": who}
            if cookie:
                environ["HTTP_COOKIE"] = "session=" + cookie
            calls, chunks, _ = run_wsgi(shared, environ)
            data = json.loads(b"".join(chunks))
            expected_previous = f"client{number}-{step - 1}" if step else None
            if data != {"previous": expected_previous, "who": who}:
                problems.append(f"{who}: {data}")
            cookie = value_of(set_cookie(calls[-1][1]))
            if unsign(cookie) != {"who": who}:
                problems.append(f"{who}: cookie {unsign(cookie)}")
        return problems

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(client, range(16)))
    assert results == [[]] * 16


def test_end_to_end_with_a_cookie_jar(serve: Any) -> None:
    server = serve("e2e_sessions_apps:app")
    with requests.Session() as browser:
        assert [browser.get(server.url + "/").json()["visits"] for _ in range(3)] == [1, 2, 3]
        peek = browser.get(server.url + "/peek")
        assert peek.json() == {"visits": 3}
        assert "Set-Cookie" not in peek.headers and peek.headers["Vary"] == "Cookie"
        [cookie] = list(browser.cookies)
        assert cookie.name == "session" and cookie.has_nonstandard_attr("HttpOnly")
        logout = browser.get(server.url + "/logout")
        assert logout.json() == {} and "Max-Age=0" in logout.headers["Set-Cookie"]
        assert list(browser.cookies) == []
        assert browser.get(server.url + "/").json() == {"visits": 1}


def test_end_to_end_flask_and_bottle_share_a_session(serve: Any) -> None:
    server = serve("e2e_sessions_apps:shared")
    with requests.Session() as browser:
        assert browser.get(server.url + "/add/apple").json() == {"cart": ["apple"]}
        assert browser.get(server.url + "/bottle/add/pear").json() == {"cart": ["apple", "pear"]}
        assert browser.get(server.url + "/cart").json() == {
            "cart": ["apple", "pear"],
            "seen_by": ["flask", "bottle"],
        }
        assert browser.get(server.url + "/bottle/cart").json()["cart"] == ["apple", "pear"]


# --- the fast path is exact: cookies both ways, lookup, Set-Cookie (#12) -------------

KEYS = [SECRET, OLD_SECRET, "oldest-secret-key-0123456789abcde"]


class _AtTime(itsdangerous.TimestampSigner):
    """itsdangerous' signer with its clock set by the test."""

    now = T0

    def get_timestamp(self) -> int:
        return self.now


def _reference(keys: list[str], salt: str, digest: str, serializer: Any = None) -> Any:
    """itsdangerous as SessionMiddleware (or Flask) configures it: the newest key last."""
    return itsdangerous.URLSafeTimedSerializer(
        keys[::-1],
        salt=salt,
        serializer=serializer or _COMPACT,
        signer=_AtTime,
        signer_kwargs={"key_derivation": "hmac", "digest_method": digest},
    )


class _Compact:
    """The JSON itsdangerous would write with SessionMiddleware's default options."""

    @staticmethod
    def dumps(obj: Any) -> str:
        return json.dumps(obj, separators=(",", ":"), ensure_ascii=False, allow_nan=False)

    loads = staticmethod(json.loads)


_COMPACT = _Compact()


def _write_through(app: SessionMiddleware, data: dict[str, Any]) -> str:
    """The cookie value ``app`` writes for a new session holding ``data``."""
    captured: list[str] = []

    def inner(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        get_session(environ).update(data)
        return ignoring_app(environ, start_response)

    app.app = inner
    _, headers, _ = call(app, lint=False)
    captured.append(value_of(set_cookie(headers)))
    return captured[0]


def _read_through(app: SessionMiddleware, value: str) -> dict[str, Any]:
    seen: list[dict[str, Any]] = []

    def inner(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        seen.append(dict(get_session(environ)))
        return ignoring_app(environ, start_response)

    app.app = inner
    call(app, HTTP_COOKIE="session=" + value, lint=False)
    return seen[0]


@settings(max_examples=1500, deadline=None)
@given(data=session_data(min_size=1), fallbacks=st.integers(0, 2), signer=st.integers(0, 2))
def test_cookies_are_itsdangerous_bytes_both_ways_through_the_middleware(
    data: dict[str, Any], fallbacks: int, signer: int
) -> None:
    """Thousands of sessions: what we write is byte for byte itsdangerous'
    cookie (zlib or not), and what itsdangerous writes with any key
    (current or fallback) we read."""
    keys = KEYS[: fallbacks + 1]
    app = SessionMiddleware(ignoring_app, keys[0], fallback_keys=keys[1:])
    ours = _write_through(app, data)
    reference = _reference(keys, "wsgikit.session", "sha256")
    _AtTime.now = int(reference.loads(ours, return_timestamp=True)[1].timestamp())
    assert ours == reference.dumps(data)
    theirs = _reference(keys[min(signer, fallbacks) :], "wsgikit.session", "sha256")
    assert _read_through(app, theirs.dumps(data)) == data


TAGGED_SESSIONS = st.dictionaries(st.text(max_size=8), TAGGED_VALUES, min_size=1, max_size=4)


@settings(max_examples=1000, deadline=None)
@given(data=TAGGED_SESSIONS, fallback=st.booleans())
def test_flask_mode_cookies_are_flasks_bytes_both_ways_through_the_middleware(
    data: dict[str, Any], fallback: bool
) -> None:
    """Tagged types, Flask's salt and SHA-1: our cookie is the one Flask's own
    serializer writes, and Flask's (also with SECRET_KEY_FALLBACKS) we read."""
    import flask
    from flask.sessions import SecureCookieSessionInterface, session_json_serializer

    keys = KEYS[:2] if fallback else KEYS[:1]
    app = SessionMiddleware(ignoring_app, keys[0], fallback_keys=keys[1:], flask_compatible=True)
    ours = _write_through(app, data)
    flask_app = flask.Flask("fast_path")
    flask_app.secret_key = keys[-1]  # Flask signs with an old key: we must still read it
    flask_app.config["SECRET_KEY_FALLBACKS"] = keys[:-1]
    # Flask's JSON sorts keys inside an app context, where it saves sessions.
    with flask_app.app_context():
        reference = _reference(keys, "cookie-session", "sha1", session_json_serializer)
        _AtTime.now = int(reference.loads(ours, return_timestamp=True)[1].timestamp())
        assert ours == reference.dumps(data)
        flask_side = SecureCookieSessionInterface().get_signing_serializer(flask_app)
        assert flask_side is not None
        assert flask_side.loads(ours) == data
        theirs = flask_side.dumps(data)
    assert _read_through(app, theirs) == data


def test_non_canonical_signature_is_an_empty_session(caplog: pytest.LogCaptureFixture) -> None:
    """The signature's last base64 character carries unused bits; a variant that
    differs only there passes itsdangerous, but not SessionMiddleware."""
    app = SessionMiddleware(ignoring_app, SECRET)
    value = _write_through(app, {"user": "ann"})
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    index = alphabet.index(value[-1])
    variant = value[:-1] + alphabet[index ^ 1]  # SHA-256: 4 unused bits in the last one
    assert unsign(variant) == {"user": "ann"}  # itsdangerous accepts it
    with caplog.at_level(logging.WARNING, "wsgikit.sessions"):
        assert _read_through(app, variant) == {}
    assert "bad signature" in caplog.text
    assert _read_through(app, value) == {"user": "ann"}


def test_itsdangerous_signs_when_the_fast_codec_cannot(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A platform whose hash objects cannot be copied (the fast codec needs
    that) still gets the same cookies, from itsdangerous itself."""
    original = hashlib.new

    class Uncopyable:
        def __init__(self, wrapped: Any) -> None:
            self.wrapped = wrapped

        def __getattr__(self, name: str) -> Any:
            return getattr(self.wrapped, name)

        def copy(self) -> Any:
            raise ValueError("this hash object cannot be copied")

    monkeypatch.setattr(hashlib, "new", lambda *a, **k: Uncopyable(original(*a, **k)))
    with caplog.at_level(logging.INFO, "wsgikit.sessions"):
        app = SessionMiddleware(ignoring_app, SECRET, fallback_keys=[OLD_SECRET])
    assert "itsdangerous itself" in caplog.text
    value = _write_through(app, {"user": "ann"})
    reference = _reference([SECRET, OLD_SECRET], "wsgikit.session", "sha256")
    _AtTime.now = int(reference.loads(value, return_timestamp=True)[1].timestamp())
    assert value == reference.dumps({"user": "ann"})
    assert _read_through(
        app, _reference([OLD_SECRET], "wsgikit.session", "sha256").dumps({"a": 1})
    ) == {"a": 1}


_HEADER_PIECES = st.sampled_from(
    [
        "session",
        "session=",
        "Session=",
        "sessionx=",
        "xsession=",
        "=",
        ";",
        "; ",
        " ",
        "\t",
        ",",
        '"',
        "\\",
        "a=b",
        "eyJhIjoxfQ.ZVPxAA.sig-_",
        ".",
        "é",
        "\xff",
        "\x00",
        "session =v",
    ]
)


@settings(max_examples=2000, deadline=None)
@given(
    pieces=st.lists(
        _HEADER_PIECES | st.text(st.characters(max_codepoint=255), max_size=6), max_size=8
    )
)
def test_cookie_lookup_is_werkzeugs(pieces: list[str]) -> None:
    """The one-cookie shortcut and werkzeug's parser agree on every header."""
    from werkzeug.sansio.http import parse_cookie

    from wsgikit._session_cookie import cookie_values

    header_value = "".join(pieces)
    text = header_value.encode("latin-1").decode("utf-8", "replace")
    expected = parse_cookie(text).getlist("session")
    found = cookie_values(header_value, "session")
    assert (found or []) == expected
    if found is None:
        assert "session" in header_value


@pytest.mark.parametrize("value", ["eyJhIjoxfQ.ZVPxAA.sig-_", ".eJyrVkpUslIqSk0sys", ""])
@pytest.mark.parametrize(
    "options",
    [
        pytest.param({}, id="defaults"),
        pytest.param({"secure": True, "samesite": "None"}, id="secure, SameSite=None"),
        pytest.param({"httponly": False, "samesite": None}, id="no HttpOnly, no SameSite"),
        pytest.param({"domain": "example.com", "path": "/app"}, id="domain and path"),
        pytest.param({"domain": ".Example.com", "path": "/a b%"}, id="domain dot, path quoted"),
        pytest.param({"secure": True, "partitioned": True}, id="partitioned"),
        pytest.param({"samesite": "Strict", "secure": True, "domain": "x.org"}, id="strict"),
    ],
)
@pytest.mark.parametrize("max_age", [None, 1, 3600, 31 * DAY])
def test_set_cookie_template_is_dump_cookie(
    options: dict[str, Any], max_age: int | None, value: str
) -> None:
    """Every option combination gives werkzeug's own ``dump_cookie`` bytes."""
    from werkzeug.http import dump_cookie

    from wsgikit._session_cookie import CookieTemplate

    attributes = {
        "path": "/",
        "domain": None,
        "secure": False,
        "httponly": True,
        "samesite": "Lax",
        "partitioned": False,
        **options,
    }
    template = CookieTemplate("__Host-sid", max_age, **attributes)
    plain = dump_cookie("__Host-sid", value, max_size=0, **attributes)
    assert template.browser_session(value) == plain
    assert template.delete == dump_cookie(
        "__Host-sid", "", max_age=0, expires=0, max_size=0, **attributes
    )
    if max_age is not None:
        for now in (0, T0, T0 + 1, 2**31 + 7):
            expected = dump_cookie(
                "__Host-sid",
                value,
                max_age=max_age,
                expires=now + max_age,
                max_size=0,
                **attributes,
            )
            assert template.lasting(value, now) == expected


def _outcome(function: Callable[[Any], Any], argument: Any) -> Any:
    """What ``function(argument)`` returns, or its exception's type and text."""
    try:
        return ("value", function(argument))
    except Exception as error:
        return ("error", type(error), str(error))


_CIRCULAR: list[Any] = []
_CIRCULAR.append(_CIRCULAR)


@pytest.mark.parametrize(
    "text",
    ['{"a":[1,2.5,null,true]}', '"text"', "7", " {}", "{} ", "{}x", "", "\ufeff{}", "[1,", "NaN"],
)
def test_default_serializer_reads_as_json_loads(text: str) -> None:
    """The direct C scanner, and json.loads itself for all it does not take whole."""
    from wsgikit._session_util import _JSON

    expected = _outcome(json.loads, text)
    got = _outcome(_JSON.loads, text)
    assert repr(got) == repr(expected)


@pytest.mark.parametrize(
    "value",
    [
        {"a": [1, 2.5, None, True], "é": '\u2028\x00"\\'},
        "text",
        -0.0,
        {1: 2},
        _CIRCULAR,
        float("nan"),
        {"x": object()},
        {(1,): 2},
    ],
    ids=["object", "str", "float", "int key", "circular", "nan", "object()", "tuple key"],
)
def test_default_serializer_writes_as_json_dumps(value: Any) -> None:
    """The prebuilt C encoder: json.dumps' text and errors (a cycle too)."""
    from wsgikit._session_util import _JSON

    def reference(obj: Any) -> str:
        return json.dumps(obj, separators=(",", ":"), ensure_ascii=False, allow_nan=False)

    assert _outcome(_JSON.dumps, value) == _outcome(reference, value)


# --- the core's start_response rules hold on the header-only path ----------------------


def test_a_second_start_response_is_refused_before_the_session_is_written() -> None:
    """The app's bug (two calls without exc_info) raises before the second
    edit: no second, orphaned stored session after a rotate()."""
    store = MemoryStore()

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        session = get_session(environ)
        session["n"] = 1
        session.rotate()
        start_response("200 OK", [("Content-Type", "text/plain")])
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    with pytest.raises(RuntimeError, match="called twice without exc_info"):
        run_wsgi(SessionMiddleware(app, SECRET, store=store, max_age=60))
    assert len(store) == 1


def test_an_error_page_started_with_exc_info_keeps_its_session_cookie() -> None:
    """Bottle answers an unhandled error with exc_info on its first call;
    werkzeug's test client re-raises any exc_info it is handed."""
    from werkzeug.test import Client

    def touch(environ: WSGIEnvironment) -> None:
        get_session(environ)["seen"] = True

    response = Client(SessionMiddleware(error_first_app(touch), SECRET)).get("/")
    assert (response.status_code, response.data) == (500, b"error page")
    assert "session=" in response.headers["Set-Cookie"]
