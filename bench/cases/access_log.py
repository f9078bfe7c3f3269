"""AccessLog against Paste's translogger (the same line, the same logging
handler), and the pass-through cost of RequestID and MaxBodySize.

Both loggers get the same handler (``%(message)s`` to a stream that discards
its text), so the rows differ only by what each middleware does per request;
that handler's own cost (a log record, formatting, a locked write) is paid by
both, so a second group uses a ``NullHandler`` to show the rest.
Every group name starts with ``access_log`` so that ``bench/run.py access_log``
runs them all.
"""

from __future__ import annotations

import logging
import uuid

from harness import Case, bare_app, request
from paste.translogger import TransLogger

from wsgikit.access_log import AccessLog
from wsgikit.body_size import MaxBodySize
from wsgikit.request_id import RequestID, new_request_id

TERMINATED = {"wsgi.input_terminated": True}
CLIENT = {
    "REMOTE_ADDR": "203.0.113.7",
    "PATH_INFO": "/items/42",
    "QUERY_STRING": "sort=price",
    "HTTP_REFERER": "https://shop.example/",
    "HTTP_USER_AGENT": "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0",
}


class _NullStream:
    def write(self, text: str) -> int:
        return len(text)

    def flush(self) -> None:
        pass


def _logger(name: str, level: int = logging.INFO, *, null: bool = False) -> logging.Logger:
    logger = logging.getLogger(name)
    logger.handlers.clear()
    handler: logging.Handler = logging.NullHandler()
    if not null:
        handler = logging.StreamHandler(_NullStream())  # type: ignore[arg-type]
        handler.setFormatter(logging.Formatter("%(message)s"))
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False
    return logger


def cases() -> list[Case]:
    app = bare_app()
    paste_logger = _logger("bench.translogger")
    ours = _logger("bench.access")
    off = _logger("bench.access.off", logging.WARNING)
    paste_null = _logger("bench.translogger.null", null=True)
    ours_null = _logger("bench.access.null", null=True)

    line = "access_log: one combined line per request"
    null = "access_log: one combined line, NullHandler (no formatting or I/O)"
    as_json = "access_log: one JSON line per request"
    quiet = "access_log: logger not enabled for INFO"
    rid = "access_log/request_id: ID generated, echoed"
    rid_in = "access_log/request_id: trusted incoming ID echoed"
    new_id = "access_log/request_id: a new ID"
    no_body = "access_log/max_body_size: GET without a body"
    declared = "access_log/max_body_size: POST, Content-Length within the limit"
    return [
        Case(line, "bare app", "floor", request(app, **CLIENT)),
        Case(
            line,
            "paste TransLogger",
            "anchor",
            request(TransLogger(app, logger=paste_logger), **CLIENT),
            note="writes at start_response, Content-Length as bytes",
        ),
        Case(
            line,
            "AccessLog(combined)",
            "wsgikit",
            request(AccessLog(app, logger=ours), **CLIENT),
            note="writes after close(), bytes counted",
        ),
        Case(null, "bare app", "floor", request(app, **CLIENT)),
        Case(
            null,
            "paste TransLogger",
            "anchor",
            request(TransLogger(app, logger=paste_null), **CLIENT),
        ),
        Case(
            null,
            "AccessLog(combined)",
            "wsgikit",
            request(AccessLog(app, logger=ours_null), **CLIENT),
            note="what is left once the handler costs nothing",
        ),
        Case(as_json, "bare app", "floor", request(app, **CLIENT)),
        Case(
            as_json,
            "paste TransLogger (combined)",
            "anchor",
            request(TransLogger(app, logger=paste_logger), **CLIENT),
        ),
        Case(
            as_json,
            "AccessLog(json)",
            "wsgikit",
            request(AccessLog(app, logger=ours, format="json"), **CLIENT),
        ),
        Case(quiet, "bare app", "floor", request(app, **CLIENT)),
        Case(quiet, "AccessLog, logger off", "wsgikit", request(AccessLog(app, logger=off))),
        Case(rid, "bare app", "floor", request(app)),
        Case(rid, "RequestID", "wsgikit", request(RequestID(app))),
        Case(rid_in, "bare app", "floor", request(app)),
        Case(
            rid_in,
            "RequestID, X-Request-ID sent",
            "wsgikit",
            request(RequestID(app), HTTP_X_REQUEST_ID="4bf92f3577b34da6a3ce929d0e0e4736"),
        ),
        Case(new_id, "nothing", "floor", lambda: None),
        Case(new_id, "uuid.uuid4().hex", "anchor", lambda: uuid.uuid4().hex),
        Case(new_id, "new_request_id() (os.urandom)", "wsgikit", new_request_id),
        # wsgi.input_terminated as waitress and gunicorn set it on every request.
        Case(no_body, "bare app", "floor", request(app, **TERMINATED)),
        Case(no_body, "MaxBodySize", "wsgikit", request(MaxBodySize(app, 1 << 20), **TERMINATED)),
        Case(declared, "bare app", "floor", request(app, CONTENT_LENGTH="512")),
        Case(
            declared,
            "MaxBodySize",
            "wsgikit",
            request(MaxBodySize(app, 1 << 20), REQUEST_METHOD="POST", CONTENT_LENGTH="512"),
        ),
    ]
