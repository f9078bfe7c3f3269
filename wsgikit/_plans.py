"""The plans a *decide* function answers with: what
:func:`wsgikit._response.intercept` does with one response. The state machine
that carries them out is :mod:`wsgikit._response`, which re-exports the plans,
:data:`Plan` and :data:`Decide` (the middlewares import them from there, with
:func:`~wsgikit._response.intercept`)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TypeAlias
from wsgiref.types import WSGIEnvironment

from ._types import Headers

#: A buffered transform: ``(status, headers, body) -> (status, headers, body)``.
Finish: TypeAlias = Callable[[str, Headers, bytes], tuple[str, Headers, bytes]]
#: A streaming transform: chunks in, chunks out.
Transform: TypeAlias = Callable[[Iterator[bytes]], Iterable[bytes]]
#: ``on_error(exc, sent) -> (status, headers, body) | None`` of a :class:`Stream`.
Recover: TypeAlias = Callable[[Exception, bool], tuple[str, Headers, bytes] | None]


# Plans are plain (not frozen) dataclasses: one is made per intercepted
# response, and a frozen one costs twice as much to create. Treat them as
# immutable all the same.


@dataclass(slots=True)
class EditHeaders:
    """Send ``status`` and ``headers`` instead of the application's; stream the body."""

    status: str
    headers: Headers


@dataclass(slots=True)
class Stream:
    """Send ``status`` and ``headers`` (``Content-Length`` removed) and the
    chunks produced by ``transform`` from the application's chunks.

    The chunks ``transform`` gets are checked to be bytes: a ``str`` from the
    application raises a ``TypeError`` that names the application. When
    ``transform`` itself raises (an error of the application passes through
    it untouched), ``on_error(exc, sent)`` is called, ``sent`` telling whether
    a non-empty chunk already went out. Before that it may return a
    replacement ``(status, headers, body)``, which the core sends with
    ``exc_info`` and a recomputed ``Content-Length``; ``None``, or any
    answer once a byte went out, re-raises.
    """

    status: str
    headers: Headers
    transform: Transform
    on_error: Recover | None = None


@dataclass(slots=True)
class Buffer:
    """Collect the body and send what ``finish`` makes of it.

    ``limit`` caps the collected size in bytes (``None``: no cap). Past it, the
    response goes out exactly as the application produced it and
    ``on_overflow(size_read_so_far)`` is called, so the middleware can log it.
    """

    finish: Finish
    limit: int | None = None
    on_overflow: Callable[[int], None] | None = None


Plan: TypeAlias = EditHeaders | Stream | Buffer | None
#: ``decide(environ, status, headers) -> plan``, called from ``start_response``.
Decide: TypeAlias = Callable[[WSGIEnvironment, str, Headers], Plan]
