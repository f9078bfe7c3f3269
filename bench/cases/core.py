"""The response-interception core on its own: what every middleware pays.

The anchor is not a library: it is a layer that wraps ``start_response`` and
does nothing else, the least any layer that sees the response (status and
headers) can cost in CPython. ``÷anchor+`` is then how far each path of the
core is from that floor.
"""

from __future__ import annotations

from typing import Any

from harness import Case, bare_app, request

from wsgikit import compose
from wsgikit._edit import intercept_headers
from wsgikit._response import Buffer, EditHeaders, Stream, intercept


def _pass(environ: dict[str, Any], status: str, headers: list[tuple[str, str]]) -> None:
    return None


def _same_headers(
    environ: dict[str, Any], status: str, headers: list[tuple[str, str]]
) -> list[tuple[str, str]]:
    return headers


def _buffer_plan(environ: dict[str, Any], status: str, headers: list[tuple[str, str]]) -> Buffer:
    return Buffer(lambda s, h, b: (s, h, b))


def _edit_plan(environ: dict[str, Any], status: str, headers: list[tuple[str, str]]) -> EditHeaders:
    return EditHeaders(status, [*headers, ("X-Edited", "1")])


def _stream_plan(environ: dict[str, Any], status: str, headers: list[tuple[str, str]]) -> Stream:
    return Stream(status, headers, lambda chunks: chunks)


def cases() -> list[Case]:
    app = bare_app()

    def lazy_app(environ: dict[str, Any], start_response: Any) -> Any:
        # start_response on the first iteration: the core must read ahead.
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "13")])
        yield b"Hello, world!"

    def function_layer(environ: dict[str, Any], start_response: Any) -> Any:
        return app(environ, start_response)

    def wrapping_layer(environ: dict[str, Any], start_response: Any) -> Any:
        # The least a layer that sees the status and headers can do: hand the
        # app its own start_response (a closure, made per request).
        def wrapped(status: str, headers: Any, exc_info: Any = None) -> Any:
            return start_response(status, headers, exc_info)

        return app(environ, wrapped)

    def deciding_layer(environ: dict[str, Any], start_response: Any) -> Any:
        # The same, asking a decide function first, as every path of the core
        # must (and nothing else: no state, no second call, no replacement).
        def wrapped(status: str, headers: Any, exc_info: Any = None) -> Any:
            _pass(environ, status, headers)
            return start_response(status, headers, exc_info)

        return app(environ, wrapped)

    def pass_through(environ: dict[str, Any], start_response: Any) -> Any:
        return intercept(app, environ, start_response, _pass)

    def header_only(environ: dict[str, Any], start_response: Any) -> Any:
        return intercept_headers(app, environ, start_response, _same_headers)

    def edited(environ: dict[str, Any], start_response: Any) -> Any:
        return intercept(app, environ, start_response, _edit_plan)

    def lazy_pass_through(environ: dict[str, Any], start_response: Any) -> Any:
        return intercept(lazy_app, environ, start_response, _pass)

    def buffered(environ: dict[str, Any], start_response: Any) -> Any:
        return intercept(app, environ, start_response, _buffer_plan)

    def streamed(environ: dict[str, Any], start_response: Any) -> Any:
        return intercept(app, environ, start_response, _stream_plan)

    group = "core: 13-byte text response"
    return [
        Case(group, "bare app", "floor", request(app)),
        Case(
            group,
            "start_response wrapper, nothing else",
            "anchor",
            request(wrapping_layer),
            note="the least a layer that sees the response can cost",
        ),
        Case(
            group,
            "start_response wrapper calling decide()",
            "anchor",
            request(deciding_layer),
            note="what a shared core adds to it at the least",
        ),
        Case(
            group,
            "plain function layer",
            "anchor",
            request(function_layer),
            note="the least a middleware can cost",
        ),
        Case(group, "compose(app) with no layer", "wsgikit", request(compose(app))),
        Case(group, "intercept: pass-through", "wsgikit", request(pass_through)),
        Case(group, "intercept: edit headers", "wsgikit", request(edited)),
        Case(group, "intercept_headers: nothing edited", "wsgikit", request(header_only)),
        Case(group, "intercept: lazy app, pass-through", "wsgikit", request(lazy_pass_through)),
        Case(group, "intercept: buffer identity", "wsgikit", request(buffered)),
        Case(group, "intercept: stream identity", "wsgikit", request(streamed)),
    ]
