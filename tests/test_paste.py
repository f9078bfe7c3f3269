"""PasteDeploy plumbing: INI string converters and loading real INI pipelines."""

from __future__ import annotations

import contextlib
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wsgikit.paste import (
    asbool,
    asduration,
    asfloat,
    asint,
    aslist,
    asoptional,
    assecret,
    convert_options,
)


@pytest.mark.parametrize(
    "text", ["true", "True", "YES", "on", "y", "t", "1", " enable ", "enabled", True]
)
def test_asbool_true_spellings(text: Any) -> None:
    assert asbool(text) is True


@pytest.mark.parametrize(
    "text", ["false", "False", "NO", "off", "n", "f", "0", "disable", "disabled", "none", "", False]
)
def test_asbool_false_spellings(text: Any) -> None:
    assert asbool(text) is False


@pytest.mark.parametrize("text", ["maybe", "2", "yess", "tru"])
def test_asbool_rejects_anything_else(text: str) -> None:
    with pytest.raises(ValueError, match="not a boolean"):
        asbool(text)


def test_asint_and_asfloat() -> None:
    assert asint(" 42 ") == 42
    assert asint("1_000") == 1000
    assert asfloat("0.5") == 0.5
    assert asfloat("3") == 3.0
    with pytest.raises(ValueError, match="whole number"):
        asint("4.2")
    with pytest.raises(ValueError, match="not a number"):
        asfloat("fast")


@pytest.mark.parametrize(
    ("text", "items"),
    [
        pytest.param("10.0.0.0/8 192.168.0.0/16", ["10.0.0.0/8", "192.168.0.0/16"], id="spaces"),
        pytest.param("a, b,c", ["a", "b", "c"], id="commas"),
        pytest.param("\n  a\n  b\n", ["a", "b"], id="INI continuation lines"),
        pytest.param("", [], id="empty"),
    ],
)
def test_aslist(text: str, items: list[str]) -> None:
    assert aslist(text) == items


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        pytest.param("3600", 3600, id="plain seconds"),
        pytest.param("90s", 90, id="s"),
        pytest.param("30m", 1800, id="m"),
        pytest.param("1h", 3600, id="h"),
        pytest.param("1h30m", 5400, id="h+m"),
        pytest.param("1h 30m", 5400, id="h m spaced"),
        pytest.param("2d", 172800, id="d"),
        pytest.param("1w", 604800, id="w"),
        pytest.param("1.5h", 5400, id="fractional"),
        pytest.param("1H", 3600, id="upper case unit"),
    ],
)
def test_asduration(text: str, seconds: int) -> None:
    assert asduration(text) == seconds


@pytest.mark.parametrize("text", ["", "h", "1x", "1h garbage", "-5", "one hour", "1h-30m"])
def test_asduration_rejects_garbage(text: str) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        asduration(text)


@given(st.text(max_size=30))
def test_converters_raise_only_value_error(text: str) -> None:
    for convert in (asbool, asint, asfloat, asduration):
        with contextlib.suppress(ValueError):
            convert(text)
    assert all(isinstance(item, str) and item for item in aslist(text))


def test_assecret_reads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WSGIKIT_TEST_SECRET", "s3cr3t")
    assert assecret("env:WSGIKIT_TEST_SECRET") == "s3cr3t"
    assert assecret("literal") == "literal"


def test_assecret_names_a_missing_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WSGIKIT_MISSING", raising=False)
    with pytest.raises(ValueError, match="WSGIKIT_MISSING is not set"):
        assecret("env:WSGIKIT_MISSING")
    with pytest.raises(ValueError, match="needs a variable name"):
        assecret("env:")


def test_asoptional() -> None:
    optional_int = asoptional(asint)
    assert optional_int("") is None
    assert optional_int("None") is None
    assert optional_int("5") == 5


def test_convert_options_rejects_unknown_and_names_bad_values() -> None:
    schema = {"x_for": asint, "trusted": aslist}
    assert convert_options("proxy_fix", {"x_for": "2"}, schema) == {"x_for": 2}
    with pytest.raises(ValueError, match=r"\[proxy_fix\] unknown option\(s\) x_four"):
        convert_options("proxy_fix", {"x_four": "2"}, schema)
    with pytest.raises(ValueError, match=r"\[proxy_fix\] option x_for: not a whole number"):
        convert_options("proxy_fix", {"x_for": "two"}, schema)
