"""PasteDeploy plumbing: INI string converters and loading real INI pipelines."""

from __future__ import annotations

import ast
import contextlib
import gzip
import inspect
import json
import os
import pkgutil
import re
import textwrap
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment
from wsgiref.validate import validator

import pytest
import webtest
from e2e_auth_apps import ALICE_PASSWORD, BOB_PASSWORD, USERS
from e2e_core_apps import MINIMAL
from helpers import ROOT, basic, call, free_port, header_value, problem, testapp, text_app
from hypothesis import given
from hypothesis import strategies as st
from paste.deploy import loadapp

from wsgikit import (
    CORS,
    AuthParser,
    BasicAuth,
    BodyRewriter,
    Compress,
    HTTPProxy,
    InjectHTML,
    JSONErrors,
    ProxyFix,
    SecurityHeaders,
    SessionMiddleware,
    TrustedHosts,
)
from wsgikit.demo import demo_app
from wsgikit.paste import (
    FACTORIES,
    OptionError,
    asbool,
    ascallable,
    asduration,
    asexception,
    asfloat,
    asimport,
    asint,
    asints,
    aslist,
    asoptional,
    assecret,
    convert_options,
    spelling,
)


@pytest.mark.parametrize(
    "text", ["true", "True", "YES", "on", "y", "t", "1", " enable ", "enabled", True]
)
def test_asbool_true_spellings(text: Any) -> None:
    assert asbool(text) is True


@pytest.mark.parametrize(
    "text", ["false", "False", "NO", "off", "n", "f", "0", "disable", "disabled", False]
)
def test_asbool_false_spellings(text: Any) -> None:
    assert asbool(text) is False


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


@given(st.text(max_size=30))
def test_converters_raise_only_value_error(text: str) -> None:
    for convert in (asbool, asint, asfloat, asduration):
        with contextlib.suppress(ValueError):
            convert(text)
    assert all(isinstance(item, str) and item for item in aslist(text))


@pytest.mark.parametrize(
    ("convert", "text", "message"),
    [
        *(
            pytest.param(asbool, text, "not a boolean", id=f"asbool {text!r}")
            for text in ["maybe", "2", "yess", "tru", "none"]
        ),
        # ``httponly =`` used to be False: an empty line switched a default off.
        *(
            pytest.param(asbool, text, "empty value; leave the option out", id=f"asbool {text!r}")
            for text in ["", "  "]
        ),
        *(
            pytest.param(asduration, text, "not a duration", id=f"asduration {text!r}")
            for text in ["", "h", "1x", "1h garbage", "-5", "one hour", "1h-30m"]
        ),
        pytest.param(
            asexception,
            "NoSuchError",
            "builtin exception without a module",
            id="asexception unknown",
        ),
        pytest.param(asexception, "len", "not an exception class", id="asexception function"),
        pytest.param(asexception, "os:sep", "not an exception class", id="asexception not a class"),
    ],
)
def test_converters_refuse_naming_the_problem(
    convert: Callable[[str], Any], text: str, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        convert(text)


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
    assert optional_int("None") is None
    assert optional_int("5") == 5
    # Empty used to be None too, and None is often not the default (no limit).
    with pytest.raises(ValueError, match="empty value.*write none"):
        optional_int("")


def test_asimport_and_ascallable_resolve_dotted_names() -> None:
    assert asimport("os.path:join") is os.path.join
    assert asimport("os.path.join") is os.path.join
    assert ascallable("builtins:len") is len
    with pytest.raises(ValueError, match="cannot import 'no_such_module:thing'"):
        asimport("no_such_module:thing")
    with pytest.raises(ValueError, match="is not callable"):
        ascallable("os:sep")


def test_asints() -> None:
    assert asints("200 404,500") == [200, 404, 500]
    with pytest.raises(ValueError, match="whole number"):
        asints("200 ok")


def test_convert_options_rejects_unknown_and_names_bad_values() -> None:
    schema = {"x_for": asint, "trusted": aslist}
    assert convert_options("proxy_fix", {"x_for": "2"}, schema) == {"x_for": 2}
    with pytest.raises(ValueError, match=r"\[proxy_fix\] unknown option\(s\) x_four"):
        convert_options("proxy_fix", {"x_four": "2"}, schema)
    with pytest.raises(ValueError, match=r"\[proxy_fix\] option x_for: not a whole number"):
        convert_options("proxy_fix", {"x_for": "two"}, schema)


# --- real INI files through paste.deploy.loadapp -------------------------------------

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def test_example_pipeline_loads_with_egg_entry_points(monkeypatch: pytest.MonkeyPatch) -> None:
    """examples/pipeline.ini: proxy_fix, json_errors and compress from the
    installed entry points, in front of a real Bottle app."""
    monkeypatch.syspath_prepend(str(EXAMPLES))
    app = loadapp(f"config:{EXAMPLES / 'pipeline.ini'}")
    client = webtest.TestApp(validator(app))

    found = client.get(
        "/items/1",
        extra_environ={"REMOTE_ADDR": "127.0.0.1"},
        headers={"X-Forwarded-For": "203.0.113.9"},
    )
    assert found.json == {"id": 1, "name": "tea", "client": "203.0.113.9"}

    missing = client.get("/items/99", status=404)
    assert missing.content_type == "application/problem+json"
    assert missing.json["detail"] == "There is no item 99."

    listed = client.get("/items", headers={"Accept-Encoding": "gzip"})
    assert listed.headers["Vary"] == "Accept-Encoding"
    assert len(listed.json["items"]) == 150


def test_ini_strings_reach_the_constructor_typed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WSGIKIT_TEST_SNIPPET", "<!-- from the environment -->")
    ini = tmp_path / "typed.ini"
    ini.write_text(
        "[pipeline:main]\n"
        "pipeline = proxy inject echo\n"
        "[filter:proxy]\n"
        "use = egg:wsgikit#proxy_fix\n"
        "x_for = 2\n"
        "x_proto = 0\n"
        "trusted = 10.0.0.0/8,\n  192.168.0.0/16\n"
        "clear_untrusted = yes\n"
        "[filter:inject]\n"
        "use = egg:wsgikit#inject_html\n"
        "snippet = <hr>\n"
        "buffer_limit = 1_000\n"
        "statuses = 200 404\n"
        "[app:echo]\n"
        "use = call:wsgikit.demo:demo_paste_app\n"
    )
    app = loadapp(f"config:{ini}")
    assert isinstance(app, ProxyFix)
    assert app.x_for == 2 and app.x_proto == 0 and app.clear_untrusted is True
    inject = app.app
    assert isinstance(inject, InjectHTML)
    assert inject.buffer_limit == 1000
    assert inject.statuses == frozenset({200, 404})


# --- empty values never mean something else (#8) ---------------------------------------
# An INI line "option =" (or a bool/none word where it would weaken the default)
# must be refused at load time with an error naming the option, never turn a
# safe default into an unsafe one. Each case: the filter, the line, and what the
# error names. Where an empty value was already refused (by a converter or the
# constructor), the case guards that it stays so.

EMPTY_VALUE_CASES = [
    pytest.param("proxy_fix", "trusted =", "trusted", id="proxy_fix trusted empty"),
    pytest.param("proxy_fix", "trusted = none", "trusted", id="proxy_fix trusted none"),
    pytest.param("proxy_fix", "clear_untrusted =", "clear_untrusted", id="proxy_fix clear"),
    pytest.param("proxy_fix", "x_for =", "x_for", id="proxy_fix hops"),
    pytest.param("fake_forwarded_for", "real_ip =", "real_ip", id="fake real_ip"),
    pytest.param("fake_forwarded_for", "override =", "override", id="fake override"),
    pytest.param("fake_forwarded_for", "proto =", "proto", id="fake proto"),
    pytest.param("rewrite", "rewrite = builtins:bytes\nbuffer_limit =", "buffer_limit", id="rw"),
    pytest.param("rewrite", "rewrite =", "rewrite", id="rewrite callable"),
    pytest.param("rewrite", "rewrite = builtins:bytes\ncontent_types =", "content_types", id="ct"),
    pytest.param("inject_html", "snippet = <hr>\nbuffer_limit =", "buffer_limit", id="inject"),
    pytest.param("inject_html", "snippet =", "snippet", id="inject snippet"),
    pytest.param("inject_html", "snippet = <hr>\nmarker =", "marker", id="inject marker"),
    pytest.param("inject_html", "snippet = <hr>\nstatuses =", "statuses", id="inject statuses"),
    pytest.param("compress", "flush_types =", "flush_types", id="compress flush_types"),
    pytest.param("compress", "encodings =", "encodings", id="compress encodings"),
    pytest.param("compress", "content_types =", "content_types", id="compress types"),
    pytest.param("compress", "min_size =", "min_size", id="compress int"),
    pytest.param("json_errors", "request_id_header =", "request_id_header", id="errors rid"),
    pytest.param("json_errors", "debug =", "debug", id="errors debug"),
    pytest.param("json_errors", "format =", "format", id="errors format"),
    pytest.param("json_errors", "content_type =", "content_type", id="errors content_type"),
    pytest.param("session", "secret_key =", "secret_key", id="session secret"),
    pytest.param("session", "secret_key = k\nhttponly =", "httponly", id="session httponly"),
    pytest.param("session", "secret_key = k\nsecure =", "secure", id="session secure"),
    pytest.param("session", "secret_key = k\nmax_age =", "max_age", id="session max_age"),
    pytest.param("session", "secret_key = k\nsamesite =", "samesite", id="session samesite"),
    pytest.param("session", "secret_key = k\ncookie_name =", "cookie_name", id="session name"),
    pytest.param("session", "secret_key = k\npath =", "path", id="session path"),
    pytest.param("session", "secret_key = k\ndomain =", "domain", id="session domain"),
    pytest.param("session", "secret_key = k\nsalt =", "salt", id="session salt"),
    pytest.param("basic_auth", "users =", "users", id="basic users"),
    pytest.param("basic_auth", "htpasswd =", "htpasswd", id="basic htpasswd"),
    pytest.param("basic_auth", "verify =", "verify", id="basic verify"),
    pytest.param("basic_auth", "verify = builtins:max\nrealm =", "realm", id="basic realm"),
    pytest.param("basic_auth", "verify = builtins:max\nexempt = /", "exempt", id="basic exempt /"),
    pytest.param(
        "basic_auth", "htpasswd = x\nreload_interval =", "reload_interval", id="basic reload"
    ),
    pytest.param("bearer_auth", "verify = builtins:len\nrealm =", "realm", id="bearer realm"),
]


def load_layer(
    tmp_path: Path, lines: str, app: str = "call:wsgikit.demo:demo_paste_app", *more: str
) -> Any:
    """``[pipeline:main] = layer app`` with ``lines`` as ``[filter:layer]``; each of
    ``more`` is one more ``[filter:...]`` section, inside the ones before it."""
    layers = [f"layer{index or ''}" for index in range(1 + len(more))]
    sections = "".join(
        f"[filter:{name}]\n{textwrap.dedent(text).strip()}\n\n"
        for name, text in zip(layers, (lines, *more), strict=True)
    )
    ini = tmp_path / "layer.ini"
    ini.write_text(
        f"[pipeline:main]\npipeline = {' '.join(layers)} app\n\n{sections}[app:app]\nuse = {app}\n",
        encoding="utf-8",
    )
    return loadapp(f"config:{ini}")


def load_filter(tmp_path: Path, factory: str, lines: str) -> Any:
    return load_layer(tmp_path, f"use = egg:wsgikit#{factory}\n{lines}")


@pytest.mark.parametrize(("factory", "lines", "option"), EMPTY_VALUE_CASES)
def test_empty_ini_values_are_refused_naming_the_option(
    tmp_path: Path, factory: str, lines: str, option: str
) -> None:
    with pytest.raises(ValueError, match=option):
        load_filter(tmp_path, factory, lines)


# ("trusted = none" is refused like none in every option that takes no None:
# tests/test_options.py walks them all.)
@pytest.mark.parametrize("value", ["", "  ,  "], ids=["empty", "only a comma"])
def test_paste_empty_trusted_is_refused_as_in_python(tmp_path: Path, value: str) -> None:
    """An empty ``trusted =`` used to mean ``None``: hop counting, believing
    any client's headers. It fails at load time, with Python's message."""
    with pytest.raises(ValueError) as python:
        ProxyFix(text_app(), trusted="")
    with pytest.raises(ValueError) as ini:
        load_filter(tmp_path, "proxy_fix", f"trusted = {value}")
    assert str(python.value) in str(ini.value)
    assert "leave it out" in str(python.value)


def test_empty_secret_from_the_environment_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WSGIKIT_EMPTY_SECRET", "")
    with pytest.raises(ValueError, match=r"secret_key: environment variable WSGIKIT_EMPTY_SE"):
        load_filter(tmp_path, "session", "secret_key = env:WSGIKIT_EMPTY_SECRET")
    with pytest.raises(ValueError, match="fallback_keys: environment variable WSGIKIT_EMPTY_SE"):
        load_filter(tmp_path, "session", "secret_key = k\nfallback_keys = env:WSGIKIT_EMPTY_SECRET")


@pytest.mark.parametrize(
    ("factory", "lines", "attribute", "expected"),
    [
        pytest.param("rewrite", "rewrite = builtins:bytes\nbuffer_limit = none", "buffer_limit",
                     None, id="buffer_limit none: no limit"),
        pytest.param("session", "secret_key = k\nmax_age = none", "max_age", None,
                     id="max_age none: browser session"),
        pytest.param("session", "secret_key = k\nsamesite = off", "samesite", None,
                     id="samesite off: no attribute"),
        pytest.param("session", "secret_key = k\nsamesite = false", "samesite", None,
                     id="samesite false: no attribute"),
        pytest.param("session", "secret_key = k\nsamesite = lax", "samesite", "Lax",
                     id="samesite lax"),
        pytest.param("json_errors", "request_id_header = none", "request_id_header", None,
                     id="request_id_header none: off"),
        pytest.param("session", "secret_key = k\nfallback_keys =", "fallback_keys", (),
                     id="fallback_keys empty: none, the default"),
        pytest.param("basic_auth", "verify = builtins:max\nexempt =", "exempt", (),
                     id="exempt empty: none, the default"),
    ],
)  # fmt: skip
def test_explicit_words_still_choose_the_non_default(
    tmp_path: Path, factory: str, lines: str, attribute: str, expected: Any
) -> None:
    assert getattr(load_filter(tmp_path, factory, lines), attribute) == expected


# --- request_id, access_log, max_body_size (#13) ---------------------------------------


def test_edge_factories_convert_ini_strings() -> None:
    from wsgikit import AccessLog, MaxBodySize, RequestID
    from wsgikit.paste import access_log, max_body_size, request_id

    app = request_id(
        access_log(
            max_body_size(demo_app, {}, limit="1_000"),
            {},
            format="json",
            logger="my.access",
        ),
        {},
        header="X-Correlation-ID",
        trust_incoming="no",
        generator="wsgikit.request_id:new_request_id",
    )
    assert isinstance(app, RequestID)
    assert (app.header, app.trust_incoming, app.generator is not None) == (
        "X-Correlation-ID",
        False,
        True,
    )
    log = app.app
    assert isinstance(log, AccessLog) and log.format == "json" and log.logger.name == "my.access"
    size = log.app
    assert isinstance(size, MaxBodySize) and size.limit == 1000
    assert callable(access_log(demo_app, {}, format="builtins:repr").format)


@pytest.mark.parametrize(
    ("factory", "options", "message"),
    [
        pytest.param("request_id", {"trust": "yes"}, "unknown option", id="rid unknown"),
        pytest.param("request_id", {"trust_incoming": "maybe"}, "boolean", id="rid bool"),
        pytest.param("access_log", {"format": "common"}, "common", id="log format"),
        pytest.param("max_body_size", {}, "limit: is required", id="size missing"),
        pytest.param("max_body_size", {"limit": "1M"}, "whole number", id="size not int"),
        pytest.param("max_body_size", {"limit": "-1"}, "limit", id="size negative"),
    ],
)
def test_edge_factories_reject_bad_options(
    factory: str, options: dict[str, str], message: str
) -> None:
    import wsgikit.paste

    with pytest.raises(ValueError, match=message):
        getattr(wsgikit.paste, factory)(demo_app, {}, **options)


# --- the factory table: one list of filters, checked against everything else ---------

# Values that each option's converter or constructor may refuse.
HOSTILE = ["maybe", "-1", "1h garbage", "no_such_module:thing", "a\r\nb"]


def setup_py_entry_points() -> dict[str, str]:
    """``name -> target`` of setup.py's ``paste.filter_app_factory`` group."""
    tree = ast.parse((ROOT / "setup.py").read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                if isinstance(key, ast.Constant) and key.value == "paste.filter_app_factory":
                    lines = ast.literal_eval(value)
                    return dict((part.strip() for part in line.split("=", 1)) for line in lines)
    raise AssertionError("setup.py declares no paste.filter_app_factory entry points")


def test_setup_py_entry_points_are_the_factory_table() -> None:
    assert setup_py_entry_points() == {name: f"wsgikit.paste:{name}" for name in FACTORIES}


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_entry_point_names_resolve_to_the_table(name: str) -> None:
    assert pkgutil.resolve_name(f"wsgikit.paste:{name}") is FACTORIES[name]
    assert FACTORIES[name].name == name


def test_unknown_attribute_of_paste_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no_such_filter"):
        pkgutil.resolve_name("wsgikit.paste:no_such_filter")


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_ini_schema_matches_the_constructor(name: str) -> None:
    """Every constructor keyword has an INI option of the same name, and no more."""
    factory = FACTORIES[name]
    parameters = list(inspect.signature(factory.middleware).parameters)
    assert parameters[0] == "app"
    assert sorted(factory.options) == sorted(parameters[1:])
    assert set(factory.required) <= set(MINIMAL.get(name, {}))


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_minimal_options_build_the_middleware(name: str) -> None:
    factory = FACTORIES[name]
    app = factory(text_app(), {}, **MINIMAL.get(name, {}))
    assert isinstance(app, factory.middleware)  # type: ignore[arg-type]
    assert testapp(app).get("/", expect_errors=True).status_int in (200, 401)


@pytest.mark.parametrize(
    ("name", "option"),
    [
        pytest.param(name, option, id=f"{name}.{option}")
        for name in sorted(FACTORIES)
        for option in sorted(FACTORIES[name].options)
    ],
)
def test_every_option_error_names_the_filter_and_the_option(name: str, option: str) -> None:
    factory = FACTORIES[name]
    for value in HOSTILE:
        options = {**MINIMAL.get(name, {}), option: value}
        try:
            factory(text_app(), {}, **options)
        except OptionError as error:
            assert error.factory == name
            assert str(error).startswith(f"[{name}] ")
            assert re.search(rf"\b{option}\b", str(error)), str(error)
        else:
            # Accepted: then the option is free text; a typed converter (bool,
            # number, duration, import) never takes one of these strings.
            converted = factory.options[option](value)
            texts = converted if isinstance(converted, list) else [converted]
            assert all(isinstance(text, str) for text in texts), (value, converted)


def test_missing_required_option_is_named() -> None:
    with pytest.raises(OptionError, match=r"^\[session\] option secret_key: is required$"):
        FACTORIES["session"](text_app(), {})
    with pytest.raises(OptionError, match=r"^\[inject_html\] option snippet: is required$"):
        FACTORIES["inject_html"](text_app(), {})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("TimeoutError", TimeoutError, id="builtin"),
        pytest.param(" ConnectionError ", ConnectionError, id="builtin, spaces"),
        pytest.param("builtins:TimeoutError", TimeoutError, id="builtins:"),
        pytest.param("json:JSONDecodeError", json.JSONDecodeError, id="module:Class"),
        pytest.param("json.JSONDecodeError", json.JSONDecodeError, id="dotted"),
    ],
)
def test_asexception(text: str, expected: type[BaseException]) -> None:
    assert asexception(text) is expected


def timeout_app_factory(global_conf: dict[str, str], **local_conf: str) -> WSGIApplication:
    def timeout_app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        raise TimeoutError("upstream took too long")

    return timeout_app


def test_builtin_exception_names_in_an_ini_file(tmp_path: Path) -> None:
    """``exceptions = TimeoutError=504`` used to say "No module named 'TimeoutError'"."""
    ini = tmp_path / "errors.ini"
    ini.write_text(
        "[pipeline:main]\npipeline = errors app\n"
        "[filter:errors]\nuse = egg:wsgikit#json_errors\n"
        "exceptions = TimeoutError=504 json:JSONDecodeError=400\n"
        "[app:app]\nuse = call:test_paste:timeout_app_factory\n"
    )
    app = loadapp(f"config:{ini}")
    assert app.exceptions == {TimeoutError: 504, json.JSONDecodeError: 400}
    response = webtest.TestApp(validator(app)).get("/", status=504, expect_errors=True)
    assert response.json["status"] == 504


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_reference_rows_give_spelling_and_default(name: str) -> None:
    """The docs' PasteDeploy reference: one row per option, a one-line spelling."""
    factory = FACTORIES[name]
    rows = factory.reference()
    assert [row[0] for row in rows] == list(factory.options)
    parameters = inspect.signature(factory.middleware).parameters
    for option, spelled, default in rows:
        assert spelled and "\n" not in spelled and "str(object=" not in spelled, option
        expected = parameters[option].default
        assert default == ("required" if expected is inspect.Parameter.empty else repr(expected))


def test_reference_of_session() -> None:
    rows = {row[0]: row[1:] for row in FACTORIES["session"].reference()}
    assert rows["secret_key"] == (spelling(assecret), "required")
    assert rows["max_age"][0].startswith("Seconds: ``3600``")
    assert rows["max_age"][0].endswith("``none``: None.")
    assert rows["cookie_name"] == ("Text, as written.", "'session'")


def test_json_errors_types_in_an_ini_option() -> None:
    app = FACTORIES["json_errors"](
        text_app(), {}, types="404=https://example.com/nf?x=1\n  500=urn:oops"
    )
    assert isinstance(app, JSONErrors)
    assert app.types == {404: "https://example.com/nf?x=1", 500: "urn:oops"}
    with pytest.raises(OptionError, match=r"^\[json_errors\] option types: 'nf' is not status="):
        FACTORIES["json_errors"](text_app(), {}, types="nf")


# --- review fixes -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("conf", "option", "message"),
    [
        pytest.param({"timeout": "0"}, "timeout", "> 0", id="timeout 0"),
        pytest.param({"pool_size": "0"}, "pool_size", ">= 1", id="pool_size 0"),
        pytest.param({"verify": "/no/such/ca.pem"}, "verify", "CA bundle", id="verify path"),
    ],
)
def test_http_proxy_constructor_errors_are_option_errors(
    conf: dict[str, str], option: str, message: str
) -> None:
    from wsgikit import paste

    with pytest.raises(paste.OptionError, match=message) as caught:
        paste.http_proxy({}, upstream="https://127.0.0.1:9", **conf)
    assert str(caught.value).startswith(f"[http_proxy] option {option}: ")


@pytest.mark.parametrize(
    ("factory", "value", "names"),
    [
        pytest.param("access_log", "xml", "combined, json", id="access_log"),
        pytest.param("json_errors", "html", "problem, simple", id="json_errors"),
    ],
)
def test_an_unknown_format_word_names_the_choices(factory: str, value: str, names: str) -> None:
    from wsgikit import paste

    with pytest.raises(paste.OptionError) as caught:
        paste.FACTORIES[factory](text_app(), {}, format=value)
    assert str(caught.value) == (
        f"[{factory}] option format: format must be {names} or module:function, not {value!r}"
    )


# --- every middleware's INI options, one table --------------------------------------
# Each case is the [filter:layer] section of a pipeline in front of one app and what
# the loaded middleware must hold. Options whose effect is behaviour, not an
# attribute, are driven through the loaded stack in the tests after the tables.
# Errors of every option are in BAD_INI_CASES (and EMPTY_VALUE_CASES above).

PAGE = b"<html><head></head><body><p>Hi</p></body></html>"
SESSION_KEY = "test-secret-key-0123456789abcdef"
OLD_SESSION_KEY = "old-secret-key-fedcba98765432100"


def wsgi_app_factory(global_conf: dict[str, str], app: str) -> WSGIApplication:
    """``use = call:test_paste:wsgi_app_factory`` with ``app = module:attr``."""
    return asimport(app)  # type: ignore[no-any-return]


def page_app_factory(global_conf: dict[str, str], **local_conf: str) -> WSGIApplication:
    return text_app(PAGE, content_type="text/html; charset=utf-8")


def paste_upper(body: bytes) -> bytes:
    return body.upper()


def serving(name: str = "e2e_auth_apps:whoami") -> str:
    """The ``[app:app]`` lines serving the WSGI app ``name``."""
    return f"call:test_paste:wsgi_app_factory\napp = {name}"


SESSION = f"use = egg:wsgikit#session\nsecret_key = {SESSION_KEY}\n"

INI_CASES = [
    pytest.param(
        """
        use = egg:wsgikit#compress
        min_size = 0
        level = 9
        encodings = zstd, gzip
        content_types = application/json text/*
        buffer_limit = 100
        flush_size = 4096
        flush_types = text/event-stream application/x-ndjson
        brotli_quality = 5
        zstd_level = 10
        backend = zlib
        """,
        Compress,
        {
            "backend": "zlib",
            "encodings": ("zstd", "gzip"),
            "min_size": 0,
            "level": 9,
            "zstd_level": 10,
            "brotli_quality": 5,
            "buffer_limit": 100,
            "flush_size": 4096,
            "content_types": ("application/json", "text/*"),
            "flush_types": ("text/event-stream", "application/x-ndjson"),
        },
        id="compress",
    ),
    pytest.param(
        """
        use = egg:wsgikit#json_errors
        format = simple
        debug = false
        negotiate = yes
        duck_typing = yes
        request_id_header = none
        exceptions = builtins:TimeoutError=504 builtins:PermissionError=410
        """,
        JSONErrors,
        {
            "format": "simple",
            "debug": False,
            "negotiate": True,
            "duck_typing": True,
            "request_id_header": None,
            "exceptions": {TimeoutError: 504, PermissionError: 410},
        },
        id="json_errors",
    ),
    pytest.param(
        """
        use = egg:wsgikit#rewrite
        rewrite = test_paste:paste_upper
        content_types = text/*
        statuses = 200, 404
        buffer_limit = none
        """,
        BodyRewriter,
        {"statuses": frozenset({200, 404}), "buffer_limit": None},
        id="rewrite",
    ),
    pytest.param(
        """
        use = egg:wsgikit#session
        secret_key = env:WSGIKIT_TEST_SESSION_KEY
        fallback_keys =
            env:WSGIKIT_TEST_OLD_KEY
            a literal, old key
        cookie_name = sid
        max_age = 1h
        secure = true
        httponly = false
        samesite = strict
        domain = example.com
        path = /app
        partitioned = true
        salt = my-salt
        digest = sha512
        flask_compatible = false
        refresh_each_request = yes
        """,
        SessionMiddleware,
        {
            "secret_key": SESSION_KEY,
            "fallback_keys": (OLD_SESSION_KEY, "a literal, old key"),
            "cookie_name": "sid",
            "max_age": 3600,
            "secure": True,
            "httponly": False,
            "samesite": "Strict",
            "domain": "example.com",
            "path": "/app",
            "partitioned": True,
            "salt": "my-salt",
            "digest": "sha512",
            "flask_compatible": False,
            "refresh_each_request": True,
        },
        id="session",
    ),
    pytest.param(
        SESSION + "max_age = none",
        SessionMiddleware,
        {"max_age": None, "cookie_name": "session", "salt": "wsgikit.session"},
        id="session defaults",
    ),
    pytest.param(
        SESSION + "fallback_keys = k1 k2, k3",
        SessionMiddleware,
        {"fallback_keys": ("k1 k2, k3",)},
        id="session: one line is one key",
    ),
    pytest.param(
        SESSION + "fallback_keys =\n  k1\n\n  k2 x\n",
        SessionMiddleware,
        {"fallback_keys": ("k1", "k2 x")},
        id="session: one key per line",
    ),
    pytest.param(
        SESSION + "fallback_keys =", SessionMiddleware, {"fallback_keys": ()}, id="session: no keys"
    ),
    pytest.param(
        SESSION + 'samesite = "None"\nsecure = true',
        SessionMiddleware,
        {"samesite": "None"},
        id="session: quoted samesite None",
    ),
    pytest.param(
        SESSION + "samesite = off",
        SessionMiddleware,
        {"samesite": None},
        id="session: samesite off, no attribute",
    ),
    pytest.param(
        SESSION + "domain = none", SessionMiddleware, {"domain": None}, id="session: domain unset"
    ),
    pytest.param(
        SESSION + "oversize = log\npermanent = false\ndetect_changes = on",
        SessionMiddleware,
        {"oversize": "log", "permanent": False, "detect_changes": True},
        id="session round two",
    ),
    pytest.param(
        SESSION + "store = none", SessionMiddleware, {"store": None}, id="session: no store"
    ),
    *(
        pytest.param(
            f"use = egg:wsgikit#proxy_fix\nforwarded = {text}\nx_host = {text}\nx_for = {text}",
            ProxyFix,
            dict.fromkeys(("forwarded", "x_host", "x_for"), hops),
            id=f"proxy_fix: hops {text!r} is {hops}",
        )
        for text, hops in [
            ("true", 1),
            ("Yes", 1),
            ("on", 1),
            ("false", 0),
            ("no", 0),
            ("OFF", 0),
            ("2", 2),
            ("0", 0),
        ]
    ),
    pytest.param("use = egg:wsgikit#auth", AuthParser, {}, id="auth"),
    pytest.param(
        """
        paste.filter_app_factory = wsgikit.paste:cors
        allow_origins =
            https://app.example.com
            http://localhost:8000
        allow_methods = GET, PUT
        allow_credentials = yes
        max_age = 1h
        allow_private_network = on
        """,
        CORS,
        {
            "allow_origins": ("https://app.example.com", "http://localhost:8000"),
            "allow_methods": ("GET", "PUT"),
            "allow_credentials": True,
            "allow_private_network": True,
            "max_age": 3600,
        },
        id="cors",
    ),
    pytest.param(
        """
        paste.filter_app_factory = wsgikit.paste:trusted_hosts
        hosts = example.com,
            *.example.com
        www_redirect = yes
        """,
        TrustedHosts,
        {"hosts": ("example.com", "*.example.com"), "www_redirect": True},
        id="trusted_hosts",
    ),
    pytest.param(
        """
        paste.filter_app_factory = wsgikit.paste:security_headers
        hsts = max-age=60
        frame_options = none
        csp = default-src 'self'
        content_type_options = off
        https_redirect = true
        """,
        SecurityHeaders,
        {
            "hsts": "max-age=60",
            "frame_options": None,
            "csp": "default-src 'self'",
            "content_type_options": False,
            "https_redirect": True,
        },
        id="security_headers",
    ),
]


@pytest.mark.parametrize(("lines", "cls", "expected"), INI_CASES)
def test_ini_options_reach_the_middleware(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    lines: str,
    cls: type,
    expected: dict[str, Any],
) -> None:
    monkeypatch.setenv("WSGIKIT_TEST_SESSION_KEY", SESSION_KEY)
    monkeypatch.setenv("WSGIKIT_TEST_OLD_KEY", OLD_SESSION_KEY)
    layer = load_layer(tmp_path, lines)
    assert isinstance(layer, cls)
    assert {name: getattr(layer, name) for name in expected} == expected


EXPLICIT = "paste.filter_app_factory = wsgikit.paste:"

BAD_INI_CASES = [
    pytest.param("use = egg:wsgikit#proxy_fix\nx_four = 1", "unknown option", id="proxy unknown"),
    pytest.param("use = egg:wsgikit#proxy_fix\nx_for = one", "whole number", id="proxy bad int"),
    pytest.param("use = egg:wsgikit#compress\nlevel = 42", "level", id="compress bad value"),
    pytest.param("use = egg:wsgikit#basic_auth\nusers = alice", "not name:hash", id="auth users"),
    pytest.param(
        "use = egg:wsgikit#basic_auth\nusers = bob:{SHA}a bob:{SHA}b",
        "user 'bob' is listed twice",
        id="auth users duplicate",
    ),
    pytest.param("use = egg:wsgikit#basic_auth\nuser = a:b", "unknown option", id="auth unknown"),
    pytest.param("use = egg:wsgikit#auth\nrealm = x", "unknown option", id="auth options"),
    pytest.param(
        "use = egg:wsgikit#bearer_auth\nverify = e2e_auth_apps:TOKENS",
        "not callable",
        id="auth verify not callable",
    ),
    *(
        pytest.param(
            f"use = egg:wsgikit#proxy_fix\nforwarded = {text}",
            "forwarded",
            id=f"proxy_fix: hops {text!r}",
        )
        for text in ["maybe", "1.5", "-1", "y"]
    ),
    pytest.param(EXPLICIT + "proxy_fix\nx_for = one", "x_for", id="proxy_fix x_for word"),
    pytest.param(EXPLICIT + "proxy_fix\ntrusted = 10.0.0.0/33", "trusted", id="proxy_fix trusted"),
    pytest.param(EXPLICIT + "proxy_fix\nbogus = 1", "bogus", id="proxy_fix unknown option"),
    pytest.param(EXPLICIT + "fake_forwarded_for\nreal_ip = nope", "real_ip", id="fake real_ip"),
    pytest.param(EXPLICIT + "fake_forwarded_for\noverride = maybe", "override", id="fake bool"),
    pytest.param(EXPLICIT + "compress\nlevle = 3", "unknown option", id="compress unknown"),
    pytest.param(EXPLICIT + "compress\nlevel = high", "level", id="compress not a number"),
    pytest.param(EXPLICIT + "compress\nlevel = 11", "level", id="compress out of range"),
    pytest.param(EXPLICIT + "compress\nencodings = deflate", "encodings", id="compress coding"),
    pytest.param(
        EXPLICIT + "compress\nbackend = isal", "level: backend 'isal'", id="compress isal at 6"
    ),
    pytest.param(EXPLICIT + "compress\nbackend = pigz", "backend", id="compress bad backend"),
    pytest.param(EXPLICIT + "json_errors\ncolour = red", "colour", id="json_errors unknown"),
    pytest.param(
        EXPLICIT + "rewrite\nrewrite = no_such_module:f", "rewrite", id="rewrite unimportable"
    ),
    pytest.param(
        EXPLICIT + "rewrite\nrewrite = test_paste:PAGE", "callable", id="rewrite not callable"
    ),
    pytest.param(
        EXPLICIT + "inject_html\nsnippet = x\ncolour = red", "colour", id="inject unknown"
    ),
    pytest.param(
        EXPLICIT + "inject_html\nsnippet = x\nbuffer_limit = lots",
        "buffer_limit",
        id="inject bad number",
    ),
    pytest.param(
        EXPLICIT + "json_errors\nformat = no_such_module:fmt", "cannot import", id="errors format"
    ),
    pytest.param(
        EXPLICIT + "json_errors\nformat = string:ascii_letters",
        r"option format: 'string:ascii_letters' is not callable",
        id="errors format not callable",
    ),
    pytest.param(
        EXPLICIT + "json_errors\nexceptions = builtins:TimeoutError",
        "module:Class=status",
        id="errors exceptions without =",
    ),
    pytest.param(
        EXPLICIT + "json_errors\nexceptions = builtins:TimeoutError=x",
        "whole number",
        id="errors exceptions bad status",
    ),
    pytest.param(EXPLICIT + "json_errors\ndebug = maybe", "boolean", id="errors bad bool"),
    pytest.param(EXPLICIT + "cors\norigins = *", "unknown option", id="cors unknown"),
    pytest.param(
        EXPLICIT + "trusted_hosts\nhosts = example.com\nallowed = x",
        "unknown option",
        id="trusted_hosts unknown",
    ),
    pytest.param(
        EXPLICIT + "security_headers\nx_frame_options = DENY",
        "unknown option",
        id="security_headers unknown",
    ),
    pytest.param(SESSION + "cookie = x", "unknown option", id="session unknown"),
    pytest.param(SESSION + "store = ", "store", id="session store empty"),
    pytest.param(SESSION + "store = postgres://:pw@db/0", "store", id="session store scheme"),
    pytest.param(SESSION + "oversize = huge", "oversize", id="session oversize"),
]


@pytest.mark.parametrize(("lines", "message"), BAD_INI_CASES)
def test_bad_ini_options_are_refused_naming_them(tmp_path: Path, lines: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as raised:
        load_layer(tmp_path, lines)
    assert "pw" not in str(raised.value)  # a URL's password is never repeated


# --- what the options do, through the loaded stack ----------------------------------


def test_ini_basic_auth_with_users_and_exempt(tmp_path: Path) -> None:
    app = webtest.TestApp(
        load_layer(
            tmp_path,
            "use = egg:wsgikit#basic_auth\nrealm = Back office\n"
            f"users =\n    alice:{USERS['alice']}\n    bob:{USERS['bob']}\n"
            "exempt = /health /static\ncache_ttl = 30\n",
            serving(),
        )
    )
    assert isinstance(app.app, BasicAuth)
    assert app.app.exempt == ("/health", "/static") and app.app.cache_ttl == 30.0
    response = app.get("/", headers={"Authorization": basic("bob", BOB_PASSWORD)})
    assert response.json["remote_user"] == "bob"
    assert app.get("/health").json["remote_user"] is None
    denied = app.get("/", status=401)
    assert denied.headers["WWW-Authenticate"] == 'Basic realm="Back office", charset="UTF-8"'


def test_ini_basic_auth_with_htpasswd_and_verify(tmp_path: Path) -> None:
    (tmp_path / "htpasswd").write_text(f"alice:{USERS['alice']}\n", encoding="utf-8")
    app = webtest.TestApp(
        load_layer(
            tmp_path,
            "use = egg:wsgikit#basic_auth\nhtpasswd = %(here)s/htpasswd\nreload_interval = none\n",
            serving(),
        )
    )
    assert app.app.reload_interval is None
    app.get("/", headers={"Authorization": basic("alice", ALICE_PASSWORD)}, status=200)
    app = webtest.TestApp(
        load_layer(
            tmp_path,
            "use = egg:wsgikit#basic_auth\nverify = e2e_auth_apps:verify_password\n",
            serving(),
        )
    )
    app.get("/", headers={"Authorization": basic("carol", "c4r0l")}, status=200)
    app.get("/", headers={"Authorization": basic("carol", "x")}, status=401)


def test_ini_bearer_auth(tmp_path: Path) -> None:
    app = webtest.TestApp(
        load_layer(
            tmp_path,
            "use = egg:wsgikit#bearer_auth\nverify = e2e_auth_apps:verify_token\n"
            "realm = tokens\ninvalid_token_errors = builtins:LookupError\n",
            serving(),
        )
    )
    assert app.app.invalid_token_errors == (LookupError,)
    assert app.get("/", headers={"Authorization": "Bearer good-token"}).json["principal"] == (
        "ci-bot"
    )
    assert app.get("/", status=401).headers["WWW-Authenticate"] == 'Bearer realm="tokens"'


def test_ini_compress_streams_past_its_buffer_limit(tmp_path: Path) -> None:
    from e2e_compress_apps import KNOWN

    app = load_layer(
        tmp_path,
        EXPLICIT + "compress\nmin_size = 0\nbuffer_limit = 100\n",
        "call:e2e_compress_apps:pages_factory",
    )
    _, headers, body = call(app, HTTP_ACCEPT_ENCODING="gzip", PATH_INFO="/known")
    assert header_value(headers, "content-length") is None  # longer than buffer_limit: streamed
    assert gzip.decompress(body) == KNOWN


def test_ini_json_errors_maps_a_named_exception(tmp_path: Path) -> None:
    app = load_layer(
        tmp_path,
        EXPLICIT + "json_errors\nformat = simple\nexceptions = builtins:TimeoutError=504\n",
        "call:test_paste:timeout_app_factory",
    )
    status, _, body = call(app)
    assert status == "504 Gateway Timeout"
    assert json.loads(body)["code"] == 504


def paste_formatter(
    status: int, title: str, detail: str, environ: WSGIEnvironment
) -> dict[str, Any]:
    return {"error": title}


def test_ini_json_errors_resolves_a_dotted_format(tmp_path: Path) -> None:
    app = load_layer(
        tmp_path,
        EXPLICIT + "json_errors\nformat = test_paste:paste_formatter\n",
        serving("helpers:raising_app"),
    )
    _, headers, body = call(app)
    assert problem(headers, body, "application/json") == {"error": "Internal Server Error"}


def test_ini_inject_html(tmp_path: Path) -> None:
    app = load_layer(
        tmp_path,
        EXPLICIT + "inject_html\n"
        'snippet = <script src="/reload.js"></script>\n'
        "marker = </BODY>\nbuffer_limit = 1000\n"
        "content_types = text/html application/xhtml+xml\n",
        "call:test_paste:page_app_factory",
    )
    response = testapp(app).get("/")
    assert response.body == PAGE.replace(b"</body>", b'<script src="/reload.js"></script></body>')


def test_ini_rewrite_with_a_dotted_function(tmp_path: Path) -> None:
    app = load_layer(
        tmp_path,
        EXPLICIT + "rewrite\nrewrite = test_paste:paste_upper\ncontent_types = text/*\n",
        "call:test_paste:page_app_factory",
    )
    assert testapp(app).get("/").body == PAGE.upper()


def test_ini_session_stores(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from wsgikit import MemoryStore, RedisStore

    monkeypatch.setenv("WSGIKIT_TEST_REDIS", "redis://:pw@127.0.0.1:1/0")
    app = load_layer(tmp_path, SESSION + "store = memory")
    assert isinstance(app.store, MemoryStore)
    app = load_layer(tmp_path, SESSION + "store = env:WSGIKIT_TEST_REDIS")
    assert isinstance(app.store, RedisStore)
    app.store.client.close()


def test_ini_fake_forwarded_for_in_front_of_proxy_fix(tmp_path: Path) -> None:
    app = load_layer(
        tmp_path,
        f"""
        {EXPLICIT}fake_forwarded_for
        real_ip = 2001:db8::7
        proxies = 10.0.0.5, 10.0.0.4
        proto = https
        host = shop.example
        port = 8443
        forwarded = true
        """,
        "call:e2e_proxy_apps:make_whoami",
        f"""
        {EXPLICIT}proxy_fix
        x_host = 1
        x_port = 1
        forwarded = 1
        trusted =
            10.0.0.0/8
            127.0.0.1
        clear_untrusted = yes
        """,
    )
    body = testapp(app).get("/", extra_environ={"REMOTE_ADDR": "127.0.0.1"}).json
    assert body["REMOTE_ADDR"] == "2001:db8::7"
    assert (body["wsgi.url_scheme"], body["HTTP_HOST"]) == ("https", "shop.example:8443")


# --- the app factory: http_proxy ------------------------------------------------------


def test_ini_http_proxy_app(raw_upstream: tuple[str, Path], tmp_path: Path) -> None:
    url, _ = raw_upstream
    ini = tmp_path / "proxy.ini"
    ini.write_text(
        "[app:main]\nuse = call:wsgikit.paste:http_proxy\n"
        f"upstream = {url}/api\ntimeout = 2.5\npool_size = 3\npreserve_host = yes\n"
        "rewrite_cookies = off\nverify = /etc/ssl/certs/ca.pem\n"
    )
    proxy = loadapp(f"config:{ini}")
    assert isinstance(proxy, HTTPProxy)
    assert (proxy.timeout, proxy.pool_size, proxy.preserve_host) == (2.5, 3, True)
    assert (proxy.rewrite_cookies, proxy.verify) == (False, "/etc/ssl/certs/ca.pem")
    seen = testapp(proxy).get("/echo", headers={"Host": "shop.example"}).json
    assert seen["target"] == "/api/echo"
    assert dict(seen["headers"])["Host"] == "shop.example"


@pytest.mark.parametrize(
    ("conf", "message"),
    [
        pytest.param({}, "upstream: is required", id="no upstream"),
        pytest.param({"upstream": "http://x", "retries": "3"}, "unknown option", id="unknown"),
        pytest.param({"upstream": "http://x", "timeout": "soon"}, "timeout", id="timeout"),
        pytest.param({"upstream": "http://x", "verify": "no"}, None, id="verify bool"),
    ],
)
def test_ini_http_proxy_options_are_converted_or_refused(
    conf: dict[str, str], message: str | None
) -> None:
    from wsgikit import paste

    if message is None:
        assert paste.http_proxy({}, **conf).verify is False  # type: ignore[attr-defined]
        return
    with pytest.raises(ValueError, match=message):
        paste.http_proxy({}, **conf)


def test_ini_http_proxy_pipeline_served_by_wsgikit_serve(
    serve: Any, raw_upstream: tuple[str, Path], tmp_path: Path
) -> None:
    """FakeForwardedFor and JSONErrors (entry points) in front of the app factory."""
    url, _ = raw_upstream
    ini = tmp_path / "proxy.ini"
    ini.write_text(
        "[pipeline:main]\npipeline = fake errors proxy\n"
        "[filter:fake]\nuse = egg:wsgikit#fake_forwarded_for\nreal_ip = 203.0.113.5\n"
        "[filter:errors]\nuse = egg:wsgikit#json_errors\n"
        f"[app:proxy]\nuse = call:wsgikit.paste:http_proxy\nupstream = {url}\n"
        f"[app:down]\nuse = call:wsgikit.paste:http_proxy\nupstream = http://127.0.0.1:{free_port()}\n"
        "[pipeline:broken]\npipeline = errors down\n"
    )
    server = serve(str(ini))
    seen = json.loads(server.get("/echo").read())
    assert dict(seen["headers"])["X-Forwarded-For"].startswith("203.0.113.5, ")
    broken = serve(f"{ini}#broken").get("/")
    assert (broken.status, broken.headers["Content-Type"]) == (502, "application/problem+json")
