"""The gzip backends: every one writes standard, deterministic gzip that the stdlib reads."""

from __future__ import annotations

import gzip
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wsgikit import _deflate

INSTALLED = [name for name in _deflate.BACKENDS if _deflate.load(name) is not None]
LEVELS = {"zlib": (1, 6, 9), "zlib-ng": (1, 6, 9), "isal": (0, 1, 3)}


def test_every_backend_is_installed_for_the_tests() -> None:
    """The testing extra installs zlib-ng and isal, so nothing below is skipped silently."""
    assert list(_deflate.BACKENDS) == INSTALLED


@settings(max_examples=60)
@pytest.mark.parametrize("backend", _deflate.BACKENDS)
@given(body=st.binary(max_size=5000) | st.text(max_size=3000).map(str.encode))
def test_whole_bodies_round_trip_through_the_stdlib(backend: str, body: bytes) -> None:
    for level in LEVELS[backend]:
        coded = _deflate.gzip_whole(backend, level)(body)
        assert gzip.decompress(coded) == body
        assert coded[:4] == b"\x1f\x8b\x08\x00"  # gzip, deflate, no flags
        assert coded[4:8] == b"\0\0\0\0"  # no modification time: deterministic
        assert _deflate.gzip_whole(backend, level)(body) == coded


@settings(max_examples=60)
@pytest.mark.parametrize("backend", _deflate.BACKENDS)
@given(chunks=st.lists(st.binary(max_size=2000), max_size=8))
def test_streams_round_trip_with_sync_flushes(backend: str, chunks: list[bytes]) -> None:
    # The opener Compress streams through: compress, sync flush, finish.
    compress, sync_flush, finish = _deflate.gzip_opener(backend, LEVELS[backend][1])()
    decoder = zlib.decompressobj(47)
    received = b""
    for sent, chunk in enumerate(chunks, 1):
        piece = compress(chunk) + sync_flush()
        received += decoder.decompress(piece)
        # after a sync flush everything sent so far can be decoded
        assert received == b"".join(chunks[:sent])
    received += decoder.decompress(finish())
    assert received == b"".join(chunks)
    assert decoder.eof


def test_automatic_choice_prefers_zlib_ng() -> None:
    assert _deflate.choose(None, 6) == "zlib-ng"


@pytest.mark.parametrize(
    ("backend", "level", "message"),
    [
        pytest.param("brotli", 6, "backend: use one of zlib, zlib-ng, isal", id="unknown"),
        pytest.param("isal", 6, "level: backend 'isal' takes levels 0-3, not 6", id="isal level"),
        pytest.param("zlib", 0, "level: backend 'zlib' takes levels 1-9, not 0", id="zlib level"),
    ],
)
def test_bad_choices_are_refused(backend: str, level: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _deflate.choose(backend, level)


def test_a_backend_that_is_not_installed_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(_deflate._MODULES, "isal", "no_such_module_here")
    with pytest.raises(ValueError, match=r"'isal' is not installed .*wsgikit\[isal\]"):
        _deflate.choose("isal", 1)
    assert _deflate.load("isal") is None


@pytest.mark.parametrize(("backend", "level"), [("zlib", 6), ("zlib-ng", 6), ("isal", 1)])
def test_the_opener_gives_independent_sync_flushing_streams(backend: str, level: int) -> None:
    open_encoder = _deflate.gzip_opener(backend, level)
    first, second = open_encoder(), open_encoder()
    compress, sync, finish = first
    decoder = zlib.decompressobj(47)
    assert decoder.decompress(compress(b"head ") + sync()) == b"head "
    assert second[0](b"other") + second[2]() == _deflate.gzip_whole(backend, level)(b"other")
    assert decoder.decompress(compress(b"tail") + finish()) == b"tail"
    assert decoder.eof


@pytest.mark.parametrize(
    ("backend", "level", "error", "message"),
    [
        pytest.param(None, 0, ValueError, "^level: the automatic backend takes levels 1-9, not 0"),
        pytest.param(None, 10, ValueError, "^level: the automatic backend", id="auto 10"),
        pytest.param(b"zlib", 6, TypeError, "^backend: must be a str or None, not bytes"),
    ],
)
def test_the_automatic_choice_checks_the_level_too(
    backend: object, level: int, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        _deflate.choose(backend, level)  # type: ignore[arg-type]
