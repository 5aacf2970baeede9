"""Issue 15's PromQL editor (the sysmon-magic-promql labextension) in a real JupyterLab.

A notebook with the review's own 5xx query in a ``%%promql`` cell, a cell with a syntax error and
a Python cell: the query is highlighted by codemirror-promql's grammar (a function, an aggregation,
a modifier, a duration as one token, a label matcher; the magic line's options as options), the
syntax error is underlined with its message on hover, the Python cell keeps IPython's
highlighting, a cell switches as soon as it gains or loses ``%%promql`` (all of it in JupyterLab
and in Notebook 7), and Tab still completes from the kernel. Screenshots go to
``test-artifacts/browser/``.
"""

from __future__ import annotations

import json
import re
import shutil
from typing import TYPE_CHECKING

import pytest

from . import conftest as helpers

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page

expect, pytestmark = helpers.browser_module()  # no Playwright: skipped (in CI: failed)

EDITOR_TIMEOUT_MS = 60_000

NOTEBOOK = "promql_cells.ipynb"
QUERY = (
    "%%promql --range 24h --plot\n"
    "# 5xx share per host\n"
    'sum by (instance) (rate(http_requests_total{code=~"5..", job!="x"}[5m]))\n'
    "  / ignoring(code) group_left\n"
    "sum by (instance) (rate(http_requests_total[5m]))"
)
# A missing comma between two label matchers: a syntax error in the middle of the query.
BROKEN = '%%promql --range 1h\nsum(rate(node_cpu_seconds_total{mode="user" cpu="0"}[5m]))'
PYTHON = "import math\n\ndef total(values):\n    return sum(values) + math.pi  # range"
CELLS = ["%load_ext sysmon_magic", "%sysmon_connect demo", QUERY, BROKEN, PYTHON]


def _write_notebook(lab: helpers.JupyterLab, *, language_info: bool = True) -> None:
    helpers.write_notebook(
        lab.root_dir / NOTEBOOK, CELLS, helpers.IPYTHON if language_info else None
    )


def _editor(page: Page, index: int) -> Locator:
    return page.locator(".jp-Notebook .jp-Cell").nth(index).locator(".cm-content")


def _token(editor: Locator, cls: str, text: str) -> Locator:
    """The one span of class ``cls`` that reads exactly ``text`` in the editor."""
    token = editor.locator(f"span.{cls}", has_text=re.compile(rf"^{re.escape(text)}$")).first
    expect(token, f"no {cls} {text!r} in the cell").to_be_visible(timeout=EDITOR_TIMEOUT_MS)
    return token


def _color(locator: Locator) -> str:
    return str(locator.evaluate("(element) => getComputedStyle(element).color"))


def _url(lab: helpers.JupyterLab, frontend: str) -> str:
    if frontend == "notebook7":  # the same server serves Notebook 7's UI under /notebooks/
        return f"{lab.url}/notebooks/{NOTEBOOK}?token={lab.token}"
    return lab.lab_url(NOTEBOOK)


@pytest.mark.parametrize("frontend", ["jupyterlab", "notebook7"])
def test_promql_cells_are_highlighted_and_linted(
    jupyter_lab: helpers.JupyterLab, notebook_page: Page, frontend: str
) -> None:
    page = notebook_page
    _write_notebook(jupyter_lab)
    page.goto(_url(jupyter_lab, frontend))
    query, broken, python = _editor(page, 2), _editor(page, 3), _editor(page, 4)

    # The language of each editor: CodeMirror names it on the content element.
    expect(query).to_have_attribute("data-language", "promql", timeout=EDITOR_TIMEOUT_MS)
    expect(broken).to_have_attribute("data-language", "promql")
    expect(python).to_have_attribute("data-language", "python")

    # The magic line: the magic, options as options, and an option's value.
    _token(query, "sysmon-promql-magic", "%%promql")
    _token(query, "sysmon-promql-option", "--range")
    _token(query, "sysmon-promql-option-value", "24h")
    # The body, by codemirror-promql's grammar.
    function = _token(query, "sysmon-promql-function", "rate")
    aggregation = _token(query, "sysmon-promql-aggregation", "sum")
    _token(query, "sysmon-promql-modifier", "by")
    _token(query, "sysmon-promql-modifier", "ignoring")
    _token(query, "sysmon-promql-modifier", "group_left")
    duration = _token(query, "sysmon-promql-number", "5m")  # one token, not `5` and `m`
    label = _token(query, "sysmon-promql-label", "code")
    _token(query, "sysmon-promql-operator", "=~")
    _token(query, "sysmon-promql-string", '"5.."')
    metric = _token(query, "sysmon-promql-metric", "http_requests_total")
    # ...and coloured: none in the plain text's colour (a metric name's).
    plain = _color(metric)
    colors = {
        name: _color(token)
        for name, token in [
            ("function", function),
            ("aggregation", aggregation),
            ("duration", duration),
            ("label", label),
        ]
    }
    assert plain not in colors.values(), (plain, colors)

    # The syntax error: underlined, with codemirror-promql's message on hover.
    mark = broken.locator(".cm-lintRange-error")
    expect(mark, "the syntax error has no lint mark").to_have_count(1, timeout=EDITOR_TIMEOUT_MS)
    assert "cpu" in mark.inner_text(), mark.inner_text()
    mark.hover()
    tooltip = page.locator(".cm-tooltip-lint")
    expect(tooltip).to_contain_text("unexpected expression", timeout=EDITOR_TIMEOUT_MS)
    page.locator(".jp-Notebook").screenshot(
        path=helpers.ARTIFACTS / f"promql-editor-{frontend}.png"
    )

    # The Python cell: IPython's highlighting, none of the PromQL one, and no lint.
    expect(python.locator("[class*='sysmon-promql']")).to_have_count(0)
    expect(python.locator(".cm-lintRange")).to_have_count(0)
    keyword = python.locator("span", has_text=re.compile(r"^def$")).first
    assert _color(keyword) != _color(python.locator(".cm-line").first), "`def` is not highlighted"

    # A cell that gains %%promql switches at once, and back when it loses it.
    python.locator(".cm-line").first.click()
    page.keyboard.press("Control+Home")
    page.keyboard.type("%%promql")
    page.keyboard.press("Enter")
    expect(python).to_have_attribute("data-language", "promql")
    page.keyboard.press("Control+Home")
    page.keyboard.press("Shift+ArrowDown")
    page.keyboard.press("Delete")
    expect(python).to_have_attribute("data-language", "python")
    expect(python.locator("[class*='sysmon-promql']")).to_have_count(0)
    expect(python.locator(".cm-lintRange")).to_have_count(0, timeout=EDITOR_TIMEOUT_MS)


def test_tab_completion_in_a_promql_cell_still_comes_from_the_kernel(
    jupyter_lab: helpers.JupyterLab, notebook_page: Page
) -> None:
    page = notebook_page
    _write_notebook(jupyter_lab)
    helpers.open_notebook(page, jupyter_lab.lab_url(NOTEBOOK))
    # %load_ext and %sysmon_connect demo: the kernel then knows the demo's names.
    _editor(page, 0).click()
    page.keyboard.press("Shift+Enter")
    page.keyboard.press("Shift+Enter")
    prompts = page.locator(".jp-Notebook .jp-Cell .jp-InputPrompt")
    expect(prompts.nth(1)).to_have_text(re.compile(r"\[2\]"), timeout=helpers.KERNEL_TIMEOUT_MS)

    query = _editor(page, 2)
    query.locator(".cm-line").last.click()
    page.keyboard.press("Control+End")
    page.keyboard.press("Enter")
    page.keyboard.type("+ node_cpu_sec")
    page.keyboard.press("Tab")
    # One candidate: the kernel's completer inserts it; several: it lists them.
    completed = query.locator(".cm-line", has_text="node_cpu_seconds_total")
    completer = page.locator(".jp-Completer-item", has_text="node_cpu_seconds_total")
    expect(completed.or_(completer).first).to_be_visible(timeout=helpers.KERNEL_TIMEOUT_MS)
    page.locator(".jp-Notebook").screenshot(path=helpers.ARTIFACTS / "promql-editor-completion.png")
    expect(query).to_have_attribute("data-language", "promql")


def test_a_notebook_that_learns_its_language_from_the_kernel_switches_then(
    jupyter_lab: helpers.JupyterLab, notebook_page: Page
) -> None:
    """No ``language_info`` saved: the cells are drawn before the kernel says "IPython"."""
    page = notebook_page
    _write_notebook(jupyter_lab, language_info=False)
    helpers.open_notebook(page, jupyter_lab.lab_url(NOTEBOOK))
    expect(_editor(page, 2)).to_have_attribute("data-language", "promql")
    expect(_editor(page, 4)).to_have_attribute("data-language", "python")
    _token(_editor(page, 2), "sysmon-promql-function", "rate")


def test_the_tour_shows_its_promql_cells_as_promql(
    jupyter_lab: helpers.JupyterLab, notebook_page: Page
) -> None:
    """The demo's tour, opened as `scripts/demo.sh` opens it: every `%%promql` cell is PromQL."""
    page = notebook_page
    tour = helpers.REPO / "notebooks" / "00-tour.ipynb"
    shutil.copyfile(tour, jupyter_lab.root_dir / tour.name)
    cells = json.loads(tour.read_text())["cells"]
    promql = [
        n
        for n, cell in enumerate(cells)
        if cell["cell_type"] == "code" and "".join(cell["source"]).startswith("%%promql")
    ]
    assert len(promql) >= 5, "the tour should show several %%promql cells"
    page.goto(jupyter_lab.lab_url(tour.name))
    for n in promql:
        editor = _editor(page, n)
        editor.scroll_into_view_if_needed(timeout=EDITOR_TIMEOUT_MS)
        expect(editor, f"tour cell {n}").to_have_attribute(
            "data-language", "promql", timeout=EDITOR_TIMEOUT_MS
        )
    # The tour's queries are valid, templates (`$__rate_interval`, `$hosts`) included: once the
    # linter has run (300 ms after an editor opens; the other tests see its marks within 2 s),
    # not one is underlined.
    page.wait_for_timeout(3000)
    marks = page.locator(".jp-Notebook .cm-lintRange")
    assert marks.count() == 0, f"lint marks in the tour: {marks.all_inner_texts()}"
    first = page.locator(".jp-Notebook .jp-Cell").nth(promql[0])
    first.scroll_into_view_if_needed()
    first.screenshot(path=helpers.ARTIFACTS / "promql-editor-tour.png")
