"""A request ID for every request: taken from the client or a proxy when it
looks like one, generated otherwise, handed to the application and echoed in
the response.

Use :class:`RequestID` outermost, so that the answers of every layer (a
refused host, a 401, an error :class:`~wsgikit.errors.JSONErrors` made from an
exception) carry the ID too; the access log finds it wherever it is. Set ``trust_incoming=False``
when no proxy of yours sets the header: then a client cannot choose the ID
your logs file its request under.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

from ._edit import intercept_headers
from ._http import REQUEST_ID
from ._options import check_bool, check_token
from ._types import Headers

logger = logging.getLogger("wsgikit.request_id")

#: The environ key holding the request's ID.
ENVIRON_KEY = "wsgikit.request_id"


def new_request_id() -> str:
    """A new random ID: 128 bits from the OS's random source, as 32 hex digits.

    The same strength and shape as ``uuid.uuid4().hex``, at a quarter of its
    cost (``uuid4`` reads the same 16 random bytes, then builds a ``UUID``).
    """
    return os.urandom(16).hex()


class RequestID:
    """Give every request an ID, in the environ and in the response.

    - The incoming ``header`` is used when ``trust_incoming`` is on and the
      value looks like an ID: 1 to 128 characters of
      ``A-Z a-z 0-9 . _ ~ : / + = @ -`` (the rule
      :class:`~wsgikit.errors.JSONErrors` applies to the IDs it echoes).
      Anything else is replaced by a new ID and logged at INFO (logger
      ``wsgikit.request_id``), with its length only.
    - Otherwise ``generator()`` makes one: by default 32 random hex digits
      (128 bits from ``os.urandom``). An ID the generator makes that breaks the
      rule above is logged as an error and replaced by a default one, so the
      header is always safe to send.
    - The ID is sent back in the response's ``header``, unless the
      application set that header itself (then its value is kept). The body
      streams through untouched.

    Environ key written: ``wsgikit.request_id`` (the ID, a ``str``). Read: the
    ``header`` (as ``HTTP_X_REQUEST_ID`` by default).

    :param app: The WSGI application to wrap.
    :param header: The request and response header carrying the ID.
    :param trust_incoming: Use the ID in the incoming ``header`` when it looks
        like one. Turn it off unless your own proxy sets (or strips) it.
    :param generator: A callable returning a new ID as a ``str``; ``None``
        uses :func:`new_request_id`.

    .. code-block:: python

        from wsgikit import AccessLog, RequestID

        app = RequestID(AccessLog(app), trust_incoming=False)
    """

    def __init__(
        self,
        app: WSGIApplication,
        *,
        header: str = "X-Request-ID",
        trust_incoming: bool = True,
        generator: Callable[[], str] | None = None,
    ) -> None:
        self.app = app
        self.header = check_token("header", header)
        self.trust_incoming = check_bool("trust_incoming", trust_incoming)
        if generator is not None:
            if not callable(generator):
                raise TypeError(f"generator: must be a callable or None, not {generator!r}")
            sample = generator()
            if not isinstance(sample, str) or not REQUEST_ID.fullmatch(sample):
                raise ValueError(
                    "generator must return 1 to 128 characters of "
                    f"A-Z a-z 0-9 . _ ~ : / + = @ -, not {sample!r}"
                )
        self.generator = generator
        # Precomputed for the request path.
        self._key = "HTTP_" + header.upper().replace("-", "_")
        self._lower = header.lower()
        self._custom: Callable[[], str] = generator or new_request_id
        self._make = new_request_id if generator is None else self._checked
        self._edit_headers = self._edit  # bound once, not per request

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        request_id = None
        if self.trust_incoming:
            incoming = environ.get(self._key)
            if incoming:
                if REQUEST_ID.fullmatch(incoming):
                    request_id = incoming
                else:
                    logger.info("replaced an invalid request ID (%d characters)", len(incoming))
        if request_id is None:
            request_id = self._make()
        environ[ENVIRON_KEY] = request_id
        # Headers only: the body goes back to the server untouched.
        return intercept_headers(self.app, environ, start_response, self._edit_headers)

    def _edit(self, environ: WSGIEnvironment, status: str, headers: Headers) -> Headers:
        request_id = environ.get(ENVIRON_KEY)
        if not isinstance(request_id, str):
            return headers
        lower = self._lower
        for name, _ in headers:
            if len(name) == len(lower) and name.lower() == lower:
                return headers  # the application's own ID wins
        return [*headers, (self.header, request_id)]

    def _checked(self) -> str:
        """The configured generator's ID, or a default one if it is not safe."""
        try:
            request_id = self._custom()
        except Exception:
            logger.exception("the request ID generator failed; generated a default ID")
            return new_request_id()
        if isinstance(request_id, str) and REQUEST_ID.fullmatch(request_id):
            return request_id
        logger.error("the request ID generator returned an unsafe ID; generated a default ID")
        return new_request_id()
