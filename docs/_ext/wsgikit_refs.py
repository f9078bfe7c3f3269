"""Resolve the short cross-references the docstrings use.

The docstrings are written to read well in the source, where ``MAX_LENGTH``
or ``Session.new`` is next to them; on the site every public object is
documented under its canonical ``wsgikit.<Name>``. A Python reference that
Sphinx could not resolve is retried here, once, against the documented
objects: first the current class plus the name (``modified`` inside
``Session``), then any object whose dotted name ends with the target
(``DEFAULT_CONTENT_TYPES`` -> ``wsgikit.compress.DEFAULT_CONTENT_TYPES``).
Only a unique match resolves, so an ambiguous or truly missing target still
fails the nitpicky build.
"""

from __future__ import annotations

from typing import Any

from docutils import nodes
from sphinx.addnodes import pending_xref
from sphinx.application import Sphinx
from sphinx.environment import BuildEnvironment


def _unique_suffix(objects: Any, suffix: str) -> str | None:
    found = [name for name in objects if name == suffix or name.endswith("." + suffix)]
    if len(found) > 1:
        # A re-exported class is also known under its private module's name
        # (``wsgikit._flask_json.TaggedJSON``): the public name wins.
        found = [name for name in found if "._" not in name]
    return found[0] if len(found) == 1 else None


def resolve(
    app: Sphinx, env: BuildEnvironment, node: pending_xref, contnode: nodes.TextElement
) -> nodes.Element | None:
    if node.get("refdomain") != "py":
        return None
    domain = env.get_domain("py")
    target = node["reftarget"].lstrip(".~")
    # wsgikit.<module>.<Name> of a re-exported name -> wsgikit.<Name>
    candidates = []
    parts = target.split(".")
    if parts[0] == "wsgikit" and len(parts) >= 3:
        candidates.append("wsgikit." + ".".join(parts[2:]))
    if node.get("py:class"):
        candidates.append(f"{node['py:class']}.{target}")
    candidates.append(target)
    for candidate in candidates:
        name = _unique_suffix(domain.objects, candidate)
        if name is not None:
            return domain.resolve_xref(
                env, node["refdoc"], app.builder, node["reftype"], name, node, contnode
            )
    return None


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("missing-reference", resolve)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
