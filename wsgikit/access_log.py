"""One access-log line per request, written when the response is finished.

:class:`AccessLog` writes Apache's combined format (what Paste's
``translogger``, nginx and every log analyser know) or one JSON object per line
for log shippers, on a :mod:`logging` logger at INFO. Unlike a logger that
writes when ``start_response`` is called, the line is written after the server
closed the response, so it carries the bytes actually sent and the whole
duration.

Put it outside every layer that answers or changes a response (so the line
shows what the client got), next to :class:`~wsgikit.request_id.RequestID`:
the request ID, the client address and the user are read when the line is
written, so they are the ones RequestID, :class:`~wsgikit.proxy.ProxyFix` and
the authentication layers decided, wherever those are in the stack.

You may not need it when your server or proxy already logs every request
(gunicorn's ``--access-logfile``, nginx): use it when you want the application's
view -- the authenticated user, the request ID, the client behind your proxies.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from json.encoder import encode_basestring_ascii as _json_string
from typing import Any, TypeAlias
from urllib.parse import quote
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

from ._edit import intercept_headers
from ._http import get_header, log_escape, status_code
from ._options import check_format
from ._types import Headers
from .request_id import ENVIRON_KEY as REQUEST_ID_KEY

#: ``formatter(entry) -> str``, the ``format`` callable (see :class:`AccessLog`).
Formatter: TypeAlias = Callable[[Mapping[str, Any]], str]

FORMATS = ("combined", "json")

_logger = logging.getLogger(__name__)
# Bound once: _record runs for every line.
_new_record = object.__new__
_LogRecord = logging.LogRecord
_make_record = logging.Logger.makeRecord
_record_factory = logging.getLogRecordFactory
_thread_ident = threading.get_ident
_current_thread = threading.current_thread
# How many times this process is a forked child of the one that imported the
# module: records made before a fork carry the parent's process ID.
_forks = [0]


def _forked() -> None:
    _forks[0] += 1


os.register_at_fork(after_in_child=_forked)

# English month names, whatever the locale (strftime's %b is localised).
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
# What quote(path, safe="/") leaves as it is: such a path needs no quoting.
_PLAIN_PATH = re.compile(r"[A-Za-z0-9_.~/-]*")


class AccessLog:
    """Log one line per finished request on ``logger``, at INFO.

    - The line is written when the server closes the response (or when the
      application raised), never earlier: ``bytes`` are the body bytes the
      server pulled from the application, ``duration`` runs from the call to
      ``close()``.
    - ``"combined"``: Apache's ``%h %l %u %t "%r" %>s %b "%{Referer}i"
      "%{User-agent}i"``, byte for byte what Paste's ``translogger`` writes for
      the same request, except that client text is escaped as Apache escapes it
      (``"`` and ``\\`` with a backslash, control and non-ASCII bytes as
      ``\\xhh``; a space in the client or user field as ``\\x20``), ``%b`` is
      ``-`` for an empty body (Apache's rule), the client is ``REMOTE_ADDR``
      (``X-Forwarded-For`` is believed only through ProxyFix) and a
      non-ASCII path is percent-encoded from its original bytes.
    - ``"json"``: one object per line with ``time`` (ISO 8601, milliseconds),
      ``client``, ``user``, ``method``, ``uri``, ``protocol``, ``status``,
      ``bytes``, ``duration_ms``, ``referer``, ``user_agent`` and
      ``request_id`` (``null`` when absent), ASCII-only.
    - An exception from the application is logged as status 500 (what the
      server sends) and re-raised; so is a body that fails before its first
      byte. A body that fails later keeps its status, with the bytes sent.
    - When the response is the server's ``wsgi.file_wrapper`` it reaches the
      server unwrapped, so sendfile keeps working: its end is seen through its
      ``close()`` and ``bytes`` is its declared ``Content-Length``. Every other
      body is wrapped to count its chunks. Bytes sent through the legacy
      ``write()`` callable are not counted.
    - When ``logger`` is not enabled for INFO the request passes through
      untouched, at no cost.

    Environ keys read when the line is written: ``REMOTE_ADDR``,
    ``REMOTE_USER``, ``SERVER_PROTOCOL``, ``HTTP_REFERER``,
    ``HTTP_USER_AGENT``, ``wsgikit.request_id``; at the start:
    ``REQUEST_METHOD``, ``SCRIPT_NAME``, ``PATH_INFO``, ``QUERY_STRING``,
    ``wsgi.file_wrapper``. None is written.

    :param app: The WSGI application to wrap.
    :param logger: The logger name, or a :class:`logging.Logger`.
    :param format: ``"combined"`` (default), ``"json"``, or a callable
        ``(entry) -> str`` given a mapping with ``time`` (the request's start,
        seconds since the epoch), ``client``, ``user``, ``method``, ``uri``,
        ``protocol``, ``status`` (``int``), ``bytes`` (``int``), ``duration``
        (seconds), ``referer``, ``user_agent``, ``request_id`` (``str`` or
        ``None``) and ``environ``. Its values are not escaped: the callable
        must escape client text itself (``json.dumps`` does). If it fails or
        returns no ``str``, the combined line is written and the failure
        logged (logger ``wsgikit.access_log``).

    .. code-block:: python

        import logging
        from wsgikit import AccessLog, RequestID

        logging.basicConfig(level=logging.INFO, format="%(message)s")
        app = RequestID(AccessLog(app, format="json"))
    """

    def __init__(
        self,
        app: WSGIApplication,
        *,
        logger: str | logging.Logger = "wsgikit.access",
        format: str | Formatter = "combined",
    ) -> None:
        self.app = app
        if isinstance(logger, str):
            if not logger:
                raise ValueError("logger: must be a logger name or a logging.Logger, not ''")
            logger = logging.getLogger(logger)
        elif not isinstance(logger, logging.Logger):
            raise TypeError(
                f"logger: must be a logger name or a logging.Logger, not {type(logger).__name__}"
            )
        self.logger = logger
        check_format("format", format, FORMATS)
        self.format = format
        # Precomputed for the request path.
        self._render: Callable[[_Entry, int, int, float], str] = (
            self._combined
            if format == "combined"
            else self._json
            if format == "json"
            else self._custom
        )
        # (second, CLF time, ISO 8601 date and time, ISO 8601 offset) of the
        # last second formatted: requests arrive many to a second.
        self._clock: tuple[int, str, str, str] = (-1, "", "", "")
        # The first record's fields, copied for the next ones (see _record).
        self._template: dict[str, Any] | None = None
        self._forks = 0

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if not self.logger.isEnabledFor(logging.INFO):
            return self.app(environ, start_response)
        entry = _Entry(self, environ)
        try:
            # Nothing is changed: the headers path only notes the status.
            body = intercept_headers(self.app, environ, start_response, entry.decide)
        except Exception:
            entry.failed = True
            entry.finish()
            raise
        file_wrapper = environ.get("wsgi.file_wrapper")
        if isinstance(file_wrapper, type) and type(body) is file_wrapper:
            return entry.watch(body)
        entry.body = body
        return entry

    # --- the line -----------------------------------------------------------

    def _record(self, line: str) -> logging.LogRecord:
        """The record ``logger.info(line)`` would make, without its search of
        the stack for the caller (which would name this module anyway) and,
        with the standard record factory, at a third of ``makeRecord``'s cost.

        Every record of an access log is the same but for its message, time
        and thread: the first one of each process is made by ``makeRecord``
        and kept as a template, later ones are copies of it with those fields
        set as :class:`logging.LogRecord` sets them (Python 3.12's
        ``taskName`` is the template's: ``None``, as WSGI runs no asyncio
        task). A custom record factory
        (:func:`logging.setLogRecordFactory`) or ``makeRecord`` gets every
        record made by itself."""
        logger = self.logger
        if _record_factory() is not _LogRecord or type(logger).makeRecord is not _make_record:
            return logger.makeRecord(logger.name, logging.INFO, "(access log)", 0, line, (), None)
        template = self._template
        if template is None or self._forks != _forks[0]:
            first = logger.makeRecord(logger.name, logging.INFO, "(access log)", 0, line, (), None)
            self._template = first.__dict__.copy()
            self._forks = _forks[0]  # a child process makes a template of its own
            return first
        fields = template.copy()
        created = time.time()
        fields["msg"] = line
        fields["created"] = created
        fields["msecs"] = int((created - int(created)) * 1000) + 0.0
        fields["relativeCreated"] = (
            template["relativeCreated"] + (created - template["created"]) * 1000
        )
        if template["thread"] is not None:  # logging.logThreads
            fields["thread"] = _thread_ident()
            fields["threadName"] = _current_thread().name
        record: logging.LogRecord = _new_record(_LogRecord)
        record.__dict__ = fields
        return record

    def _combined(self, entry: _Entry, status: int, size: int, duration: float) -> str:
        environ = entry.environ
        clock = self._clock
        when = clock[1] if clock[0] == int(entry.start) else self._times(entry.start)[0]
        client = environ.get("REMOTE_ADDR") or "-"
        user = environ.get("REMOTE_USER") or "-"
        path = entry._path
        if _PLAIN_PATH.fullmatch(path) is None:
            target = entry.uri()
        else:  # the common case, without a call
            target = f"{path}?{entry._query}" if entry._query else path
        request = f"{entry.method or '-'} {target} {environ.get('SERVER_PROTOCOL') or '-'}"
        referer = environ.get("HTTP_REFERER", "-")
        agent = environ.get("HTTP_USER_AGENT", "-")
        # One check for the fields outside quotes and one for those inside,
        # with str methods (a quarter of log_escape's regex on a long
        # User-Agent): printable ASCII without '"' and '\\' is written as it is.
        bare = f"{client}{user}"
        quoted = f"{request}{referer}{agent}"
        if not (
            quoted.isascii()
            and quoted.isprintable()
            and '"' not in quoted
            and "\\" not in quoted
            and bare.isprintable()
            and " " not in bare
            and '"' not in bare
            and "\\" not in bare
            and bare.isascii()
        ):
            client = log_escape(_text(client), quoted=False)
            user = log_escape(_text(user), quoted=False)
            request, referer, agent = (log_escape(_text(v)) for v in (request, referer, agent))
        return (
            f'{client} - {user} [{when}] "{request}" {status} {size or "-"} "{referer}" "{agent}"'
        )

    def _json(self, entry: _Entry, status: int, size: int, duration: float) -> str:
        environ = entry.environ
        _, date, offset = self._times(entry.start)
        millis = int(entry.start % 1 * 1000)
        return (
            f'{{"time":"{date}.{millis:03d}{offset}",'
            f'"client":{_json_or_null(environ.get("REMOTE_ADDR"))},'
            f'"user":{_json_or_null(environ.get("REMOTE_USER"))},'
            f'"method":{_json_or_null(entry.method)},"uri":{_json_string(entry.uri())},'
            f'"protocol":{_json_or_null(environ.get("SERVER_PROTOCOL"))},'
            f'"status":{status},"bytes":{size},"duration_ms":{duration * 1000:.3f},'
            f'"referer":{_json_or_null(environ.get("HTTP_REFERER"))},'
            f'"user_agent":{_json_or_null(environ.get("HTTP_USER_AGENT"))},'
            f'"request_id":{_json_or_null(environ.get(REQUEST_ID_KEY))}}}'
        )

    def _custom(self, entry: _Entry, status: int, size: int, duration: float) -> str:
        environ = entry.environ
        fields = {
            "time": entry.start,
            "client": environ.get("REMOTE_ADDR") or None,
            "user": environ.get("REMOTE_USER") or None,
            "method": entry.method or None,
            "uri": entry.uri(),
            "protocol": environ.get("SERVER_PROTOCOL"),
            "status": status,
            "bytes": size,
            "duration": duration,
            "referer": environ.get("HTTP_REFERER"),
            "user_agent": environ.get("HTTP_USER_AGENT"),
            "request_id": environ.get(REQUEST_ID_KEY),
            "environ": environ,
        }
        try:
            line = self.format(fields)  # type: ignore[operator]  # a callable here
        except Exception:
            _logger.exception("the AccessLog format callable failed; wrote a combined line")
        else:
            if isinstance(line, str):
                return line
            _logger.error(
                "the AccessLog format callable returned %s, not a str; wrote a combined line",
                type(line).__name__,
            )
        return self._combined(entry, status, size, duration)

    def _times(self, start: float) -> tuple[str, str, str]:
        """CLF time, ISO 8601 date and time, and ISO 8601 offset of ``start``
        in local time (Apache logs local time)."""
        second = int(start)
        clock = self._clock
        if clock[0] != second:
            now = time.localtime(second)
            minutes = (now.tm_gmtoff or 0) // 60
            sign = "-" if minutes < 0 else "+"
            hours, minutes = divmod(abs(minutes), 60)
            clock = self._clock = (
                second,
                f"{now.tm_mday:02d}/{_MONTHS[now.tm_mon - 1]}/{now.tm_year:04d}:"
                f"{now.tm_hour:02d}:{now.tm_min:02d}:{now.tm_sec:02d} "
                f"{sign}{hours:02d}{minutes:02d}",
                f"{now.tm_year:04d}-{now.tm_mon:02d}-{now.tm_mday:02d}T"
                f"{now.tm_hour:02d}:{now.tm_min:02d}:{now.tm_sec:02d}",
                f"{sign}{hours:02d}:{minutes:02d}",
            )
        return clock[1], clock[2], clock[3]


class _Entry:
    """One request on its way: notes the status the core decides on, counts
    the body's chunks as the server pulls them, and writes the line once, when
    closed. A class with ``close()``, not a generator: an unstarted
    generator's ``close()`` would run nothing."""

    __slots__ = (
        "_log",
        "environ",
        "body",
        "start",
        "_clock",
        "method",
        "_path",
        "_query",
        "status",
        "headers",
        "sent",
        "failed",
        "done",
    )

    def __init__(self, log: AccessLog, environ: WSGIEnvironment) -> None:
        self._log = log
        self.environ = environ
        self.body: Iterable[bytes] = ()
        self.start = time.time()
        self._clock = time.perf_counter()
        # The request line as the client sent it: later layers may rewrite
        # these (a method override, ProxyFix's prefix).
        self.method = environ.get("REQUEST_METHOD") or ""
        self._path = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
        self._query = environ.get("QUERY_STRING", "")
        self.status = ""
        self.headers: Headers = []
        self.sent = 0
        self.failed = False
        self.done = False

    def decide(self, environ: WSGIEnvironment, status: str, headers: Headers) -> Headers:
        """Remember what goes out, unchanged. A replacement (``exc_info``)
        after body bytes went out is the server's to refuse (PEP 3333): the
        client keeps the first status, and so does the line."""
        if not self.sent:
            self.status = status
            self.headers = headers
        return headers

    def __iter__(self) -> Iterator[bytes]:
        # A generator is the cheapest per-chunk relay; close() is on the class.
        try:
            for chunk in self.body:
                self.sent += len(chunk)
                yield chunk
        except Exception:
            self.failed = True
            raise

    def close(self) -> None:
        if self.done:
            return
        try:
            close = getattr(self.body, "close", None)
            if close is not None:
                close()
        finally:
            self.finish()

    def watch(self, body: Iterable[bytes]) -> Iterable[bytes]:
        """Log a file wrapper's response when the server closes it; the wrapper
        itself goes to the server, so sendfile keeps working."""
        try:
            body.close = _OnClose(getattr(body, "close", None), self)  # type: ignore[attr-defined]
        except (AttributeError, TypeError):
            # No attribute can be set on it (__slots__): its end is not
            # visible, so the line is written now.
            self.finish(declared=True)
        return body

    def finish(self, *, declared: bool = False) -> None:
        """Write the line (once)."""
        if self.done:
            return
        self.done = True
        duration = time.perf_counter() - self._clock
        self.body = ()  # drop the reference: the line no longer needs it
        status = status_code(self.status) if self.status else 500
        if self.failed and not self.sent:
            status = 500  # nothing went out: the server answers 500
        size = self.sent
        if declared:
            length = get_header(self.headers, "content-length")
            size = int(length) if length and length.isdigit() and length.isascii() else 0
        if self.environ.get("REQUEST_METHOD") == "HEAD":
            size = 0
        log = self._log
        log.logger.handle(log._record(log._render(self, status, size, duration)))

    def uri(self) -> str:
        """The request target: the path percent-encoded (from its original
        bytes), then ``?`` and the query string as received."""
        path = self._path
        if not _PLAIN_PATH.fullmatch(path):
            try:
                raw = path.encode("latin-1")
            except UnicodeEncodeError:
                raw = path.encode("utf-8", "surrogatepass")
            path = quote(raw, safe="/")
        query = self._query
        return f"{path}?{query}" if query else path


class _OnClose:
    """Installed as a file wrapper's ``close``: runs the original, then writes
    the line."""

    __slots__ = ("_close", "_entry")

    def __init__(self, close: Callable[[], object] | None, entry: _Entry) -> None:
        self._close = close
        self._entry = entry

    def __call__(self) -> None:
        close = self._close
        try:
            if close is not None:
                close()
        finally:
            self._entry.finish(declared=True)


def _text(value: object) -> str:
    """An environ value as text (a misbehaving layer may store another type)."""
    if value is None:
        return ""
    return value if isinstance(value, str) else str(value)


def _json_or_null(value: object) -> str:
    if value is None or value == "":
        return "null"
    return _json_string(_text(value))
