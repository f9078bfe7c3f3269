"""BasicAuth and BearerAuth against wsgi-basic-auth, and the cost of parsing."""

from __future__ import annotations

import base64
import hashlib
import os
from typing import Any

import bcrypt
from harness import Case, bare_app, request
from werkzeug.datastructures import Authorization as WerkzeugAuthorization
from wsgi_basic_auth import BasicAuth as WsgiBasicAuth

from wsgikit.auth import AuthParser, BasicAuth, BearerAuth, parse_authorization

USER, PASSWORD = "alice", "wonderland"
GOOD = {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(b"alice:wonderland").decode()}
SHA = "{SHA}" + base64.b64encode(hashlib.sha1(PASSWORD.encode()).digest()).decode()
# A realistic cost: each uncached check takes tens of milliseconds.
BCRYPT = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=10)).decode()
DIGEST = {
    "HTTP_AUTHORIZATION": 'Digest username="Mufasa", realm="http-auth@example.org", '
    'uri="/dir/index.html", algorithm=SHA-256, nonce="7ypf/xlj9XXwfDPEoM4URrv", '
    'nc=00000001, cnonce="f2/wE4q74E6zIJEtWaHKaf5", qop=auth, response="7539"'
}
BEARER = {"HTTP_AUTHORIZATION": "Bearer mF_9.B5f-4.1JqM"}


def _anchor(**options: Any) -> Any:
    """wsgi-basic-auth, configured the way its README says: an environment variable."""
    saved = os.environ.get("WSGI_AUTH_CREDENTIALS")
    os.environ["WSGI_AUTH_CREDENTIALS"] = f"{USER}:{PASSWORD}"
    try:
        return WsgiBasicAuth(bare_app(), **options)
    finally:
        if saved is None:
            del os.environ["WSGI_AUTH_CREDENTIALS"]
        else:
            os.environ["WSGI_AUTH_CREDENTIALS"] = saved


def cases() -> list[Case]:
    app = bare_app()
    anchor = _anchor()
    sha = BasicAuth(app, users={USER: SHA})
    cached = BasicAuth(app, users={USER: BCRYPT})
    verify = BasicAuth(app, verify=lambda user, password: user == USER and password == PASSWORD)

    def werkzeug_layer(environ: dict[str, Any], start_response: Any) -> Any:
        environ["wsgikit.auth"] = WerkzeugAuthorization.from_header(
            environ.get("HTTP_AUTHORIZATION")
        )
        return app(environ, start_response)

    def function_layer(environ: dict[str, Any], start_response: Any) -> Any:
        return app(environ, start_response)

    cases = []
    group = "auth: Basic, valid credentials"
    cases += [
        Case(group, "bare app", "floor", request(app, **GOOD)),
        Case(
            group,
            "wsgi-basic-auth (plain-text password)",
            "anchor",
            request(anchor, **GOOD),
            note="WebOb request, == compare",
        ),
        Case(group, "BasicAuth(users={SHA})", "wsgikit", request(sha, **GOOD)),
        Case(group, "BasicAuth(verify=callable)", "wsgikit", request(verify, **GOOD)),
        Case(
            group,
            "BasicAuth(users=bcrypt cost 10), cached",
            "wsgikit",
            request(cached, **GOOD),
            note="uncached: one bcrypt check",
        ),
    ]
    group = "auth: Basic, no credentials (401)"
    cases += [
        Case(group, "bare app", "floor", request(app)),
        Case(group, "wsgi-basic-auth", "anchor", request(anchor)),
        Case(group, "BasicAuth(users={SHA})", "wsgikit", request(sha)),
    ]
    group = "auth: exempt path (/health)"
    health = {"PATH_INFO": "/health"}
    cases += [
        Case(group, "bare app", "floor", request(app, **health)),
        Case(
            group,
            "wsgi-basic-auth(exclude_paths=['/health'])",
            "anchor",
            request(_anchor(exclude_paths=["/health"]), **health),
        ),
        Case(
            group,
            "BasicAuth(users={SHA}, exempt='/health')",
            "wsgikit",
            request(BasicAuth(app, users={USER: SHA}, exempt="/health"), **health),
        ),
    ]
    group = "auth: parse a Basic header into the environ"
    parser = AuthParser(app)
    cases += [
        Case(group, "bare app (Basic)", "floor", request(app, **GOOD)),
        Case(
            group,
            "werkzeug Authorization.from_header (Basic)",
            "anchor",
            request(werkzeug_layer, **GOOD),
        ),
        Case(group, "AuthParser (Basic)", "wsgikit", request(parser, **GOOD)),
    ]
    group = "auth: parse no header into the environ"
    cases += [
        Case(group, "bare app", "floor", request(app)),
        Case(group, "werkzeug Authorization.from_header (none)", "anchor", request(werkzeug_layer)),
        Case(group, "AuthParser (no header)", "wsgikit", request(parser)),
    ]
    group = "auth: parse a Digest header into the environ"
    cases += [
        Case(group, "bare app (Digest)", "floor", request(app, **DIGEST)),
        Case(
            group,
            "werkzeug Authorization.from_header (Digest)",
            "anchor",
            request(werkzeug_layer, **DIGEST),
        ),
        Case(group, "AuthParser (Digest)", "wsgikit", request(parser, **DIGEST)),
    ]
    group = "auth: parse_authorization() alone"

    def parse_call(value: str) -> Any:
        return lambda: parse_authorization(value)

    cases += [
        Case(group, "Basic", "wsgikit", parse_call(GOOD["HTTP_AUTHORIZATION"])),
        Case(group, "Bearer", "wsgikit", parse_call(BEARER["HTTP_AUTHORIZATION"])),
        Case(group, "Digest (9 parameters)", "wsgikit", parse_call(DIGEST["HTTP_AUTHORIZATION"])),
    ]
    group = "auth: Bearer, valid token"
    tokens = {"mF_9.B5f-4.1JqM": "ci-bot"}
    cases += [
        Case(group, "bare app", "floor", request(app, **BEARER)),
        Case(
            group,
            "plain function layer",
            "anchor",
            request(function_layer, **BEARER),
            note="the least a middleware can cost",
        ),
        Case(
            group,
            "BearerAuth(verify=dict.get)",
            "wsgikit",
            request(BearerAuth(app, tokens.get), **BEARER),
        ),
    ]
    return cases
