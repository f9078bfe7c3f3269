"""JSONErrors: pass-through cost on success, conversion cost on errors, against
a Flask app that renders its own JSON errors (the usual hand-made approach)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import flask
import webob.exc
from harness import Case, bare_app, request
from werkzeug.exceptions import HTTPException, default_exceptions

from wsgikit.errors import JSONErrors

# The exception group would otherwise print a traceback per call.
logging.getLogger("wsgikit.errors").disabled = True


class _NullStream:
    def write(self, text: str) -> int:
        return len(text)

    def flush(self) -> None:
        pass


def _flask_app(json_handlers: bool) -> flask.Flask:
    app = flask.Flask(f"bench_errors_{json_handlers}")

    @app.route("/")
    def index() -> str:
        return "Hello, world!"

    @app.route("/missing")
    def missing() -> str:
        flask.abort(404, description="No such thing here.")

    if json_handlers:
        # What users write by hand: one JSON handler for every HTTP error code.
        def as_json(error: HTTPException) -> Any:
            body = {"code": error.code, "name": error.name, "description": error.description}
            return flask.jsonify(body), error.code

        for code in default_exceptions:
            app.register_error_handler(code, as_json)
    return app


def _generator_app(environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "13")])
    yield b"Hello, world!"


def _iterator_app(environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
    # start_response before returning, then an iterator (what frameworks do).
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "13")])
    return iter((b"Hello, world!",))


def _not_found_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    body = b"<html><body><h1>Not Found</h1><p>No such thing here.</p></body></html>"
    start_response(
        "404 Not Found",
        [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(body)))],
    )
    return [body]


def _server_error_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    body = b'{"status":500}'
    start_response(
        "500 Internal Server Error",
        [("Content-Type", "application/json"), ("Content-Length", str(len(body)))],
    )
    return [body]


def _raising_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    raise RuntimeError("secret internal detail")


def _redirect_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response("302 Found", [("Location", "http://localhost/login"), ("Content-Length", "0")])
    return []


def _raising_redirect_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    raise webob.exc.HTTPFound(location="/login")


def _webob_redirect_app(environ: dict[str, Any], start_response: Any) -> Any:
    # What a WebOb user does without JSONErrors: call the exception as the response.
    return webob.exc.HTTPFound(location="/login")(environ, start_response)


def cases() -> list[Case]:
    app = bare_app()

    def function_layer(environ: dict[str, Any], start_response: Any) -> Any:
        return app(environ, start_response)

    flask_html = _flask_app(json_handlers=False)
    flask_json = _flask_app(json_handlers=True)
    null = {"wsgi.errors": _NullStream()}

    ok = "errors: 200 pass-through"
    gen = "errors: 200 pass-through, generator app"
    eager = "errors: 200 pass-through, iterator app"
    convert = "errors: 404 conversion vs Flask's JSON handler path"
    flask_404 = "errors: Flask 404 page -> JSON"
    crash = "errors: exception -> 500 JSON"
    redirect = "errors: raised WebOb HTTPFound -> 302 untouched"
    missing = {"PATH_INFO": "/missing"}
    return [
        Case(ok, "bare app", "floor", request(app)),
        Case(ok, "plain function layer", "anchor", request(function_layer)),
        Case(ok, "JSONErrors(bare app)", "wsgikit", request(JSONErrors(app))),
        Case(gen, "generator app", "floor", request(_generator_app)),
        Case(
            gen,
            "JSONErrors(generator app)",
            "wsgikit",
            request(JSONErrors(_generator_app)),
            note="start_response on the first iteration: the core reads ahead",
        ),
        Case(eager, "iterator app", "floor", request(_iterator_app)),
        Case(eager, "JSONErrors(iterator app)", "wsgikit", request(JSONErrors(_iterator_app))),
        # What converting costs, against what Flask's own JSON error path costs
        # over a bare WSGI app answering the same 404.
        Case(convert, "bare app, HTML 404", "floor", request(_not_found_app)),
        Case(
            convert,
            "Flask, JSON handlers for every code",
            "anchor",
            request(flask_json, **missing),
        ),
        Case(
            convert,
            "JSONErrors(bare app, HTML 404)",
            "wsgikit",
            request(JSONErrors(_not_found_app)),
        ),
        # The same on top of Flask. Flask's HTML error page costs more than its
        # jsonify() handler, so the anchor is below the floor here: read +µs.
        Case(flask_404, "Flask, default HTML 404", "floor", request(flask_html, **missing)),
        Case(
            flask_404,
            "Flask, JSON handlers for every code",
            "anchor",
            request(flask_json, **missing),
        ),
        Case(
            flask_404,
            "JSONErrors(Flask, default HTML 404)",
            "wsgikit",
            request(JSONErrors(flask_html), **missing),
        ),
        Case(crash, "bare app answering a JSON 500", "floor", request(_server_error_app, **null)),
        Case(
            crash,
            "JSONErrors(app raising RuntimeError)",
            "wsgikit",
            request(JSONErrors(_raising_app), **null),
            note="traceback formatted for wsgi.errors; logger disabled",
        ),
        Case(redirect, "bare app answering a 302", "floor", request(_redirect_app)),
        Case(
            redirect,
            "app returning HTTPFound(...)(environ, sr)",
            "anchor",
            request(_webob_redirect_app),
        ),
        Case(
            redirect,
            "JSONErrors(app raising HTTPFound)",
            "wsgikit",
            request(JSONErrors(_raising_redirect_app)),
            note="most of either row is WebOb making its response",
        ),
    ]
