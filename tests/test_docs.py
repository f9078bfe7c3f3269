"""The documentation site: it builds with warnings as errors, and the pages
generated from the code say what the code does.

The site is built once per test session, exactly as CI builds it
(``sphinx-build -W --keep-going -n``: every warning, broken cross-reference,
missing document or anchor fails), in a subprocess so Sphinx's global state
stays out of this process; the tests then read the HTML a reader gets.
"""

from __future__ import annotations

import configparser
import inspect
import os
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

import wsgikit
from wsgikit._compose import ORDER_RULES
from wsgikit.paste import FACTORIES, HTTP_PROXY_OPTIONS, spelling

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("docs-html")
    env = dict(os.environ)
    # This checkout's wsgikit, also for autodoc in the subprocess.
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    command = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-n", "-q"]
    command += ["-b", "html", "-d", str(out / ".doctrees"), str(DOCS), str(out)]
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"sphinx-build failed:\n{result.stdout}\n{result.stderr}"
    return out


class _Links(HTMLParser):
    """``href`` targets and ``id`` anchors of an HTML page."""

    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if found.get("id"):
            self.ids.add(str(found["id"]))
        if tag == "a" and found.get("href"):
            self.hrefs.append(str(found["href"]))


class _Tables(HTMLParser):
    """Table rows of an HTML page, by the id of the innermost enclosing section."""

    def __init__(self) -> None:
        super().__init__()
        self.sections: list[str] = []
        self.rows: dict[str, list[list[str]]] = {}
        self._row: list[str] | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "section":
            self.sections.append(dict(attrs).get("id") or "")
        elif tag == "tr":
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "section":
            self.sections.pop()
        elif tag in ("td", "th") and self._row is not None and self._cell is not None:
            self._row.append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.rows.setdefault(self.sections[-1], []).append(self._row)
            self._row = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def tables(page: Path) -> dict[str, list[list[str]]]:
    parser = _Tables()
    parser.feed(page.read_text(encoding="utf-8"))
    return parser.rows


def plain(rst: str) -> str:
    """What a reader sees of a one-line reST text: ``literal`` marks dropped,
    a :func:`name` shown as name()."""
    text = re.sub(r":func:`~?([\w.]+)`", r"\1()", rst)
    text = re.sub(r":\w+:`~?([\w.]+)`", r"\1", text)
    return re.sub(r"``(.+?)``", r"\1", text)


def test_docs_build_with_warnings_as_errors(site: Path) -> None:
    assert (site / "index.html").is_file()
    assert (site / "paste.html").is_file()


def test_links_inside_the_site_reach_a_page_and_anchor(site: Path) -> None:
    """Every link from one built page to another (or within one) lands on an
    existing page and, when it names one, an existing anchor."""
    pages = {}
    for page in site.rglob("*.html"):
        parser = _Links()
        parser.feed(page.read_text(encoding="utf-8"))
        pages[page.resolve()] = parser
    checked = 0
    for page, parser in pages.items():
        for href in parser.hrefs:
            if re.match(r"[a-z][a-z0-9+.-]*:", href):  # http:, mailto: ...: not ours
                continue
            path, _, anchor = href.partition("#")
            target = (page.parent / path).resolve() if path else page
            if target.is_dir():
                target = target / "index.html"
            if target.suffix != ".html":  # a page's source, a stylesheet ...
                assert target.is_file(), f"{page.name}: broken link {href}"
                continue
            assert target in pages, f"{page.name}: broken link {href}"
            assert not anchor or anchor in pages[target].ids, f"{page.name}: no anchor {href}"
            checked += 1
    assert checked > 500


def test_paste_reference_lists_every_option_of_every_factory(site: Path) -> None:
    """Generated from ``FACTORIES``: one section per filter, one row per option
    with its INI spelling and default, in the table's order."""
    rows = tables(site / "paste.html")
    for name, factory in FACTORIES.items():
        section = f"filter-{name.replace('_', '-')}"
        assert section in rows or not factory.options, f"no options table for {name}"
        shown = rows.get(section, [])[1:]  # the first row is the header
        assert [row[0] for row in shown] == list(factory.options), name
        for (option, spelled, default), row in zip(factory.reference(), shown, strict=True):
            assert row[1] == plain(spelled), (name, option)
            assert row[2] == ("required" if default == "required" else default), (name, option)
    html = (site / "paste.html").read_text(encoding="utf-8")
    filters = set(re.findall(r'<section id="filter-([a-z-]+)">', html))
    assert filters == {name.replace("_", "-") for name in FACTORIES}


def test_reference_spellings_are_whole_sentences() -> None:
    """A spelling that wraps in its converter's docstring is not cut after the
    first line (``trusted`` lost the end of its sentence)."""
    for name, factory in FACTORIES.items():
        for option, spelled, _ in factory.reference():
            assert spelled.endswith("."), (name, option, spelled)
    assert spelling(FACTORIES["proxy_fix"].options["trusted"]).endswith("to count hops.")


def test_stack_order_page_shows_every_pair_rule(site: Path) -> None:
    rows = tables(site / "stack-order.html")
    shown = {(row[0], row[1]) for rows_ in rows.values() for row in rows_[1:]}
    expected = {
        (rule.outer, rule.inner)
        for rule in ORDER_RULES
        if rule.outer not in ("RequestID", "AccessLog")  # said once in prose
    }
    assert shown == expected


@pytest.mark.parametrize("name", wsgikit.__all__)
def test_every_public_name_is_documented_under_its_canonical_name(site: Path, name: str) -> None:
    anchor = f'id="wsgikit.{name}"'
    pages = [*site.glob("*.html"), *site.glob("middlewares/*.html")]
    assert any(anchor in page.read_text(encoding="utf-8") for page in pages), name
    assert inspect.getdoc(getattr(wsgikit, name))


def _blocks(language: str) -> list[tuple[str, str]]:
    """``(page, code)`` of every fenced code block in that language on the site's pages."""
    found = []
    for page in sorted(DOCS.rglob("*.md")):
        text = page.read_text(encoding="utf-8")
        for code in re.findall(rf"^```{language}\n(.*?)^```", text, re.MULTILINE | re.DOTALL):
            found.append((str(page.relative_to(DOCS)), code))
    return found


def test_python_examples_compile() -> None:
    blocks = _blocks("python")
    assert len(blocks) > 10
    for page, code in blocks:
        compile(code, page, "exec")


def test_ini_examples_use_real_filters_and_options() -> None:
    """Every ``use = egg:wsgikit#NAME`` section in the docs names a filter of
    the factory table, and every other key in it is one of its options."""
    checked = 0
    for page, code in _blocks("ini"):
        config = configparser.RawConfigParser(strict=True)
        config.optionxform = str  # type: ignore[method-assign]  # keep option case
        config.read_string(code, source=page)
        for section in config.sections():
            use = config.get(section, "use", fallback="")
            if not use.startswith("egg:wsgikit#"):
                continue
            name = use.removeprefix("egg:wsgikit#")
            # http_proxy is the one app factory (paste.app_factory): not a filter.
            options = HTTP_PROXY_OPTIONS if name == "http_proxy" else FACTORIES[name].options
            unknown = set(config.options(section)) - {"use"} - set(options)
            assert not unknown, (page, section, unknown)
            checked += 1
    assert checked > 15


def test_files_the_docs_name_exist() -> None:
    checked = 0
    for page in DOCS.rglob("*.md"):
        text = page.read_text(encoding="utf-8")
        for path in re.findall(r"`((?:examples|bench|tests)/[\w./-]*\w/?)`", text):
            assert (ROOT / path).exists(), (page.name, path)
            checked += 1
    assert checked > 10
