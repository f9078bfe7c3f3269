"""Sphinx configuration for the wsgikit documentation site.

Build (from the repository root, after ``pip install -e '.[docs]'``)::

    sphinx-build -W --keep-going -n -b html docs docs/_build/html
"""

from __future__ import annotations

import sys
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# This checkout's wsgikit, not whichever one happens to be installed.
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent / "_ext"))

project = "wsgikit"
author = "wsgikit contributors"
copyright = "wsgikit contributors"
try:
    release = metadata.version("wsgikit")
except metadata.PackageNotFoundError:  # building from a checkout that is not installed
    release = "dev"
version = release

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "paste_reference",
    "stack_order",
    "wsgikit_refs",
]
source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
myst_enable_extensions = ["colon_fence", "deflist"]
# Markdown headings get anchors, so [text](page.md#heading) is checked by the build.
myst_heading_anchors = 3
exclude_patterns = ["_build"]
# Code blocks in Markdown without a language are shell sessions or plain text.
highlight_language = "text"

html_theme = "furo"
html_title = f"wsgikit {release}"
html_static_path: list[str] = []

# The reference is the docstrings; signatures show names, the docstrings the types.
autodoc_typehints = "none"
autodoc_member_order = "bysource"
autodoc_default_options = {"members": False}
# -n (nitpicky): every cross-reference must resolve (tests/test_docs.py also follows every
# link between the built pages). Names that live outside
# this site are listed here, since the build has no network (no intersphinx).
nitpick_ignore_regex = [
    ("py:.*", r"(wsgiref|typing|collections|werkzeug|itsdangerous|redis|urllib3|logging)\..*"),
    ("py:.*", r"(str|bytes|int|float|bool|dict|list|tuple|None|object|Exception)"),
    ("py:mod", r"(secrets|hashlib|zlib|logging)"),
]
