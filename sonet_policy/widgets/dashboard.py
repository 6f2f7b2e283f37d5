"""The Voilà dashboard: the explorer and the audit in tabs."""

from __future__ import annotations

import html
from typing import Any
from urllib.parse import urlencode

import ipywidgets as w

from sonet_policy.book.load import default_rulebook
from sonet_policy.book.model import RuleBook
from sonet_policy.widgets.audit import AuditView
from sonet_policy.widgets.base import _App
from sonet_policy.widgets.compare import CompareView
from sonet_policy.widgets.explorer import ScenarioExplorer


class Dashboard(_App):
    """The Voilà dashboard: the explorer (interview mode included), scenarios side by side (``compare``: an input
    of the book to vary and its values), and the audit."""

    def __init__(
        self,
        *,
        rulebook: RuleBook | None = None,
        interview: bool = False,
        compare: tuple[str, str] | None = None,
        url: bool = False,
        **scenario: object,
    ) -> None:
        self.book = rulebook or default_rulebook()
        self.explorer = ScenarioExplorer(rulebook=self.book, interview=interview, **scenario)
        self.explorer.widget.add_class("sp-dashboard-explorer")
        vary, values = compare or (None, "")
        self.compare = CompareView(self.explorer, vary=vary, values=values)
        self.tabs: dict[str, _App] = {"Scenario explorer": self.explorer}
        self.tabs["Coverage audit"] = AuditView(rulebook=self.book)
        self.tabs["Compare 比較"] = self.compare
        self.tab = w.Tab(children=[app.widget for app in self.tabs.values()], titles=list(self.tabs))
        self.url_message = w.HTML()  # one line per bad key or value of the page's URL
        self.url_message.add_class("sp-url-message")
        self.url_problems: list[str] = []
        self.url_state = None
        extras: list[w.Widget] = []
        if url:
            from sonet_policy.widgets.urlstate import UrlState

            self.url_state = UrlState()
            self.url_state.observe(self._url_loaded, names="loaded")
            self.explorer.listeners.append(self._write_url)
            for control in (self.compare.vary, self.compare.values):
                control.observe(lambda _change: self._write_url(), names="value")
            extras = [self.url_state, self.url_message]
        self.widget = w.VBox([*extras, self.tab])
        self.widget.add_class("sp-dashboard")

    def open_query(self, query: str) -> list[str]:
        """Set the explorer to the scenario a query string names (what a shared URL does), and the compare tab to
        its input and values; returns the problems, one line each naming the field (that input keeps its
        value), and shows them above the tabs."""
        from sonet_policy.widgets.compare import _input_name
        from sonet_policy.widgets.urlstate import parse_query, split_compare

        query, compared = split_compare(query)
        values, problems = parse_query(query, rulebook=self.book)
        self.explorer.set(**values)
        if "compare" in compared:
            try:
                self.compare.vary.value = _input_name(self.book, compared["compare"])
            except ValueError:
                problems.append(f"URL compare: {compared['compare']!r} is not an input of this rule book; ignored")
        if "compare_values" in compared:
            self.compare.values.value = compared["compare_values"]
        self.url_problems = problems
        self.url_message.value = "".join(
            f"<div class='sp-url-problem' style='color:#c62828'>{html.escape(p)}</div>" for p in problems
        )
        return problems

    def _url_loaded(self, change: dict) -> None:
        if change["new"] and self.url_state is not None:
            self.open_query(self.url_state.initial)
            self._write_url()

    def _write_url(self) -> None:
        from sonet_policy.widgets.urlstate import scenario_query

        if self.url_state is not None and self.url_state.loaded:
            query = scenario_query(self.explorer.scenario)
            if self.compare.values.value.strip():  # the compare tab's choice, once it has values
                query += "&" + urlencode(
                    {"compare": self.compare.vary.value, "compare_values": self.compare.values.value}
                )
            self.url_state.query = query

    def summary(self) -> str:
        return "Dashboard: " + ", ".join(self.tabs) + "\n" + self.explorer.summary()


def dashboard(**options: Any) -> Dashboard:
    """The dashboard app (``notebooks/dashboard.ipynb`` shows it; ``make dashboard`` serves it with Voilà), with
    the keywords of :class:`Dashboard`: ``compare=(input, "v1, v2")`` fills the compare tab; ``interview=True``
    starts with every input not given unknown; ``url=True`` keeps the scenario in the page's query string (in
    Voilà only); ``rulebook``, and inputs for the first scenario. Returns a :class:`Dashboard`.

    >>> d = dashboard(compare=("days", "31, 32"))
    >>> d.compare.comparison.varied == [d.book.input_order[-1]]
    True
    """
    return Dashboard(**options)
