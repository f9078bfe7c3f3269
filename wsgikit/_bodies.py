"""The bodies the core hands to the server in place of the application's
iterable, all apart from the interception state machine
(:mod:`wsgikit._response`) that decides which one a response gets:

- :class:`ClosingBody` relays a body the core read ahead of;
- :class:`StreamedBody` yields what a :class:`~wsgikit._plans.Stream` plan's
  transform makes of the application's chunks. It follows the state machine
  through the ``_Call`` it is given -- its plan, the ``write()`` output
  pending, and the generation bumped by each replacement -- and starts the
  transform afresh when the application replaces its response;
- :func:`guard` watches a body while the server iterates it (errors during
  iteration). It takes a :class:`ClosingBody` apart, so the two live together.

All close the application's iterable exactly once, and are classes with a
``close()`` method, never generators, because an unstarted generator's
``close()`` runs no ``finally``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from itertools import chain
from types import TracebackType
from typing import TYPE_CHECKING, cast

from ._plans import Stream

if TYPE_CHECKING:
    from ._response import _Call


def close_iterable(app_iter: Iterable[bytes]) -> None:
    """Call ``app_iter.close()`` if it has one (PEP 3333)."""
    close = getattr(app_iter, "close", None)
    if close is not None:
        close()


class ClosingBody:
    """Yields ``head`` then the rest of ``iterator``; closes ``app_iter`` once."""

    __slots__ = ("_head", "_iterator", "_app_iter", "_closed")

    def __init__(
        self, head: Iterator[bytes], app_iter: Iterable[bytes], iterator: Iterator[bytes]
    ) -> None:
        self._head = head
        self._iterator = iterator
        self._app_iter = app_iter
        self._closed = False

    def __iter__(self) -> Iterator[bytes]:
        # A C-level chain: no Python call per chunk.
        return chain(self._head, self._iterator)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            close_iterable(self._app_iter)


def guard(
    body: Iterable[bytes],
    on_error: Callable[[BaseException, bool], Iterable[bytes] | None],
    file_wrapper: object = None,
) -> Iterable[bytes]:
    """Iterate ``body`` (what :func:`intercept` returned); on an exception let
    ``on_error`` decide what follows.

    ``on_error(exc, sent)`` gets the exception and whether a non-empty chunk
    has already been handed to the server. It returns a replacement body
    (after calling ``start_response`` again with ``exc_info`` itself) or
    ``None`` to re-raise. The application's iterable is closed exactly once,
    before ``on_error`` runs; a replacement body is closed too.

    A ``list`` or ``tuple`` (which cannot raise while iterated) and an
    instance of the server's ``file_wrapper`` class (which must reach the
    server unwrapped) are returned as they are. The core's own wrapper for a
    lazy application is taken apart, so one object guards and relays. The
    result is an iterable, not an iterator: iterating it runs a generator,
    which costs far less per chunk than a ``__next__`` method.
    """
    kind = type(body)
    if kind is list or kind is tuple:
        return body
    if isinstance(file_wrapper, type) and kind is file_wrapper:
        return body
    return _Guarded(body, on_error)


class _Guarded:
    """The body :func:`guard` returns. Closes the application's iterable once
    (before ``on_error`` runs, on an error), and a replacement body once."""

    __slots__ = ("_head", "_iterable", "_app_iter", "_on_error", "_closed", "_replacement")

    def __init__(
        self,
        body: Iterable[bytes],
        on_error: Callable[[BaseException, bool], Iterable[bytes] | None],
    ) -> None:
        if type(body) is ClosingBody:
            # Read-ahead chunks (produced without error), then the rest.
            self._head: Iterable[bytes] = body._head
            self._iterable: Iterable[bytes] = body._iterator
            self._app_iter: Iterable[bytes] = body._app_iter
        else:
            self._head = ()
            self._iterable = self._app_iter = body
        self._on_error = on_error
        self._closed = False
        self._replacement: Iterable[bytes] | None = None

    def __iter__(self) -> Iterator[bytes]:
        # A generator: far cheaper per chunk than a __next__ method. Not
        # returned by guard() itself, because close() must work unstarted.
        sent = False
        for chunk in self._head:
            yield chunk
            if chunk:
                sent = True
        try:
            iterator = iter(self._iterable)
            if not sent:
                # Until a byte went out an error may be replaced: look at chunks.
                for chunk in iterator:
                    if chunk:
                        break
                    yield chunk
                else:
                    return
        except Exception as exc:
            replacement = self._fail(exc, sent)
            if replacement is None:
                raise
        else:
            if not sent:
                yield chunk
            # A byte went out: plain relay (a generator's loop is the cheapest).
            try:
                for chunk in iterator:
                    yield chunk
                return
            except Exception as exc:
                replacement = self._fail(exc, True)
                if replacement is None:
                    raise
        for chunk in replacement:  # not "yield from": close() closes it, once
            yield chunk

    def _fail(self, exc: Exception, sent: bool) -> Iterable[bytes] | None:
        """Close the application's iterable, then ask ``on_error``."""
        self._close_app()
        replacement = self._replacement = self._on_error(exc, sent)
        return replacement

    def _close_app(self) -> None:
        if not self._closed:
            self._closed = True
            close_iterable(self._app_iter)

    def close(self) -> None:
        try:
            self._close_app()
        finally:
            replacement, self._replacement = self._replacement, None
            if replacement is not None:
                close_iterable(replacement)


class StreamedBody:
    """Yields what the plan's transform makes of the app's chunks and ``write()``
    data; made by the state machine for a :class:`~wsgikit._plans.Stream` plan."""

    __slots__ = (
        "_call",
        "_app_iter",
        "_iterator",
        "_out",
        "_generation",
        "_closed",
        "_sent",
        "_app_failed",
    )

    def __init__(self, call: _Call, app_iter: Iterable[bytes], iterator: Iterator[bytes]) -> None:
        self._call = call
        self._app_iter = app_iter
        self._iterator = iterator
        self._closed = False
        self._generation = -1
        self._out: Iterator[bytes] = iter(())
        # A non-empty chunk went out: too late for a replacement.
        self._sent = False
        # The application (not the transform) raised: its error passes as it is.
        self._app_failed = False

    def __iter__(self) -> StreamedBody:
        return self

    def _chunks(self) -> Iterator[bytes]:
        """The app's body in order: read-ahead and ``write()`` data, then chunks."""
        call = self._call
        generation = call.generation
        iterator = self._iterator
        while True:
            if call.pending:
                yield from self._checked(call.take_pending())
            try:
                chunk = next(iterator)
            except StopIteration:
                break
            except BaseException:
                self._app_failed = True
                raise
            if type(chunk) is not bytes:
                self._checked([chunk])
            if call.generation != generation:
                # Replaced while producing this chunk, so the chunk belongs to
                # the new response: keep it for the next plan and stop here.
                call.pending.append(chunk)
                return
            if call.pending:  # write() called while producing this chunk
                yield from self._checked(call.take_pending())
            yield chunk
        if call.pending:
            yield from self._checked(call.take_pending())

    def _checked(self, chunks: list[bytes]) -> list[bytes]:
        """``chunks`` from the application, which must be bytes (PEP 3333)."""
        for chunk in cast(list[object], chunks):
            if not isinstance(chunk, bytes | bytearray | memoryview):
                self._app_failed = True
                raise TypeError(
                    "the application's response body must be bytes (PEP 3333), "
                    f"not {type(chunk).__name__}"
                )
        return chunks

    def _restart(self) -> None:
        """Build the output for the current plan (again, after a replacement)."""
        old = self._out
        close = getattr(old, "close", None)
        if close is not None:
            close()
        call = self._call
        self._generation = call.generation
        plan = call.plan
        chunks = self._chunks()
        self._out = iter(plan.transform(chunks)) if type(plan) is Stream else chunks

    def __next__(self) -> bytes:
        call = self._call
        while True:
            try:
                if self._generation != call.generation:
                    self._restart()
                chunk = next(self._out)
            except StopIteration:
                if self._generation == call.generation:
                    raise
                continue  # the app replaced its response while we read it
            except Exception as exc:
                if not self._recover(exc):
                    raise
                continue
            if self._generation == call.generation:
                if chunk:
                    self._sent = True
                return chunk
            # Output the old transform made of a replaced response: stale.

    def _recover(self, exc: Exception) -> bool:
        """A failure of the transform: send the plan's replacement if it has one
        and nothing went out yet. False: re-raise."""
        plan = self._call.plan
        if self._app_failed or type(plan) is not Stream or plan.on_error is None:
            return False
        replacement = plan.on_error(exc, self._sent)
        if replacement is None or self._sent:
            return False
        close = getattr(self._out, "close", None)
        if close is not None:
            close()
        call = self._call
        # The stream's headers went to the server: replace them (PEP 3333).
        call.replaced = (type(exc), exc, cast(TracebackType, exc.__traceback__))
        try:
            self._out = iter(call.send(*replacement))
        finally:
            call.replaced = None
        return True

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            close = getattr(self._out, "close", None)
            if close is not None:
                close()
        finally:
            close_iterable(self._app_iter)
