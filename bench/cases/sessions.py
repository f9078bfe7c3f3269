"""SessionMiddleware against itsdangerous, Beaker's cookie sessions and Flask's
own session, on requests that ignore, read, or change the session.

The session data differs on every request, so no cache could profit from a
client resending one cookie (#12): a request that writes the session sends
the cookie the previous response set (its counter one higher), and a request
that only reads takes the next of :data:`POOL` distinct cookies in turn.

secure-cookie (the other anchor DESIGN.md names) is not measured: version 0.2.0
imports ``werkzeug.security.safe_str_cmp``, removed in Werkzeug 2.1, so it
cannot be imported next to Werkzeug 3.

``python bench/cases/sessions.py`` prints the Python-level function calls of
one request per row (cProfile; deterministic, unlike timings);
``python bench/cases/sessions.py --steps`` the time of each step by itself.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

if __name__ == "__main__":
    sys.path[:0] = [str(Path(__file__).resolve().parent.parent)]

import flask
from beaker.middleware import SessionMiddleware as BeakerSessionMiddleware
from harness import Case, bare_app, drain, environ
from itsdangerous import URLSafeTimedSerializer

from wsgikit.sessions import SessionMiddleware, get_session

SECRET = "bench-secret-key-0123456789abcdef"
DATA = {"user": "alice", "roles": ["admin", "staff"], "cart": [1, 2, 3], "n": 7}
#: Distinct cookies a read-only row cycles through.
POOL = 4096
# Beaker warns about the cookie type on every import; keep the output clean.
logging.getLogger("beaker").disabled = True


# --- drivers: one request, with the cookie of this request ---------------------------


def _discard(data: bytes) -> None:
    pass


def chained(app: Any, name: str, first: str) -> Callable[[], int]:
    """Requests that each send the cookie the previous response set."""
    base = environ()
    prefix = name + "="
    state = [first]

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        for key, value in headers:
            if len(key) == 10 and key.lower() == "set-cookie":
                value = value.strip()
                if value.startswith(prefix):
                    state[0] = value[len(prefix) : value.find(";")]
        return _discard

    def call() -> int:
        env = dict(base)
        env["HTTP_COOKIE"] = prefix + state[0]
        return drain(app(env, start_response))

    return call


def cycled(app: Any, name: str, values: list[str]) -> Callable[[], int]:
    """Requests that each send the next of ``values`` (a read-only session)."""
    base = environ()
    cookies = [f"{name}={value}" for value in values]
    state = [0]

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        return _discard

    def call() -> int:
        env = dict(base)
        index = state[0]
        env["HTTP_COOKIE"] = cookies[index]
        state[0] = (index + 1) % len(cookies)
        return drain(app(env, start_response))

    return call


# --- cookies -------------------------------------------------------------------------


def _written(app: Any, name: str, data: dict[str, Any]) -> str:
    """The value of the cookie ``app`` (whose app stores ``environ["data"]``) sets."""
    captured: list[str] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        captured.extend(v.strip() for k, v in headers if k.lower() == "set-cookie")
        return _discard

    for _ in app(environ(data=data), start_response):
        pass
    (cookie,) = [c for c in captured if c.startswith(name + "=")]
    return cookie.split(";", 1)[0].split("=", 1)[1]


def _storing(get: Callable[[dict[str, Any]], Any], save: bool = False) -> Any:
    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        session = get(environ)
        session.update(environ["data"])
        if save:
            session.save()
        start_response("200 OK", [])
        return [b""]

    return app


def _ours_pool(count: int = POOL, **options: Any) -> list[str]:
    app = SessionMiddleware(_storing(get_session), SECRET, **options)
    return [_written(app, "session", {**DATA, "n": n}) for n in range(count)]


def _beaker(app: Any) -> Any:
    return BeakerSessionMiddleware(
        app,
        {
            "session.type": "cookie",
            "session.validate_key": SECRET,
            "session.data_serializer": "json",
            "session.key": "session",
        },
    )


def _beaker_pool(count: int = POOL) -> list[str]:
    app = _beaker(_storing(lambda environ: environ["beaker.session"], save=True))
    return [_written(app, "session", {**DATA, "n": n}) for n in range(count)]


# --- the apps ------------------------------------------------------------------------


def _view(get: Callable[[dict[str, Any]], Any], change: bool, save: bool = False) -> Any:
    """A bare WSGI app that reads one key (and optionally writes one)."""

    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        session = get(environ)
        body = json.dumps(session["user"]).encode()
        if change:
            session["n"] = session["n"] + 1
            if save:
                session.save()
        start_response(
            "200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
        )
        return [body]

    return app


def _itsdangerous_view(change: bool) -> Any:
    """A bare WSGI app doing the session's cryptography by hand: itsdangerous
    ``loads`` of the cookie value (and ``dumps`` of the changed data)."""
    serializer = URLSafeTimedSerializer(
        SECRET,
        salt="wsgikit.session",
        signer_kwargs={"key_derivation": "hmac", "digest_method": hashlib.sha256},
    )

    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        data = serializer.loads(environ["HTTP_COOKIE"][8:], max_age=14 * 86400)
        body = json.dumps(data["user"]).encode()
        headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
        if change:
            data["n"] += 1
            headers.append(("Set-Cookie", "session=" + serializer.dumps(data) + ";"))
        start_response("200 OK", headers)
        return [body]

    return app


def _flask(session_source: str, change: bool, secret: bool = False) -> flask.Flask:
    """``session_source``: ``none`` (never touched), ``flask`` or ``ours``.

    Flask's own session is on (a secret key) only for ``flask`` or ``secret=True``.
    """
    app = flask.Flask(f"bench_sessions_{session_source}_{change}_{secret}")
    if secret or session_source == "flask":
        app.secret_key = SECRET

    @app.route("/")
    def index() -> Any:
        if session_source == "none":
            return "Hello, world!"
        session: Any = (
            flask.session if session_source == "flask" else get_session(flask.request.environ)
        )
        if change:
            session["n"] = session["n"] + 1
        return session["user"]

    return app


def cases() -> list[Case]:
    ours = _ours_pool()
    flask_cookies = _ours_pool(flask_compatible=True)
    beaker = _beaker_pool()
    # Our Flask-mode cookie is Flask's own: Flask's serializer reads it.
    flask_serializer = URLSafeTimedSerializer(
        SECRET,
        salt="cookie-session",
        signer_kwargs={"key_derivation": "hmac", "digest_method": "sha1"},
    )
    assert flask_serializer.loads(flask_cookies[0]) == {**DATA, "n": 0}

    bare = bare_app()
    beaker_get: Callable[[dict[str, Any]], Any] = lambda environ: environ["beaker.session"]  # noqa: E731
    cases: list[Case] = []

    group = "sessions: request that never touches the session (cookie sent)"
    cases += [
        Case(group, "bare app", "floor", cycled(bare, "session", ours)),
        Case(
            group,
            "Beaker SessionMiddleware(type=cookie)",
            "anchor",
            cycled(_beaker(bare), "session", beaker),
        ),
        Case(
            group,
            "SessionMiddleware",
            "wsgikit",
            cycled(SessionMiddleware(bare, SECRET), "session", ours),
        ),
    ]

    group = "sessions: read one key, session unchanged (a new cookie each request)"
    cases += [
        Case(group, "bare app", "floor", cycled(bare, "session", ours)),
        Case(
            group,
            "itsdangerous loads, by hand",
            "anchor",
            cycled(_itsdangerous_view(False), "session", ours),
        ),
        Case(
            group,
            "SessionMiddleware",
            "wsgikit",
            cycled(SessionMiddleware(_view(get_session, False), SECRET), "session", ours),
        ),
        Case(
            group,
            "SessionMiddleware(flask_compatible=True)",
            "wsgikit",
            cycled(
                SessionMiddleware(_view(get_session, False), SECRET, flask_compatible=True),
                "session",
                flask_cookies,
            ),
        ),
        Case(
            group,
            "SessionMiddleware(detect_changes=True)",
            "wsgikit",
            cycled(
                SessionMiddleware(_view(get_session, False), SECRET, detect_changes=True),
                "session",
                ours,
            ),
        ),
        Case(
            group,
            "Beaker SessionMiddleware(type=cookie, json)",
            "wsgikit",
            cycled(_beaker(_view(beaker_get, False)), "session", beaker),
            note="for scale",
        ),
    ]

    for anchor in ("itsdangerous", "Beaker"):
        group = f"sessions: read one key + write one (data varies), against {anchor}"
        rows = [Case(group, "bare app", "floor", chained(bare, "session", ours[0]))]
        if anchor == "itsdangerous":
            rows.append(
                Case(
                    group,
                    "itsdangerous loads + dumps, by hand",
                    "anchor",
                    chained(_itsdangerous_view(True), "session", ours[0]),
                )
            )
        else:
            rows.append(
                Case(
                    group,
                    "Beaker SessionMiddleware(type=cookie, json)",
                    "anchor",
                    chained(_beaker(_view(beaker_get, True, save=True)), "session", beaker[0]),
                )
            )
        rows += [
            Case(
                group,
                "SessionMiddleware",
                "wsgikit",
                chained(SessionMiddleware(_view(get_session, True), SECRET), "session", ours[0]),
            ),
            Case(
                group,
                "SessionMiddleware(flask_compatible=True)",
                "wsgikit",
                chained(
                    SessionMiddleware(_view(get_session, True), SECRET, flask_compatible=True),
                    "session",
                    flask_cookies[0],
                ),
            ),
        ]
        cases += rows

    for change in (False, True):
        verb = "change" if change else "read"
        group = f"sessions: Flask app, {verb} the session"
        drive = chained if change else cycled
        first: Any = flask_cookies[0] if change else flask_cookies
        cases += [
            Case(
                group,
                "Flask app, no session",
                "floor",
                drive(_flask("none", False), "session", first),
            ),
            Case(
                group,
                f"Flask app, {verb} flask.session",
                "anchor",
                drive(_flask("flask", change), "session", first),
            ),
            Case(
                group,
                f"SessionMiddleware(Flask app, flask mode), {verb}",
                "wsgikit",
                drive(
                    SessionMiddleware(_flask("ours", change), SECRET, flask_compatible=True),
                    "session",
                    first,
                ),
            ),
        ]
    group = "sessions: Flask app that ignores the session (cookie sent)"
    cases += [
        Case(group, "Flask app, no cookie", "floor", cycled(_flask("none", False), "x", ["1"])),
        Case(
            group,
            "Flask app with its session, its cookie sent",
            "anchor",
            cycled(_flask("none", False, secret=True), "session", flask_cookies),
            note="Flask opens the session on every request",
        ),
        Case(
            group,
            "SessionMiddleware(Flask app), our cookie sent",
            "wsgikit",
            cycled(
                SessionMiddleware(_flask("none", False), SECRET, flask_compatible=True),
                "session",
                flask_cookies,
            ),
        ),
    ]
    return cases


def count_calls(call: Callable[[], object], requests: int = 200) -> float:
    """Python-level function calls per request (cProfile's count, all functions)."""
    import cProfile
    import pstats

    call()  # imports, first-time caches
    profile = cProfile.Profile()
    profile.enable()
    for _ in range(requests):
        call()
    profile.disable()
    stats = pstats.Stats(profile)
    return stats.total_calls / requests  # type: ignore[attr-defined]


def step_times(number: int = 20_000, repeat: int = 9) -> list[tuple[str, float]]:
    """µs per call of each step of a session request, by themselves (best of
    ``repeat`` CPU-timed runs): where the time of the rows above goes."""
    import time
    import timeit
    import zlib

    from wsgikit._edit import intercept_headers
    from wsgikit._session_cookie import cookie_values, header_flags

    middleware = SessionMiddleware(bare_app(), SECRET)
    codec: Any = middleware._codec
    value = _ours_pool(1)[0]
    header = "session=" + value
    payload = codec.unsign(value)
    text = codec.load_text(payload)
    data = json.loads(text)
    raw = text.encode()
    headers = [("Content-Type", "application/json"), ("Content-Length", "7")]
    env = environ(HTTP_COOKIE=header)

    def start_response(status: str, headers: Any, exc_info: Any = None) -> Any:
        return _discard

    bare = bare_app()
    steps: dict[str, Callable[[], object]] = {
        "read: find the cookie in the header": lambda: cookie_values(header, "session"),
        "read: verify (HMAC, timestamp)": lambda: codec.unsign_timed(value, DEFAULT_MAX_AGE),
        "read: base64 + UTF-8": lambda: codec.load_text(payload),
        "read: JSON": lambda: middleware.serializer.loads(text),
        "read: all of the above": lambda: middleware._open(header),
        "write: JSON": lambda: middleware.serializer.dumps(data),
        "write: zlib.compress (tried on every write)": lambda: zlib.compress(raw),
        "write: sign a payload (HMAC, timestamp)": lambda: codec.sign_payload(payload),
        "write: all of signing": lambda: codec.sign(data),
        "write: Set-Cookie": lambda: middleware._cookie(value, data),
        "response: scan the headers (Vary, Set-Cookie)": lambda: header_flags(headers, "session"),
        "response: the header-only core path": lambda: intercept_headers(
            bare, env, start_response, lambda environ, status, headers: headers
        ),
        "request: the bare app": lambda: bare(env, start_response),
        "request: untouched session": lambda: middleware(env, start_response),
    }
    return [
        (
            name,
            min(timeit.repeat(step, number=number, repeat=repeat, timer=time.process_time))
            / number
            * 1e6,
        )
        for name, step in steps.items()
    ]


DEFAULT_MAX_AGE = 14 * 24 * 3600


if __name__ == "__main__":
    if sys.argv[1:] == ["--steps"]:
        for name, micros in step_times():
            print(f"{micros:7.3f} µs  {name}")
        sys.exit()
    for case in cases():
        if "Flask app" not in case.group:
            print(f"{count_calls(case.call):7.1f}  {case.group[10:]}: {case.name}")
