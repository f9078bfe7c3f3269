"""Type aliases of WSGI values, shared by the core (:mod:`wsgikit._response`)
and the small HTTP helpers (:mod:`wsgikit._http`) without either importing
the other for them."""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import TypeAlias

#: A response's header list, as given to ``start_response``.
Headers: TypeAlias = list[tuple[str, str]]
#: The ``exc_info`` argument of ``start_response``.
ExcInfo: TypeAlias = (
    tuple[type[BaseException], BaseException, TracebackType] | tuple[None, None, None]
)
#: The legacy ``write()`` callable ``start_response`` returns.
Write: TypeAlias = Callable[[bytes], object]
