"""The content codings :class:`~wsgikit.Compress` offers -- ``gzip`` (written
by a backend of :mod:`wsgikit._deflate`), ``br`` (the ``brotli`` package) and
``zstd`` (the ``zstandard`` package) -- each as a whole-body function and a
stream encoder, the flush policy of a compressed stream
(:func:`encode_stream`), and the check of the ``encodings`` option. Kept apart
from the middleware, which only negotiates and plans."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial

from . import _deflate
from ._options import check_strings

#: The codings there is an encoder for.
AVAILABLE = ("gzip", "br", "zstd")
_MODULES = {"br": "brotli", "zstd": "zstandard"}
_EXTRAS = {"br": "brotli", "zstd": "zstd"}


@dataclass(frozen=True, slots=True)
class Codec:
    """One content coding: compress a whole body, or open a stream encoder
    returning ``(compress, flush, finish)``."""

    name: str
    whole: Callable[[bytes], bytes]
    stream: _deflate.Opener


def check_encodings(encodings: object, preference: tuple[str, ...]) -> tuple[str, ...]:
    """The ``encodings`` option, checked: lower-case names, each installed.
    ``None``: every installed coding of ``preference``, in its order."""
    if encodings is None:
        return tuple(
            name
            for name in preference
            if name not in _MODULES or _deflate.optional_module(_MODULES[name])
        )
    names = tuple(name.lower() for name in check_strings("encodings", encodings))
    if not names:
        raise ValueError("encodings: give at least one of br, zstd, gzip")
    for name in names:
        if name not in AVAILABLE:
            raise ValueError(f"encodings: unknown coding {name!r}; use br, zstd or gzip")
        if name in _MODULES and _deflate.optional_module(_MODULES[name]) is None:
            raise ValueError(
                f"encodings: {name} needs the {_MODULES[name]} package "
                f"(pip install wsgikit[{_EXTRAS[name]}])"
            )
    if len(set(names)) != len(names):
        raise ValueError(f"encodings: {names!r} names a coding twice")
    return names


def make_codec(name: str, level: int, backend: str, brotli_quality: int, zstd_level: int) -> Codec:
    """The encoders of coding ``name`` (checked by :func:`check_encodings`)."""
    if name == "gzip":
        return Codec(
            name, _deflate.gzip_whole(backend, level), _deflate.gzip_opener(backend, level)
        )
    module = _deflate.optional_module(_MODULES[name])
    if module is None:  # checked first; installed packages do not vanish
        raise ValueError(f"encodings: {name} needs the {_MODULES[name]} package")
    if name == "br":

        def brotli_stream() -> tuple[
            Callable[[bytes], bytes], Callable[[], bytes], Callable[[], bytes]
        ]:
            encoder = module.Compressor(quality=brotli_quality)
            return encoder.process, encoder.flush, encoder.finish

        return Codec(name, partial(module.compress, quality=brotli_quality), brotli_stream)
    flush_block = module.COMPRESSOBJ_FLUSH_BLOCK

    def zstd_whole(body: bytes) -> bytes:
        return bytes(module.ZstdCompressor(level=zstd_level).compress(body))

    def zstd_stream() -> tuple[Callable[[bytes], bytes], Callable[[], bytes], Callable[[], bytes]]:
        encoder = module.ZstdCompressor(level=zstd_level).compressobj()
        return encoder.compress, partial(encoder.flush, flush_block), encoder.flush

    return Codec(name, zstd_whole, zstd_stream)


def encode_stream(
    open_encoder: _deflate.Opener,
    flush_each: bool,
    flush_size: int,
    chunks: Iterator[bytes],
) -> Iterator[bytes]:
    """Compress ``chunks`` as they come, with an encoder from ``open_encoder``.

    The first non-empty chunk is flushed at once (the head of a page leaves
    before the application's slow part); after that the encoder is flushed
    after a chunk once ``flush_size`` bytes went in since the last flush, or
    after every chunk when ``flush_each`` (Server-Sent Events). Each chunk
    gives at least one (possibly empty) output chunk, as PEP 3333 asks of
    middleware.
    """
    compress, flush, finish = open_encoder()
    unflushed = 0
    first = True
    for chunk in chunks:
        if not chunk:
            yield b""
            continue
        out = compress(chunk)
        unflushed += len(chunk)
        if first or flush_each or unflushed >= flush_size:
            out += flush()
            unflushed = 0
            first = False
        yield out
    yield finish()
