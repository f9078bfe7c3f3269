"""Body rewriting: InjectHTML on a 20 KB page, and the cost of passing through."""

from __future__ import annotations

from typing import Any

import webob
from harness import Case, bare_app, request

from wsgikit.rewrite import BodyRewriter, InjectHTML

SNIPPET = '<script src="/livereload.js"></script>'
PAGE = (
    b"<!doctype html><html><head><title>bench</title></head><body>\n"
    + b"<p>Lorem ipsum dolor sit amet, consectetur adipiscing elit.</p>\n" * 320
    + b"</body></html>\n"
)


def webob_inject(app: Any) -> Any:
    """What a user would otherwise write: WebOb's get_response, edit, re-serve."""
    marker = b"</body>"
    snippet = SNIPPET.encode()

    def middleware(environ: dict[str, Any], start_response: Any) -> Any:
        response = webob.Request(environ).get_response(app)
        if response.content_type == "text/html":
            body = response.body
            position = body.lower().rfind(marker)
            position = len(body) if position < 0 else position
            response.body = body[:position] + snippet + body[position:]
        return response(environ, start_response)

    return middleware


def _identity(body: bytes) -> bytes:
    return body


def cases() -> list[Case]:
    page = bare_app(PAGE, "text/html; charset=utf-8")
    group = f"rewrite: InjectHTML into a {len(PAGE) // 1024} KB HTML page"
    cases = [
        Case(group, "bare app", "floor", request(page)),
        Case(group, "WebOb get_response + body edit", "anchor", request(webob_inject(page))),
        Case(group, "InjectHTML", "wsgikit", request(InjectHTML(page, SNIPPET))),
        Case(group, "BodyRewriter(identity) (unchanged)", "wsgikit",
             request(BodyRewriter(page, _identity))),
    ]  # fmt: skip

    plain = bare_app()  # 13 bytes of text/plain: nothing to rewrite

    def function_layer(environ: dict[str, Any], start_response: Any) -> Any:
        return plain(environ, start_response)

    group = "rewrite: pass-through of a text/plain response"
    cases += [
        Case(group, "bare app", "floor", request(plain)),
        Case(group, "plain function layer", "anchor", request(function_layer),
             note="the least a middleware can cost"),
        Case(group, "InjectHTML", "wsgikit", request(InjectHTML(plain, SNIPPET))),
        Case(group, "BodyRewriter(rewrite=...)", "wsgikit",
             request(BodyRewriter(plain, _identity))),
        Case(group, "BodyRewriter(stream=...)", "wsgikit",
             request(BodyRewriter(plain, stream=iter))),
    ]  # fmt: skip

    group = "rewrite: HEAD of an HTML page (GET's header edits, body not read)"
    cases += [
        Case(group, "bare app", "floor", request(page, REQUEST_METHOD="HEAD")),
        Case(group, "InjectHTML", "wsgikit",
             request(InjectHTML(page, SNIPPET), REQUEST_METHOD="HEAD")),
    ]  # fmt: skip
    return cases
