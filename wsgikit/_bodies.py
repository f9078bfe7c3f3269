"""Bodies handed to the server that need nothing of the interception state
machine (:mod:`wsgikit._response`): :class:`ClosingBody`, which relays a body
the core read ahead of, and :func:`guard`, which watches a body while the
server iterates it (errors during iteration). :func:`guard` takes a
:class:`ClosingBody` apart, so the two live together. The streamed body, which
switches plans with the state machine, stays in :mod:`wsgikit._response`.

Both close the application's iterable exactly once, and are classes with a
``close()`` method, never generators, because an unstarted generator's
``close()`` runs no ``finally``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from itertools import chain


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
