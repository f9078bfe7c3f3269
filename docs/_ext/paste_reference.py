"""The ``paste-reference`` directive: PasteDeploy option tables from the factory table.

``wsgikit.paste.FACTORIES`` is the one list of filters; each
:class:`wsgikit.paste.Factory` knows its middleware and, through
``reference()``, every option's INI spelling and default. This directive turns
that into one section per filter (anchor ``filter-<name>``) holding a table,
so the reference page can never miss an option: a new factory or option
appears on the next build, and ``tests/test_docs.py`` checks the built page.

.. code-block:: rst

    .. paste-reference::
"""

from __future__ import annotations

from typing import Any

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.util.docutils import SphinxDirective


def filter_rst(name: str, factory: Any) -> list[str]:
    """The body of one filter's section, as reStructuredText lines."""
    middleware = factory.middleware
    # Every middleware is documented under its canonical wsgikit.<Name>.
    lines = [
        f"``use = egg:wsgikit#{name}`` builds :class:`wsgikit.{middleware.__name__}`.",
        "",
    ]
    rows = factory.reference()
    if not rows:
        lines.append("This filter takes no options.")
        return lines
    lines += [
        ".. list-table::",
        "   :header-rows: 1",
        "   :widths: 20 50 30",
        "   :class: paste-options",
        "",
        "   * - option",
        "     - INI spelling",
        "     - default",
    ]
    for option, spelling, default in rows:
        shown = "*required*" if default == "required" else f"``{default}``"
        lines += [f"   * - ``{option}``", f"     - {spelling}", f"     - {shown}"]
    return lines


class PasteReference(SphinxDirective):
    """One section per filter of ``wsgikit.paste.FACTORIES``, in table order."""

    has_content = False

    def run(self) -> list[nodes.Node]:
        from wsgikit.paste import FACTORIES

        # A change to the table (or a converter's docstring) must rebuild the page.
        self.env.note_dependency(__import__("wsgikit.paste").paste.__file__)
        sections: list[nodes.Node] = []
        for name, factory in FACTORIES.items():
            section = nodes.section(ids=[f"filter-{name.replace('_', '-')}"], names=[name])
            section += nodes.title(name, "", nodes.literal(name, name))
            content = StringList(filter_rst(name, factory), source=f"wsgikit.paste:{name}")
            self.state.nested_parse(content, self.content_offset, section)
            self.state.document.note_explicit_target(section)
            sections.append(section)
        return sections


def setup(app: Any) -> dict[str, Any]:
    app.add_directive("paste-reference", PasteReference)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
