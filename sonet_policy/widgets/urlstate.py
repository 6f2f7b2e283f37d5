"""The dashboard remembers: the explorer's scenario in the page's query string (shareable, kept on reload).

A tiny anywidget (its ES module is inline, so Voilà serves it offline) reads ``window.location.search`` when it
renders into the synced ``initial`` trait and writes ``query`` back with ``history.replaceState`` whenever the
scenario changes. It acts only in a Voilà page (the page's ``jupyter-config-data`` says ``appUrl: voila/``):
JupyterLab's own URL is never rewritten. Keys are the book's input names (header aliases are read too);
``?`` is unknown and an empty value is empty. A bad key or value gives one line naming the field and leaves
that input as it was. The dashboard's compare tab adds :data:`COMPARE_KEYS`: the input it varies and the
values as typed (``compare=days_since_phone_stop&compare_values=31%2C+32``).

>>> from sonet_policy.book.load import default_rulebook
>>> book = default_rulebook()
>>> values, problems = parse_query("area=%E8%A5%BF&colour=red&days=", rulebook=book)
>>> values, problems
({'area': 'west', 'days_since_phone_stop': None}, ['URL colour: not an input of this rule book; ignored'])
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import parse_qsl, urlencode

import anywidget
import traitlets

from sonet_policy.book.load import default_rulebook
from sonet_policy.book.model import RuleBook
from sonet_policy.engine.possible import possible
from sonet_policy.errors import ScenarioError
from sonet_policy.text import header_key
from sonet_policy.widgets.interview import UNKNOWN

UNKNOWN_MARK = "?"
COMPARE_KEYS = ("compare", "compare_values")  # the compare tab's input and values (never an input's key here)

_ESM = r"""
function inVoila() {
  const el = document.getElementById("jupyter-config-data");
  if (!el) return false;
  try {
    const cfg = JSON.parse(el.textContent);
    return String(cfg.appUrl || "").replace(/^\//, "").startsWith("voila");
  } catch (e) {
    return false;
  }
}
function render({ model, el }) {
  el.style.display = "none";
  if (!inVoila()) return;
  const write = () => {
    const q = model.get("query");
    const url = new URL(window.location.href);
    url.search = q ? "?" + q : "";
    if (url.href !== window.location.href) window.history.replaceState(window.history.state, "", url.href);
  };
  model.on("change:query", write);
  model.set("initial", window.location.search.replace(/^\?/, ""));
  model.set("loaded", true);
  model.save_changes();
}
export default { render };
"""


class UrlState(anywidget.AnyWidget):
    """The page's query string, synced: ``initial`` (what the page was opened with, set once by the browser),
    ``loaded`` (the browser has read it), ``query`` (what the page's URL shows; Python writes it)."""

    _esm = _ESM
    initial = traitlets.Unicode("").tag(sync=True)
    loaded = traitlets.Bool(False).tag(sync=True)
    query = traitlets.Unicode("").tag(sync=True)


def scenario_query(scenario: Mapping[str, object]) -> str:
    """A scenario as a query string: input names as keys, ``?`` for unknown, nothing after ``=`` for empty.

    >>> scenario_query({"area": "west", "keep_number": False, "days": None, "plan": UNKNOWN})
    'area=west&keep_number=false&days=&plan=%3F'
    """
    out = []
    for name, value in scenario.items():
        if value is UNKNOWN:
            text = UNKNOWN_MARK
        elif value is None:
            text = ""
        elif isinstance(value, bool):
            text = str(value).lower()
        else:
            text = str(value)
        out.append((name, text))
    return urlencode(out)


def split_compare(query: str) -> tuple[str, dict[str, str]]:
    """A query string without the compare tab's keys (:data:`COMPARE_KEYS`), and those keys' values.

    >>> split_compare("area=west&compare=days&compare_values=31%2C+32")
    ('area=west', {'compare': 'days', 'compare_values': '31, 32'})
    """
    rest, found = [], {}
    for key, text in parse_qsl(query.lstrip("?"), keep_blank_values=True):
        if key in COMPARE_KEYS:
            found[key] = text
        else:
            rest.append((key, text))
    return urlencode(rest), found


def parse_query(query: str, *, rulebook: RuleBook | None = None) -> tuple[dict[str, object], list[str]]:
    """The scenario a query string names, and one line per key or value that is not right (the field named,
    the value left out). Values are read as the file reader reads them (aliases, any spelling of a device)."""
    book = rulebook or default_rulebook()
    lookup = book.header_lookup()
    values: dict[str, object] = {}
    problems: list[str] = []
    for key, text in parse_qsl(query.lstrip("?"), keep_blank_values=True):
        name = key if key in book.inputs else lookup.get(header_key(key))
        if name is None:
            problems.append(f"URL {key}: not an input of this rule book; ignored")
            continue
        spec = book.inputs[name]
        if text == UNKNOWN_MARK:
            values[name] = UNKNOWN
            continue
        if spec.type == "integer":
            if text.strip() == "":
                if spec.empty != "null":
                    problems.append(f"URL {key}: empty is not a value of {name}; kept the default")
                    continue
                values[name] = None
                continue
            try:
                number = int(text.strip())
            except ValueError:
                problems.append(f"URL {key}: {text!r} is not a whole number; kept the default")
                continue
            if number < spec.minimum:
                problems.append(f"URL {key}: {number} is below {spec.minimum:g}; kept the default")
                continue
            values[name] = number
            continue
        try:
            read = possible(rulebook=book, **{name: text}).known[name]
        except ScenarioError as exc:
            problems.append(f"URL {exc}; kept the default")
            continue
        values[name] = read == "true" if spec.type == "boolean" else read
    return values, problems
