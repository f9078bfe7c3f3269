"""The response-interception core on its own: what every middleware pays."""

from __future__ import annotations

from typing import Any

from harness import Case, bare_app, request

from wsgikit import compose
from wsgikit._response import Buffer, EditHeaders, Stream, intercept


def _pass(environ: dict[str, Any], status: str, headers: list[tuple[str, str]]) -> None:
    return None


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

    def pass_through(environ: dict[str, Any], start_response: Any) -> Any:
        return intercept(app, environ, start_response, _pass)

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
            "plain function layer",
            "anchor",
            request(function_layer),
            note="the least a middleware can cost",
        ),
        Case(group, "compose(app) with no layer", "wsgikit", request(compose(app))),
        Case(group, "intercept: pass-through", "wsgikit", request(pass_through)),
        Case(group, "intercept: edit headers", "wsgikit", request(edited)),
        Case(group, "intercept: lazy app, pass-through", "wsgikit", request(lazy_pass_through)),
        Case(group, "intercept: buffer identity", "wsgikit", request(buffered)),
        Case(group, "intercept: stream identity", "wsgikit", request(streamed)),
    ]
