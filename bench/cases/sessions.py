"""SessionMiddleware against Beaker's cookie sessions and Flask's own session,
on requests that ignore, read, or change the session.

secure-cookie (the other anchor DESIGN.md names) is not measured: version 0.2.0
imports ``werkzeug.security.safe_str_cmp``, removed in Werkzeug 2.1, so it
cannot be imported next to Werkzeug 3.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from typing import Any

import flask
from beaker.middleware import SessionMiddleware as BeakerSessionMiddleware
from harness import Case, bare_app, request
from itsdangerous import URLSafeTimedSerializer

from wsgikit.sessions import SessionMiddleware, get_session

SECRET = "bench-secret-key-0123456789abcdef"
DATA = {"user": "alice", "roles": ["admin", "staff"], "cart": [1, 2, 3], "n": 7}
# Beaker warns about the cookie type on every import; keep the output clean.
logging.getLogger("beaker").disabled = True


def _ours_cookie(flask_compatible: bool = False) -> str:
    """A valid cookie of ours, made by running the middleware once."""
    captured: list[str] = []

    def writer(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        get_session(environ).update(DATA)
        start_response("200 OK", [])
        return [b""]

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        captured.extend(v for k, v in headers if k == "Set-Cookie")
        return None

    app = SessionMiddleware(writer, SECRET, flask_compatible=flask_compatible)
    list(app(_environ(), start_response))
    return captured[0].split(";", 1)[0]


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


def _beaker_cookie() -> str:
    captured: list[str] = []

    def writer(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        session = environ["beaker.session"]
        session.update(DATA)
        session.save()
        start_response("200 OK", [])
        return [b""]

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        captured.extend(v for k, v in headers if k.lower() == "set-cookie")
        return None

    list(_beaker(writer)(_environ(), start_response))
    return captured[0].split(";", 1)[0]


def _environ() -> dict[str, Any]:
    from harness import environ

    return environ()


def _view(get: Callable[[dict[str, Any]], Any], change: bool, save: bool = False) -> Any:
    """A bare WSGI app that reads (and optionally changes) the session."""

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
    ours_cookie = _ours_cookie()
    flask_cookie = _ours_cookie(flask_compatible=True)
    beaker_cookie = _beaker_cookie()
    # The same data, signed by Flask's own serializer (checks our cookie is Flask's).
    flask_serializer = URLSafeTimedSerializer(
        SECRET,
        salt="cookie-session",
        signer_kwargs={"key_derivation": "hmac", "digest_method": "sha1"},
    )
    assert flask_serializer.loads(flask_cookie.split("=", 1)[1]) == DATA

    bare = bare_app()
    ours_get = get_session
    beaker_get: Callable[[dict[str, Any]], Any] = lambda environ: environ["beaker.session"]  # noqa: E731
    cases: list[Case] = []

    group = "sessions: request that never touches the session (cookie sent)"
    cases += [
        Case(group, "bare app", "floor", request(bare, HTTP_COOKIE=ours_cookie)),
        Case(
            group,
            "Beaker SessionMiddleware(type=cookie)",
            "anchor",
            request(_beaker(bare), HTTP_COOKIE=beaker_cookie),
        ),
        Case(
            group,
            "SessionMiddleware",
            "wsgikit",
            request(SessionMiddleware(bare, SECRET), HTTP_COOKIE=ours_cookie),
        ),
    ]

    for change in (False, True):
        group = (
            "sessions: change the session and write the cookie"
            if change
            else "sessions: read an existing session"
        )
        cases += [
            Case(group, "bare app", "floor", request(bare, HTTP_COOKIE=ours_cookie)),
            Case(
                group,
                "Beaker SessionMiddleware(type=cookie, json)",
                "anchor",
                request(_beaker(_view(beaker_get, change, save=change)), HTTP_COOKIE=beaker_cookie),
            ),
        ]
        for flask_compatible, cookie in ((False, ours_cookie), (True, flask_cookie)):
            app = SessionMiddleware(
                _view(ours_get, change), SECRET, flask_compatible=flask_compatible
            )
            name = "SessionMiddleware" + ("(flask_compatible=True)" if flask_compatible else "")
            cases.append(Case(group, name, "wsgikit", request(app, HTTP_COOKIE=cookie)))
        if not change:
            # The price of nested-change detection on a read, unchanged session (#12).
            detecting = SessionMiddleware(_view(ours_get, False), SECRET, detect_changes=True)
            cases.append(
                Case(
                    group,
                    "SessionMiddleware(detect_changes=True)",
                    "wsgikit",
                    request(detecting, HTTP_COOKIE=ours_cookie),
                )
            )

    for change in (False, True):
        verb = "change" if change else "read"
        group = f"sessions: Flask app, {verb} the session"
        cases += [
            Case(
                group,
                "Flask app, no session",
                "floor",
                request(_flask("none", False)),
                note="no cookie sent",
            ),
            Case(
                group,
                f"Flask app, {verb} flask.session",
                "anchor",
                request(_flask("flask", change), HTTP_COOKIE=flask_cookie),
            ),
            Case(
                group,
                f"SessionMiddleware(Flask app, flask mode), {verb}",
                "wsgikit",
                request(
                    SessionMiddleware(_flask("ours", change), SECRET, flask_compatible=True),
                    HTTP_COOKIE=flask_cookie,
                ),
            ),
        ]
    group = "sessions: Flask app that ignores the session (cookie sent)"
    cases += [
        Case(group, "Flask app, no cookie", "floor", request(_flask("none", False))),
        Case(
            group,
            "Flask app with its session, its cookie sent",
            "anchor",
            request(_flask("none", False, secret=True), HTTP_COOKIE=flask_cookie),
            note="Flask opens the session on every request",
        ),
        Case(
            group,
            "SessionMiddleware(Flask app), our cookie sent",
            "wsgikit",
            request(
                SessionMiddleware(_flask("none", False), SECRET, flask_compatible=True),
                HTTP_COOKIE=flask_cookie,
            ),
        ),
    ]
    return cases
