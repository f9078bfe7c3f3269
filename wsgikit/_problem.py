"""The JSON body :class:`~wsgikit.errors.JSONErrors` sends: an RFC 9457 problem
document, the ``"simple"`` shape, or what a ``format`` callable returns.

Given a status, title and description, :class:`Renderer` makes the bytes of the
body, adding the problem's ``instance`` (the request path, percent-encoded where
needed) and ``request_id`` (the one :class:`~wsgikit.request_id.RequestID` set,
else the request header when it looks like an ID). Which status, title and
description an error gets is decided by :class:`~wsgikit.errors.JSONErrors`;
the standard titles and descriptions it falls back on live here.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from json.encoder import encode_basestring as _json_string
from typing import TYPE_CHECKING, Any
from urllib.parse import quote
from wsgiref.types import WSGIEnvironment

from ._error_pages import TITLES, one_line
from ._http import REQUEST_ID

if TYPE_CHECKING:
    from .errors import Formatter

logger = logging.getLogger("wsgikit.errors")

#: Where :class:`~wsgikit.request_id.RequestID` puts the request's ID (#13).
REQUEST_ID_KEY = "wsgikit.request_id"

#: A description per status, for when nothing better is known.
DETAILS: dict[int, str] = {
    400: "The request could not be understood: it is malformed or incomplete.",
    401: "This resource needs authentication; the request carried none or invalid credentials.",
    402: "Payment is required to access this resource.",
    403: "You are not allowed to access this resource.",
    404: "There is nothing at this URL.",
    405: "This resource does not support the request method; see the Allow header.",
    406: "None of the representations this resource has is acceptable to the client.",
    407: "The proxy needs authentication before it forwards this request.",
    408: "The server gave up waiting for the rest of the request.",
    409: "The request conflicts with the current state of the resource.",
    410: "This resource existed but has been removed for good.",
    411: "This request needs a Content-Length header.",
    412: "A precondition in the request headers did not hold.",
    413: "The request body is larger than the server accepts.",
    414: "The URL is longer than the server accepts.",
    415: "The request body has a media type this resource does not accept.",
    416: "The requested range lies outside the resource.",
    417: "The expectation in the Expect header cannot be met.",
    418: "The server is a teapot and refuses to brew coffee.",
    421: "The request went to a server that cannot answer for this URL.",
    422: "The request is well-formed but its content is not valid.",
    423: "The resource is locked.",
    424: "The request depended on another request that failed.",
    425: "The server will not process a request that might be replayed.",
    426: "The client has to switch to another protocol; see the Upgrade header.",
    428: "This request has to be conditional (If-Match or If-Unmodified-Since).",
    429: "Too many requests; slow down and retry later (see Retry-After if present).",
    431: "The request headers are larger than the server accepts.",
    451: "This resource is unavailable for legal reasons.",
    500: "The server failed to complete the request because of an internal error.",
    501: "The server does not implement what this request needs.",
    502: "An upstream server sent an invalid response.",
    503: "The service is unavailable for now; retry later (see Retry-After if present).",
    504: "An upstream server did not answer in time.",
    505: "The server does not support this HTTP version.",
    506: "The server's content negotiation is misconfigured.",
    507: "The server has not enough storage to complete the request.",
    508: "The server detected an endless loop while processing the request.",
    510: "The request needs extensions the server was not given.",
    511: "The network needs authentication before it can be used.",
}
CLIENT_ERROR = "The request could not be completed."
SERVER_ERROR = "The server could not complete the request."

_PATH_SAFE = "/:@!$&'()*+,;=-._~"
_SAFE_PATH = re.compile(r"[A-Za-z0-9/:@!$&'()*+,;=._~-]*")


class Renderer:
    """Makes error bodies in one ``format`` (``"problem"``, ``"simple"`` or a
    callable), with problem ``type`` URIs from ``types`` and the request ID
    read from the environ key ``request_id_key`` (``None``: not read)."""

    __slots__ = ("format", "types", "_request_id_key", "_encode", "_encode_ascii")

    def __init__(
        self, format: str | Formatter, types: Mapping[int, str], request_id_key: str | None
    ) -> None:
        self.format = format
        self.types = types
        self._request_id_key = request_id_key
        self._encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
        self._encode_ascii = json.JSONEncoder(separators=(",", ":")).encode

    def render(
        self,
        code: int,
        title: str,
        detail: str,
        environ: WSGIEnvironment,
        trace: list[str] | None,
    ) -> bytes:
        """The body for an error; ``trace`` (with ``debug``) goes in as
        ``traceback``. A failing ``format`` callable gives a problem instead."""
        fmt = self.format
        if trace is None and fmt == "problem":
            return self._problem_json(code, title, detail, environ)
        data: Mapping[str, Any]
        if fmt == "simple":
            data = {"code": code, "message": title, "description": detail}
        elif callable(fmt):
            try:
                return self._dump(fmt(code, title, detail, environ))
            except Exception:
                logger.exception("the JSONErrors format callable failed; sent a problem instead")
                data = self._problem(code, title, detail, environ)
        else:
            data = self._problem(code, title, detail, environ)
        if trace is not None:
            return self._dump({**data, "traceback": trace})
        return self._dump(data)

    def _problem_json(self, code: int, title: str, detail: str, environ: WSGIEnvironment) -> bytes:
        """:meth:`_problem` encoded, without the intermediate dict (the hot path)."""
        request_id = self._request_id(environ)
        text = (
            f'{{"type":{_json_string(self.types.get(code, "about:blank"))},'
            f'"title":{_json_string(title)},"status":{code},'
            f'"detail":{_json_string(detail)},"instance":{_json_string(instance(environ))}'
            + ("}" if request_id is None else f',"request_id":{_json_string(request_id)}}}')
        )
        try:
            return text.encode("utf-8")
        except UnicodeEncodeError:
            return self._dump(self._problem(code, title, detail, environ))

    def _problem(
        self, code: int, title: str, detail: str, environ: WSGIEnvironment
    ) -> dict[str, Any]:
        problem: dict[str, Any] = {
            "type": self.types.get(code, "about:blank"),
            "title": title,
            "status": code,
            "detail": detail,
            "instance": instance(environ),
        }
        request_id = self._request_id(environ)
        if request_id is not None:
            problem["request_id"] = request_id
        return problem

    def _request_id(self, environ: WSGIEnvironment) -> str | None:
        """The ID RequestID gave the request (#13), else the header's if valid."""
        request_id = environ.get(REQUEST_ID_KEY)
        if isinstance(request_id, str):
            return request_id
        if self._request_id_key is None:
            return None
        return _checked_request_id(environ.get(self._request_id_key))

    def _dump(self, data: Mapping[str, Any]) -> bytes:
        if not isinstance(data, Mapping):
            raise TypeError(f"a JSON error body must be a mapping, not {type(data).__name__}")
        try:
            return self._encode(data).encode("utf-8")
        except UnicodeEncodeError:
            # Lone surrogates: \\u escapes are still valid JSON.
            return self._encode_ascii(data).encode("ascii")


def status_title(code: int, phrase: str) -> str:
    """The standard reason phrase of ``code`` (its RFC 9110 name: ``413
    Content Too Large``, ``422 Unprocessable Content``), else the app's ``phrase``."""
    title = TITLES.get(code)
    if title is not None:
        return title
    phrase = one_line(phrase)
    if phrase:
        return phrase
    return "Client Error" if code < 500 else "Server Error"


def standard_detail(code: int) -> str:
    """The standard description of ``code`` (:data:`DETAILS`)."""
    return DETAILS.get(code) or (CLIENT_ERROR if code < 500 else SERVER_ERROR)


def instance(environ: WSGIEnvironment) -> str:
    """The problem's ``instance``: the request path, percent-encoded where needed."""
    path = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
    if _SAFE_PATH.fullmatch(path):
        return path or "/"
    try:
        raw = path.encode("latin-1")
    except UnicodeEncodeError:
        raw = path.encode("utf-8", "replace")
    return quote(raw, safe=_PATH_SAFE) or "/"


def _checked_request_id(value: object) -> str | None:
    """``value`` when it looks like a request ID; anything else is logged and dropped."""
    if not value:
        return None
    if isinstance(value, str) and REQUEST_ID.fullmatch(value):
        return value
    logger.info(
        "ignored an invalid request ID header (%d characters)",
        len(value) if isinstance(value, str) else -1,
    )
    return None
