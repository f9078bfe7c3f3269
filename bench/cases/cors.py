"""CORS against wsgicors and flask-cors on the same requests, and the
pass-through cost of CORS, TrustedHosts and SecurityHeaders."""

from __future__ import annotations

from typing import Any

import flask
from flask_cors import CORS as FlaskCORS
from harness import Case, bare_app, request
from wsgicors import CORS as WsgiCORS

from wsgikit import CORS, SecurityHeaders, TrustedHosts

SITE = "https://app.example.com"
ORIGIN = {"HTTP_ORIGIN": SITE}
PREFLIGHT = {
    "REQUEST_METHOD": "OPTIONS",
    "HTTP_ORIGIN": SITE,
    "HTTP_ACCESS_CONTROL_REQUEST_METHOD": "PUT",
    "HTTP_ACCESS_CONTROL_REQUEST_HEADERS": "content-type, x-token",
}


def _flask_app(with_cors: bool) -> flask.Flask:
    app = flask.Flask(f"bench_cors_{with_cors}")

    @app.route("/", methods=["GET", "PUT"])
    def index() -> str:
        return "Hello, world!"

    if with_cors:
        FlaskCORS(
            app,
            origins=[SITE],
            methods=["GET", "POST", "PUT"],
            allow_headers=["content-type", "x-token"],
            max_age=600,
        )
    return app


def cases() -> list[Case]:
    app = bare_app()

    def function_layer(environ: dict[str, Any], start_response: Any) -> Any:
        return app(environ, start_response)

    ours = CORS(
        app,
        allow_origins=[SITE],
        allow_methods=["GET", "POST", "PUT"],
        allow_headers=["content-type", "x-token"],
    )
    theirs = WsgiCORS(
        app,
        origin=SITE,
        methods="GET, POST, PUT",
        headers="content-type, x-token",
        maxage="600",
    )
    star = CORS(app, allow_origins=["*"])
    hosts = TrustedHosts(app, ["localhost", "*.example.com"])
    security = SecurityHeaders(app)
    all_set = SecurityHeaders(_secured_app)

    cases = []
    group = "cors: simple request, allowed origin"
    cases += [
        Case(group, "bare app", "floor", request(app, **ORIGIN)),
        Case(group, "wsgicors CORS(origin=...)", "anchor", request(theirs, **ORIGIN)),
        Case(group, "CORS(allow_origins=[...])", "wsgikit", request(ours, **ORIGIN)),
        Case(group, "CORS(allow_origins=['*'])", "wsgikit", request(star, **ORIGIN)),
    ]
    group = "cors: preflight"
    cases += [
        Case(group, "bare app (GET)", "floor", request(app)),
        Case(group, "wsgicors CORS(origin=...)", "anchor", request(theirs, **PREFLIGHT)),
        Case(group, "CORS(allow_origins=[...])", "wsgikit", request(ours, **PREFLIGHT)),
    ]
    plain_flask = _flask_app(with_cors=False)
    group = "cors: Flask app, simple request"
    cases += [
        Case(group, "Flask app", "floor", request(plain_flask, **ORIGIN)),
        Case(
            group,
            "flask-cors CORS(app, origins=[...])",
            "anchor",
            request(_flask_app(with_cors=True), **ORIGIN),
        ),
        Case(
            group,
            "CORS(flask_app, allow_origins=[...])",
            "wsgikit",
            request(CORS(plain_flask, allow_origins=[SITE]), **ORIGIN),
        ),
    ]
    group = "cors, hosts, security headers: pass-through (nothing to do)"
    cases += [
        Case(group, "bare app", "floor", request(app)),
        Case(
            group,
            "plain function layer",
            "anchor",
            request(function_layer),
            note="the least a middleware can cost",
        ),
        Case(
            group,
            "wsgicors CORS (no Origin)",
            "anchor",
            request(theirs),
            note="adds nothing (no Vary)",
        ),
        Case(
            group,
            "CORS (no Origin)",
            "wsgikit",
            request(ours),
            note="adds Vary: Origin (Fetch: caches)",
        ),
        Case(group, "TrustedHosts (listed host)", "wsgikit", request(hosts)),
        Case(
            group,
            "SecurityHeaders (app set them all)",
            "wsgikit",
            request(all_set),
            note="the app sends the 3 headers itself",
        ),
    ]
    group = "cors, hosts, security headers: security headers added"
    cases += [
        Case(group, "bare app", "floor", request(app)),
        Case(group, "plain function layer", "anchor", request(function_layer)),
        Case(group, "SecurityHeaders() over http", "wsgikit", request(security)),
        Case(
            group,
            "SecurityHeaders() over https",
            "wsgikit",
            request(security, **{"wsgi.url_scheme": "https"}),
        ),
    ]
    return cases


_SECURED = [
    ("Content-Type", "text/plain"),
    ("Content-Length", "13"),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "no-referrer"),
]


def _secured_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    """The bare app, sending the default security headers itself."""
    start_response("200 OK", list(_SECURED))
    return [b"Hello, world!"]
