"""The Voilà dashboard: the explorer and the audit in tabs."""

from __future__ import annotations

from typing import TYPE_CHECKING

import ipywidgets as w

from ..rules import RuleBook, default_rulebook

if TYPE_CHECKING:  # matplotlib and the diff module load only when a view needs them
    pass

from .audit import AuditView
from .base import _App, _has_module
from .compare import CompareView
from .explorer import ScenarioExplorer


class Dashboard(_App):
    """The Voilà dashboard: the explorer (interview mode included), scenarios side by side (``compare``: an input
    of the book to vary and its values), and the audit when :mod:`sonet_policy.audit` is installed."""

    def __init__(
        self,
        *,
        rulebook: RuleBook | None = None,
        interview: bool = False,
        compare: tuple[str, str] | None = None,
        **scenario: object,
    ) -> None:
        self.book = rulebook or default_rulebook()
        self.explorer = ScenarioExplorer(rulebook=self.book, interview=interview, **scenario)
        self.explorer.widget.add_class("sp-dashboard-explorer")
        vary, values = compare or (None, "")
        self.compare = CompareView(self.explorer, vary=vary, values=values)
        self.tabs: dict[str, _App] = {"Scenario explorer": self.explorer}
        if _has_module("audit"):
            self.tabs["Coverage audit"] = AuditView(rulebook=self.book)
        self.tabs["Compare 比較"] = self.compare
        self.widget = w.Tab(children=[app.widget for app in self.tabs.values()], titles=list(self.tabs))

    def summary(self) -> str:
        return "Dashboard: " + ", ".join(self.tabs) + "\n" + self.explorer.summary()


def dashboard(
    *,
    rulebook: RuleBook | None = None,
    interview: bool = False,
    compare: tuple[str, str] | None = None,
    **scenario: object,
) -> Dashboard:
    """The dashboard app (``notebooks/dashboard.ipynb`` shows it; ``make dashboard`` serves it with Voilà).
    ``compare=(input, "v1, v2")`` fills the compare tab; ``interview=True`` starts with every input not given
    unknown. Returns a :class:`Dashboard`.

    >>> d = dashboard(compare=("days", "31, 32"))
    >>> d.compare.comparison.varied == [d.book.input_order[-1]]
    True
    """
    return Dashboard(rulebook=rulebook, interview=interview, compare=compare, **scenario)
