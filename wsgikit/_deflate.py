"""gzip encoders: the standard library's zlib, or a faster deflate when installed.

Compression is most of what a compressed response costs, and the stdlib's
zlib is no longer the fastest deflate. Two maintained packages expose the same
API as :mod:`zlib` (``compress``, ``compressobj``) over faster engines:

- ``zlib-ng`` (extra ``wsgikit[zlib-ng]``): zlib's format and levels 1-9,
  output within a few percent of zlib's size at the same level, in well under
  the time. Chosen automatically when installed.
- ``isal`` (Intel ISA-L, extra ``wsgikit[isal]``): levels 0-3 only, several
  times faster again for somewhat larger output. Only when named:
  ``Compress(..., backend="isal")``, with ``level`` 0-3.

Every backend writes a standard gzip member (RFC 1952) with no name and a
zero modification time, so the output is deterministic and any gzip decoder
reads it. The figures are in the Compress documentation (``bench/run.py
compress``).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from functools import partial
from types import ModuleType
from typing import Any, cast

#: Names accepted by ``Compress(backend=...)``.
BACKENDS = ("zlib", "zlib-ng", "isal")
_MODULES = {"zlib": "zlib", "zlib-ng": "zlib_ng.zlib_ng", "isal": "isal.isal_zlib"}
_LEVELS = {"zlib": range(1, 10), "zlib-ng": range(1, 10), "isal": range(0, 4)}
_GZIP_WBITS = 31  # 16 + 15: a gzip wrapper around a 32 KiB window


def optional_module(path: str) -> ModuleType | None:
    """Import an optional package's module; ``None`` when it is not installed."""
    try:
        return importlib.import_module(path)
    except ImportError:
        return None


def load(name: str) -> ModuleType | None:
    """The module of backend ``name``, or ``None`` when it is not installed."""
    return optional_module(_MODULES[name])


def choose(backend: str | None, level: int) -> str:
    """The backend to use: the named one (checked), else the fastest installed
    one that supports ``level`` with zlib's sizes (``zlib-ng``, else ``zlib``).

    :raises ValueError: For an unknown name, a backend that is not installed,
        or a level it does not support.
    """
    if backend is None:
        if level not in _LEVELS["zlib"]:
            raise ValueError(f"level: the automatic backend takes levels 1-9, not {level}")
        return "zlib-ng" if load("zlib-ng") is not None else "zlib"
    if not isinstance(backend, str):
        raise TypeError(f"backend: must be a str or None, not {type(backend).__name__}")
    if backend not in BACKENDS:
        raise ValueError(f"backend: use one of {', '.join(BACKENDS)}, not {backend!r}")
    if load(backend) is None:
        extra = backend
        raise ValueError(f"backend: {backend!r} is not installed (pip install 'wsgikit[{extra}]')")
    levels = _LEVELS[backend]
    if level not in levels:
        raise ValueError(
            f"level: backend {backend!r} takes levels {levels.start}-{levels.stop - 1}, not {level}"
        )
    return backend


def gzip_whole(backend: str, level: int) -> Callable[[bytes], bytes]:
    """A function compressing a whole body into one gzip member."""
    module: Any = load(backend)
    return cast(Callable[[bytes], bytes], partial(module.compress, level=level, wbits=_GZIP_WBITS))


#: ``open() -> (compress, sync_flush, finish)``: a new gzip stream encoder.
Opener = Callable[[], tuple[Callable[[bytes], bytes], Callable[[], bytes], Callable[[], bytes]]]


def gzip_opener(backend: str, level: int) -> Opener:
    """A function opening a new gzip stream encoder, as its ``compress``, a
    sync ``flush`` (everything so far decodable) and the final ``flush``.

    The backend's module is looked up once, here, not per stream.
    """
    module: Any = load(backend)
    compressobj, deflated, sync = module.compressobj, module.DEFLATED, module.Z_SYNC_FLUSH

    def open_encoder() -> tuple[Callable[[bytes], bytes], Callable[[], bytes], Callable[[], bytes]]:
        encoder = compressobj(level, deflated, _GZIP_WBITS)
        return encoder.compress, partial(encoder.flush, sync), encoder.flush

    return open_encoder
