"""The one place where wsgikit looks at or changes a response: the
interception state machine, and nothing else (the small header, status and
media type helpers the middlewares share live in :mod:`wsgikit._http`; the
plans in :mod:`wsgikit._plans`, re-exported here; the header-only path
:func:`~wsgikit._edit.intercept_headers` in :mod:`wsgikit._edit`; the bodies
handed to the server -- the relay after a read-ahead, the streamed body of a
:class:`Stream` plan, and :func:`~wsgikit._bodies.guard`, for errors while the
server iterates a body -- in :mod:`wsgikit._bodies`).

Every middleware that changes an application's response (headers, body,
errors) goes through :func:`intercept`, or
:func:`~wsgikit._edit.intercept_headers` when it only ever edits headers; a
middleware that answers instead of the application (a 401, a preflight) does
not call the application and has nothing to intercept. The middleware
supplies a *decide* function that sees the status and headers the
application passed to ``start_response`` and answers with a plan:

- ``None`` -- pass the response through untouched. The real
  ``start_response`` is called at once, the application gets the server's own
  ``write()`` callable, and when the application called ``start_response``
  before returning, its iterable is handed back to the server *itself*, so
  ``wsgi.file_wrapper`` and sendfile keep working and nothing is buffered.
- :class:`EditHeaders` -- send another status or other headers; the body
  streams through untouched, exactly as above. A middleware that only ever
  edits headers uses :func:`~wsgikit._edit.intercept_headers` instead: the
  same outcome through a cheaper path.
- :class:`Stream` -- map the chunk iterator to a new one. ``Content-Length``
  is dropped so the server frames the body itself; memory stays bounded. When
  the transform (not the application) fails before a byte went out, the
  plan's ``on_error`` may answer with a replacement response.
- :class:`Buffer` -- collect the whole body, hand it to a function that returns
  the new status, headers and body, and send it with a recomputed
  ``Content-Length``. Past an optional size limit the response goes out
  unmodified instead (already-read part first, then the rest).

PEP 3333 rules kept here, so that no middleware has to remember them:

- ``start_response`` may be called again only with ``exc_info``, and the
  core owns every replacement: it is decided afresh, and the server is sent
  only headers that describe the body it will get. Before anything was
  committed to the server (buffering, or a lazy generator app that has not
  produced its first chunk) the replacement simply wins. After a commit the
  server is told at once (with the ``exc_info``; it re-raises if the headers
  are already on the wire), and then:

  - before the application returned its iterable, any plan applies (a
    buffered replacement is committed, with the ``exc_info`` again, once its
    body is known);
  - while a streamed body is sent (:class:`Stream`), the replacement is
    streamed through a new transform, or passed through (a :class:`Buffer`
    plan, too late to start, goes out as the application made it);
  - while the server iterates a body the core cannot transform any more --
    the application's own iterable, handed back after a pass-through or a
    header edit -- only header edits apply: a replacement whose plan would
    transform the body goes out as the application made it.

  A middleware that makes a response to replace one the server already has
  (an error page after an exception) passes ``exc_info`` to :func:`intercept`,
  and every plan's commit carries it.
- Output of the legacy ``write()`` callable is collected in order with the
  iterable's chunks whenever the body is transformed.
- Applications that call ``start_response`` lazily, on the first iteration of
  a generator, work: the first chunk is pulled to learn the status.
- The inner iterable's ``close()`` is called exactly once on every path:
  normal end, an exception from the application or from the transform, and a
  response the server closes without iterating. Wrappers are classes with a
  ``close()`` method, never generators, because an unstarted generator's
  ``close()`` runs no ``finally``.
- A buffered response gets no body for ``HEAD`` requests (its
  ``Content-Length`` stays that of the GET) and none, nor a
  ``Content-Length``, for 1xx, 204 and 304. Passed-through and streamed
  bodies are left as the application sends them: dropping a ``HEAD`` body
  is the server's job.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import cast
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

from ._bodies import ClosingBody, StreamedBody, close_iterable
from ._http import body_forbidden, status_code, without_headers
from ._plans import Buffer as Buffer
from ._plans import Decide as Decide
from ._plans import EditHeaders as EditHeaders
from ._plans import Plan as Plan
from ._plans import Stream as Stream
from ._types import ExcInfo as ExcInfo
from ._types import Headers as Headers
from ._types import Write as Write

# --- the interception itself -------------------------------------------------


def intercept(
    app: WSGIApplication,
    environ: WSGIEnvironment,
    start_response: StartResponse,
    decide: Decide,
    exc_info: ExcInfo | None = None,
) -> Iterable[bytes]:
    """Call ``app`` and apply the plan ``decide`` returns for its response.

    Exceptions raised by the application (or by a :class:`Buffer`'s
    ``finish``) propagate to the caller, after the inner iterable was closed.

    ``exc_info`` says that ``app``'s response replaces one the server already
    has (PEP 3333): the call that commits it to the server carries it.
    """
    # Built by hand, field by field, rather than by _Call(...): a Python
    # __init__ call costs about as much as the rest of the pass-through path.
    # Only the fields that path reads are set here; _Call.slow_path() sets the
    # others when a response needs them.
    call = _Call()
    call.environ = environ
    call.server_start_response = start_response
    call.decide = decide
    call.replaced = exc_info
    call.status = None
    call.committed = False
    call.returned = _RUNNING
    call.slow = False
    exc_info = None
    try:  # free on Python >= 3.11 unless something raises
        app_iter = app(environ, call.start_response)
        if call.committed:
            plan = call.plan
            if plan is None or type(plan) is EditHeaders:
                # Fast path: passed through (or headers edited) before the
                # app returned; the server gets the app's own iterable
                # (file_wrapper keeps working).
                call.returned = _RETURNED
                return app_iter
        body = call.finish(app_iter)
    except BaseException:
        call.replaced = None  # break the frame <-> traceback cycle
        raise
    call.returned = _STREAMED if type(body) is StreamedBody else _RETURNED
    return body


# _Call.returned: the application is running, or its body was handed back (a
# StreamedBody, or a body the core can no longer transform).
_RUNNING, _RETURNED, _STREAMED = 0, 1, 2


class _Call:
    """The state of one intercepted response.

    It has no ``__init__``: :func:`intercept` sets the fields every response
    uses, and :meth:`slow_path` the ones only a replaced, streamed or
    buffered response (or a lazy application) needs, so that a response
    passed through pays for neither a Python ``__init__`` call nor fields it
    never reads. A field is read only once it is set.
    """

    __slots__ = (
        # Set by intercept().
        "environ",
        "server_start_response",
        "decide",
        # exc_info to pass on the next commit: given to intercept(), or of a
        # replacement the server accepted after a commit, to be passed again
        # when the buffered replacement is finally committed.
        "replaced",
        # None until the application calls start_response.
        "status",
        # True once the server's start_response has been called.
        "committed",
        # Once intercept() handed a body back to the server: _RETURNED, or
        # _STREAMED when that body is a StreamedBody (which can switch plans).
        "returned",
        # True once slow_path() set the fields it sets.
        "slow",
        # Set with status (plan), or once a plan needs them (headers).
        "headers",
        "plan",
        # Set by slow_path().
        # write() output (and chunks read ahead) not yet handed on.
        "pending",
        # Bumped on every accepted replacement by start_response(..., exc_info).
        "generation",
        "closed",
        # The server's write(), once a buffered response overflowed during write().
        "server_write",
    )

    environ: WSGIEnvironment
    server_start_response: StartResponse
    decide: Decide
    replaced: ExcInfo | None
    status: str | None
    committed: bool
    returned: int
    slow: bool
    headers: Headers
    plan: Plan
    pending: list[bytes]
    generation: int
    closed: bool
    server_write: Write | None

    def slow_path(self) -> None:
        """Set the fields beyond the pass-through path's. Called once, by the
        first caller that finds ``slow`` false (the check is inlined, so that
        later calls cost no method call)."""
        self.slow = True
        self.pending = []
        self.generation = 0
        self.closed = False
        self.server_write = None

    def start_response(
        self, status: str, headers: Headers, exc_info: ExcInfo | None = None
    ) -> Write:
        if exc_info is not None or self.status is not None:
            return self._start_again(status, headers, exc_info)
        self.status = status
        plan = self.plan = self.decide(self.environ, status, headers)
        if self.replaced is None:
            # The common case, inlined: commit() without a replacement. The
            # headers are not kept: only a Buffer plan reads them later.
            if plan is None:
                self.committed = True
                return self.server_start_response(status, headers)
            if type(plan) is EditHeaders:
                self.committed = True
                return self.server_start_response(plan.status, plan.headers)
        self.headers = headers
        return self._begin(plan, status, headers)

    def _begin(self, plan: Plan, status: str, headers: Headers) -> Write:
        """Start sending ``plan``, decided for ``status`` and ``headers``;
        return the ``write()`` for the application."""
        if plan is None:
            return self.commit(status, headers)
        if type(plan) is EditHeaders:
            return self.commit(plan.status, plan.headers)
        if not self.slow:
            self.slow_path()
        if type(plan) is Stream:
            self.commit(plan.status, without_headers(plan.headers, "content-length"))
            return self.pending.append
        return self.write

    def _start_again(self, status: str, headers: Headers, exc_info: ExcInfo | None) -> Write:
        """``start_response`` with ``exc_info``, or called twice."""
        if exc_info is None:
            raise RuntimeError("start_response() called twice without exc_info")
        if not self.slow:
            self.slow_path()
        try:
            if self.committed:
                return self._forward_replacement(status, headers, exc_info)
        finally:
            # Break the frame <-> traceback cycle (PEP 3333).
            exc_info = None
        # Nothing reached the server: the replacement simply wins.
        self.pending.clear()
        self.generation += 1
        self.status = status
        self.headers = headers
        plan = self.plan = self.decide(self.environ, status, headers)
        return self._begin(plan, status, headers)

    def _forward_replacement(self, status: str, headers: Headers, exc_info: ExcInfo) -> Write:
        """An ``exc_info`` call after commit: decided afresh, told to the server
        at once (which raises if headers went out)."""
        plan = self.decide(self.environ, status, headers)
        kind = type(plan)
        if self.returned and (kind is Buffer or (kind is Stream and self.returned != _STREAMED)):
            # The server iterates a body the core cannot transform (the app's
            # own iterable, or a read-ahead relay), or cannot buffer any more:
            # the replacement goes out as the app made it, so that the
            # headers describe the body.
            plan = None
        elif kind is Buffer:
            # Nothing has been iterated yet, so the replacement can still be
            # buffered. The server raises here if headers went out (write()).
            self.server_start_response(status, headers, exc_info)
            self.replaced = exc_info
            self.committed = False
            self.status, self.headers, self.plan = status, headers, plan
            self.pending.clear()
            self.generation += 1
            return self.write
        if type(plan) is EditHeaders:
            send_status, send_headers = plan.status, plan.headers
        elif type(plan) is Stream:
            send_status = plan.status
            send_headers = without_headers(plan.headers, "content-length")
        else:
            send_status, send_headers = status, headers
        write = self.server_start_response(send_status, send_headers, exc_info)
        # The server accepted it, so nothing had been sent: switch plans.
        self.status, self.headers, self.plan = status, headers, plan
        self.pending.clear()
        self.generation += 1
        return write if type(plan) is not Stream else self.pending.append

    def write(self, data: bytes) -> None:
        """The ``write()`` given to the app while its body is buffered.

        Past the :class:`Buffer`'s limit the response goes out unmodified at
        once, and later ``write()`` calls go straight to the server.
        """
        if self.server_write is not None:
            self.server_write(data)
            return
        self.pending.append(data)
        plan = self.plan
        if type(plan) is Buffer and plan.limit is not None:
            size = sum(map(len, self.pending))
            if size > plan.limit:
                if plan.on_overflow is not None:
                    plan.on_overflow(size)
                self.plan = None
                self.server_write = self.commit(cast(str, self.status), self.headers)
                self.server_write(self._join_pending())

    def close_app(self, app_iter: Iterable[bytes]) -> None:
        if not self.closed:
            self.closed = True
            close_iterable(app_iter)

    def started(self) -> bool:
        """True once the application has called ``start_response`` (a method, so
        that a type checker does not take ``status`` to stay ``None`` in a loop)."""
        return self.status is not None

    def commit(self, status: str, headers: Headers) -> Write:
        """Call the server's start_response (with a pending replacement's exc_info)."""
        self.committed = True
        exc_info, self.replaced = self.replaced, None
        if exc_info is None:
            return self.server_start_response(status, headers)
        return self.server_start_response(status, headers, exc_info)

    def finish(self, app_iter: Iterable[bytes]) -> Iterable[bytes]:
        """Handle everything but the fast path; closes ``app_iter`` on error."""
        if not self.slow:
            self.slow_path()
        iterator = iter(app_iter)
        try:
            if self.status is None:  # not started(), inlined: every response gets here
                # A lazy app calls start_response on its first iteration.
                for chunk in iterator:
                    self.pending.append(chunk)
                    if self.started():
                        break
                else:
                    if not self.started():
                        raise RuntimeError(
                            "the application returned without calling start_response()"
                        )
            plan = self.plan
            if type(plan) is Buffer:
                return self._buffer(plan, app_iter, iterator)
        except BaseException:
            self.close_app(app_iter)
            raise
        return self._relay(app_iter, iterator)

    def _relay(self, app_iter: Iterable[bytes], iterator: Iterator[bytes]) -> Iterable[bytes]:
        if type(self.plan) is Stream:
            return StreamedBody(self, app_iter, iterator)
        return ClosingBody(iter(self.take_pending()), app_iter, iterator)

    def _join_pending(self) -> bytes:
        data = b"".join(self.pending)
        self.pending.clear()
        return data

    def take_pending(self) -> list[bytes]:
        # Copied and cleared, not swapped for a new list: a streamed response's
        # write() callable is this list's append.
        pending = self.pending[:]
        self.pending.clear()
        return pending

    def _buffer(
        self, plan: Buffer, app_iter: Iterable[bytes], iterator: Iterator[bytes]
    ) -> Iterable[bytes]:
        generation = self.generation
        limit = plan.limit
        size = sum(map(len, self.pending))
        if limit is not None and size > limit:
            # The read-ahead chunk and write() data alone are over the limit.
            return self._overflow(plan, size, app_iter, iterator)
        for chunk in iterator:
            self.pending.append(chunk)
            if self.generation != generation or self.plan is not plan:
                # Replaced with exc_info (pending was reset, so this chunk is
                # the replacement's first), or sent on by an overflowing write().
                current = self.plan
                if type(current) is not Buffer:
                    return self._relay(app_iter, iterator)
                plan, generation, limit = current, self.generation, current.limit
                size = sum(map(len, self.pending))
            else:
                size += len(chunk)
            if limit is not None and size > limit:
                return self._overflow(plan, size, app_iter, iterator)
        current = self.plan
        if type(current) is not Buffer:
            return self._relay(app_iter, iterator)
        self.close_app(app_iter)
        status = self.status
        if status is None:  # pragma: no cover - finish() guarantees a status
            raise RuntimeError("no status to send")
        status, headers, body = current.finish(status, self.headers, self._join_pending())
        return self.send(status, headers, body)

    def _overflow(
        self, plan: Buffer, size: int, app_iter: Iterable[bytes], iterator: Iterator[bytes]
    ) -> Iterable[bytes]:
        """Past the limit: send what was read, then the rest, unmodified."""
        if plan.on_overflow is not None:
            plan.on_overflow(size)
        self.plan = None
        self.commit(cast(str, self.status), self.headers)
        return self._relay(app_iter, iterator)

    def send(self, status: str, headers: Headers, body: bytes) -> list[bytes]:
        headers = [item for item in headers if item[0].lower() != "content-length"]
        if body_forbidden(status_code(status)):
            self.commit(status, headers)
            return []
        headers.append(("Content-Length", str(len(body))))
        self.commit(status, headers)
        if self.environ.get("REQUEST_METHOD") == "HEAD":
            return []
        return [body]
