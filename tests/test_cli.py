"""``wsgikit serve``: targets, errors, and a real waitress on 127.0.0.1."""

from __future__ import annotations

import importlib.metadata
import re
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from e2e_core_apps import MINIMAL
from helpers import ROOT, TESTS_DIR, free_port

import wsgikit
from wsgikit import cli
from wsgikit.paste import FACTORIES


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "wsgikit", *args],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=str(TESTS_DIR),
        env={"PYTHONPATH": f"{TESTS_DIR}:{ROOT}", "PATH": "/usr/bin:/bin"},
    )


def one_line_error(*args: str) -> str:
    """The one stderr line of a ``wsgikit`` call that fails with status 2."""
    result = run_cli(*args)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_demo_answers_over_http(serve: Any) -> None:
    server = serve(None)
    response = server.get("/")
    assert response.status == 200
    assert b"wsgikit demo" in response.read()
    whoami = server.get("/whoami")
    assert whoami.status == 200
    assert b'"remote_addr"' in whoami.read()


def test_serve_prints_the_url_and_curl_lines(serve: Any) -> None:
    server = serve(None)
    # A served request means the server is past its banner (the port accepts
    # connections a moment before the banner is printed).
    assert server.get("/").status == 200
    output = server.stop()
    assert f"http://127.0.0.1:{server.port}" in output
    assert f"curl -i http://127.0.0.1:{server.port}/" in output


@pytest.mark.parametrize(
    "target",
    [
        pytest.param("e2e_core_apps:hello", id="module:attr"),
        pytest.param("e2e_core_apps:make_hello()", id="factory call"),
    ],
)
def test_module_attr_target(serve: Any, target: str) -> None:
    response = serve(target).get("/there")
    assert response.read() == b"hello from /there"


def test_ini_target(serve: Any, tmp_path: Path) -> None:
    ini = tmp_path / "site.ini"
    ini.write_text(
        "[app:main]\nuse = call:e2e_core_apps:paste_app_factory\ngreeting = hello from ini\n"
    )
    response = serve(str(ini)).get("/")
    assert response.read() == b"hello from ini"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(
            ["serve", "no_such_module:app"], "cannot import 'no_such_module'", id="module"
        ),
        pytest.param(["serve", "e2e_core_apps:nope"], "has no attribute 'nope'", id="attribute"),
        pytest.param(["serve", "e2e_core_apps:not_an_app"], "not a WSGI application", id="not app"),
        pytest.param(["serve", "justaname"], "neither module:attr nor an .ini file", id="shape"),
        pytest.param(["serve", "missing.ini"], "no such file: missing.ini", id="ini missing"),
        pytest.param(
            ["serve", "e2e_broken_module:app"],
            "importing 'e2e_broken_module' failed: ZeroDivisionError",
            id="module raises",
        ),
        pytest.param(
            ["serve", "e2e_core_apps:failing_factory()"],
            "failed: KeyError",
            id="factory raises",
        ),
        pytest.param(
            ["serve", "e2e_core_apps:hello", "--with", "sessionz"], "unknown filter", id="filter"
        ),
        # --with FILTER:option=value,... (#8): the errors of the same options in an INI file.
        *(
            pytest.param(
                ["serve", "e2e_core_apps:hello", "--with", spec],
                f"--with {spec.partition(':')[0]}: {message}",
                id=f"--with {spec}",
            )
            for spec, message in {
                "proxy_fix:x_for": "'x_for' is not option=value",
                "proxy_fix:=1": "'=1' is not option=value",
                "proxy_fix:x_for=one": "option x_for: not a whole number: 'one'",
                "proxy_fix:x_four=1": "unknown option(s) x_four",
                "inject_html": "option snippet: is required",
                "compress:level=42": "option level:",
            }.items()
        ),
    ],
)
def test_bad_targets_give_one_line_errors(args: list[str], message: str) -> None:
    line = one_line_error(*args)
    assert line.startswith("wsgikit serve: error: ")
    if message.startswith("--with "):
        # The failing --with filter is named first, then the option's error.
        assert line.startswith(f"wsgikit serve: error: {message}")
    assert message in line


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("--port", "99999"),
        ("--port", "-1"),
        ("--port", "http"),
        ("--threads", "0"),
        ("--threads", "many"),
    ],
)
def test_bad_port_or_threads_is_a_usage_error(option: str, value: str) -> None:
    result = run_cli("serve", "e2e_core_apps:hello", option, value)
    assert result.returncode == 2
    assert f"argument {option}" in result.stderr


def test_busy_port_gives_a_one_line_error() -> None:
    port = free_port()
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", port))
        blocker.listen()
        result = run_cli("serve", "e2e_core_apps:hello", "--port", str(port))
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"wsgikit serve: error: cannot listen on 127.0.0.1:{port}: Address already in use"
    )


def test_no_command_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main([]) == 2
    assert "serve" in capsys.readouterr().out


def test_with_wraps_the_target_in_filters(serve: Any) -> None:
    server = serve(
        "e2e_core_apps:hello", extra_args=["--with", "json_errors", "--with", "compress"]
    )
    response = server.get("/")
    assert response.headers["Vary"] == "Accept-Encoding"  # Compress is in the stack
    assert response.read() == b"hello from /"


def test_serve_example_pipeline(serve: Any) -> None:
    server = serve(str(ROOT / "examples" / "pipeline.ini"))
    response = server.get("/items/99")
    assert response.status == 404
    assert response.headers["Content-Type"] == "application/problem+json"


def test_with_offers_every_filter_of_the_factory_table() -> None:
    result = run_cli("serve", "e2e_core_apps:hello", "--with", "no_such_filter")
    offered = result.stderr.split("choose from ", 1)[1].rstrip(")\n").split(", ")
    assert offered == list(FACTORIES)


# --- broken INI files: one line naming file, section and option (#8) -------------------

PIPE = (
    "[pipeline:main]\npipeline = layer app\n[app:app]\nuse = call:e2e_core_apps:paste_app_factory\n"
)


@pytest.mark.parametrize(
    ("ini", "where"),
    [
        pytest.param(
            "[app:main]\nuse = call:e2e_core_apps:failing_paste_factory\n",
            "[app:main]: RuntimeError: database URL is not set",
            id="factory raises",
        ),
        pytest.param(
            PIPE + "[filter:layer]\nuse = egg:wsgikit#session\n",
            "[filter:layer] option secret_key: is required",
            id="missing required option",
        ),
        pytest.param(
            PIPE + "[filter:layer]\nuse = egg:wsgikit#proxy_fix\nx_for = one\n",
            "[filter:layer] option x_for: not a whole number: 'one'",
            id="wrong type",
        ),
        pytest.param(
            PIPE + "[filter:layer]\nuse = egg:wsgikit#compress\nlevel = 42\n",
            "[filter:layer] option level:",
            id="constructor refuses",
        ),
        pytest.param(
            PIPE + "[filter:layer]\nuse = egg:wsgikit#compress\nlevle = 4\n",
            "[filter:layer] unknown option(s) levle",
            id="unknown option",
        ),
        pytest.param(
            "[app:main]\nuse = call:e2e_core_apps:hello\nthis line has no equals sign\n",
            "line 3: cannot parse 'this line has no equals sign'",
            id="malformed",
        ),
        pytest.param(
            "use = call:e2e_core_apps:hello\n[app:main]\n",
            "line 1: 'use = call:e2e_core_apps:hello' comes before any [section]",
            id="no section header",
        ),
        pytest.param(
            "[app:main]\nuse = call:e2e_core_apps:hello\n[app:main]\nuse = x\n",
            "line 3: section [app:main] appears twice",
            id="duplicate section",
        ),
        pytest.param(
            "[app:main]\nuse = call:e2e_core_apps:hello\nuse = x\n",
            "[app:main] option use: given twice (line 3)",
            id="duplicate option",
        ),
        pytest.param(
            PIPE + "[filter:layer]\nuse = egg:wsgikit#session\nsecret_key = %(nope)s\n",
            "[filter:layer] option secret_key: bad interpolation",
            id="bad interpolation",
        ),
        pytest.param(
            "[pipeline:main]\npipeline = nowhere app\n" + PIPE.split("\n", 2)[2],
            "[pipeline:main]: no section 'nowhere'",
            id="missing filter section",
        ),
    ],
)
def test_broken_ini_gives_one_line_naming_file_section_option(
    tmp_path: Path, ini: str, where: str
) -> None:
    path = tmp_path / "site.ini"
    path.write_text(ini)
    line = one_line_error("serve", str(path))
    assert line.startswith(f"wsgikit serve: error: {path} ")
    assert where in line


# --- --with FILTER:option=value,... (#8) -------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "options"),
    [
        pytest.param("proxy_fix", {}, id="no options"),
        pytest.param("proxy_fix:x_for=1,x_proto=0", {"x_for": "1", "x_proto": "0"}, id="two"),
        pytest.param(
            "proxy_fix:trusted=10.0.0.0/8,192.168.0.0/16,x_for=2",
            {"trusted": "10.0.0.0/8,192.168.0.0/16", "x_for": "2"},
            id="a list value keeps its commas",
        ),
        pytest.param("inject_html:snippet=<p a=b>", {"snippet": "<p a=b>"}, id="= in a value"),
        pytest.param("json_errors: debug = yes ", {"debug": "yes"}, id="spaces"),
    ],
)
def test_with_spec_is_split_into_ini_strings(spec: str, options: dict[str, str]) -> None:
    assert cli.parse_with(spec) == (spec.partition(":")[0], options)


def test_with_options_configure_the_filters(serve: Any) -> None:
    """fake_forwarded_for + proxy_fix + inject_html, all configured from the command line."""
    server = serve(
        "e2e_core_apps:whoami",
        extra_args=[
            "--with", "fake_forwarded_for:real_ip=203.0.113.7,proxies=127.0.0.1,proto=https",
            "--with", "proxy_fix:x_for=2,x_proto=1",
            "--with", "inject_html:snippet=<!-- injected -->",
        ],
    )  # fmt: skip
    body = server.get("/").read()
    assert body == b"<html><body>203.0.113.7 https<!-- injected --></body></html>"


# --- wsgikit check, and the order check in wsgikit serve (#10) ---------------------------

WRONG = "InjectHTML wraps Compress: InjectHTML will only ever see compressed bodies"


def test_check_prints_the_stack_outermost_first_with_options() -> None:
    result = run_cli("check", str(ROOT / "examples" / "pipeline.ini"))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].endswith("pipeline.ini: 3 layer(s), outermost first")
    assert lines[1].startswith("  1. ProxyFix(x_for=1, x_proto=1, x_host=1, x_port=0")
    assert "clear_untrusted=True" in lines[1]
    assert lines[2].startswith("  2. JSONErrors(format='problem'")
    assert lines[3].startswith("  3. Compress(min_size=512,")
    assert lines[4] == "  app: bottle.Bottle"
    assert lines[5:] == ["stack order: no known problem"]


def test_check_the_demo_is_clean() -> None:
    result = run_cli("check", "wsgikit.demo:demo_stack()")
    assert result.returncode == 0, result.stderr
    assert "stack order: no known problem" in result.stdout
    assert "1. ProxyFix(" in result.stdout


@pytest.mark.parametrize(
    ("args", "status", "prefix"),
    [
        pytest.param([], 0, "warning", id="warnings alone: 0"),
        pytest.param(["--strict"], 1, "error", id="--strict: 1"),
    ],
)
def test_check_reports_a_wrong_order(args: list[str], status: int, prefix: str) -> None:
    result = run_cli("check", "e2e_core_apps:wrong_stack()", *args)
    assert result.returncode == status, result.stderr
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    assert lines[1].startswith("  1. InjectHTML(snippet='<!-- injected -->'")
    assert lines[2].startswith("  2. Compress(")
    assert lines[3] == "  app: e2e_core_apps.whoami"
    assert lines[4].startswith(f"{prefix}: {WRONG}")
    assert len(lines) == 5


def test_check_with_filters_and_a_wrong_ini_pipeline(tmp_path: Path) -> None:
    ini = tmp_path / "site.ini"
    ini.write_text(
        "[pipeline:main]\npipeline = inject compress app\n"
        "[filter:inject]\nuse = egg:wsgikit#inject_html\nsnippet = <hr>\n"
        "[filter:compress]\nuse = egg:wsgikit#compress\n"
        "[app:app]\nuse = call:e2e_core_apps:paste_app_factory\n"
    )
    result = run_cli(
        "check",
        str(ini),
        "--with",
        "basic_auth:users=a:{SHA}GpHWL3ymc5liWkNopqtdSjuqYHM=",
        "--strict",
    )
    assert result.returncode == 1
    assert "  1. BasicAuth(users=<1 hidden>, verify=None" in result.stdout
    errors = [line for line in result.stdout.splitlines() if line.startswith("error: ")]
    assert errors == [f"error: {WRONG} and will not inject (put Compress outside InjectHTML)"]


def test_check_hides_secrets() -> None:
    result = run_cli("check", "e2e_core_apps:hello", "--with", "session:secret_key=" + "s" * 40)
    assert result.returncode == 0
    assert "secret_key=<hidden>" in result.stdout
    assert "s" * 40 not in result.stdout


def test_check_a_broken_target_is_one_line_and_status_2(tmp_path: Path) -> None:
    ini = tmp_path / "site.ini"
    ini.write_text(PIPE + "[filter:layer]\nuse = egg:wsgikit#session\n")
    result = run_cli("check", str(ini))
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"wsgikit check: error: {ini} [filter:layer] option secret_key: is required"
    )


def test_serve_warns_about_a_wrong_order_and_still_serves(serve: Any) -> None:
    server = serve("e2e_core_apps:wrong_stack()")
    assert server.get("/", {"Accept-Encoding": "gzip"}).status == 200
    output = server.stop()
    assert f"wsgikit serve: warning: {WRONG}" in output


# --- one version (#10) ----------------------------------------------------------------


def setup_py_version() -> str:
    match = re.search(r'^\s*version="([^"]+)"', (ROOT / "setup.py").read_text(), re.MULTILINE)
    assert match, "setup.py has no version"
    return match.group(1)


def test_version_comes_from_setup_py() -> None:
    assert wsgikit.__version__ == importlib.metadata.version("wsgikit") == setup_py_version()
    result = run_cli("--version")
    assert result.returncode == 0
    assert result.stdout == f"wsgikit {setup_py_version()}\n"


@pytest.mark.parametrize(
    ("name", "option"),
    [
        pytest.param(name, option, id=f"{name}.{option}")
        for name in sorted(FACTORIES)
        for option in sorted(FACTORIES[name].options)
    ],
)
def test_every_ini_option_error_names_file_section_and_option(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, option: str
) -> None:
    """The factory-table walk of test_paste, through a real INI file: whatever
    an option refuses is reported with the file, the section and the option."""
    monkeypatch.setattr(sys, "path", list(sys.path))  # load_target adds the INI's folder
    for value in ("maybe", "-1", "1h garbage", "no_such_module:thing"):
        options = {**MINIMAL.get(name, {}), option: value}
        ini = tmp_path / f"{name}.ini"
        ini.write_text(
            PIPE
            + f"[filter:layer]\nuse = egg:wsgikit#{name}\n"
            + "".join(f"{key} = {text}\n" for key, text in options.items())
        )
        try:
            cli.load_target(str(ini))
        except cli.CLIError as error:
            assert str(error).startswith(f"{ini} [filter:layer] ")
            assert re.search(rf"\b{option}\b", str(error)), str(error)
            assert "\n" not in str(error)


# --- review fixes -------------------------------------------------------------------

TWO_STACKS = """
from functools import partial
from wsgikit import Compress, InjectHTML, compose
from e2e_core_apps import whoami as app

right = compose(app, Compress, partial(InjectHTML, snippet="<hr>"))
wrong = compose(app, partial(InjectHTML, snippet="<hr>"), Compress)

def make_wrong():
    return compose(app, partial(InjectHTML, snippet="<hr>"), Compress)
"""


@pytest.mark.parametrize(
    ("target", "status"),
    [
        pytest.param("two_stacks:right", 0, id="clean beside a wrong one: 0"),
        pytest.param("two_stacks:wrong", 1, id="the wrong one: 1"),
        pytest.param("two_stacks:make_wrong()", 1, id="built by a factory: 1"),
    ],
)
def test_check_reports_only_the_targets_own_stack(tmp_path: Path, target: str, status: int) -> None:
    """Warnings raised while the module is imported are about whichever stack
    the module built; only the target's own problems count."""
    (tmp_path / "two_stacks.py").write_text(TWO_STACKS)
    result = subprocess.run(
        [sys.executable, "-m", "wsgikit", "check", "--strict", target],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=str(tmp_path),
        env={"PYTHONPATH": f"{tmp_path}:{TESTS_DIR}:{ROOT}", "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == status, result.stdout + result.stderr
    errors = [line for line in result.stdout.splitlines() if line.startswith("error: ")]
    assert len(errors) == status
    assert ("stack order: no known problem" in result.stdout) == (status == 0)
    assert result.stderr == ""
