"""The widget apps the notebooks and the Voilà dashboard show (they need the notebooks extra:
``pip install "sonet-policy[notebooks]"``; without it, importing them says so).

Each app is a class that holds its controls, an ``Output`` widget and a plain compute step that tests call
directly. Callback output is written as ``out.outputs = ()`` then ``out.append_display_data(HTML(...))``:
never ``with out:`` and never ``interact``, which break strict nbval and intermittently hang Voilà.
An app displays as its widget; its plain-text form is a short summary of what it shows (nbval compares it).

* :class:`ScenarioExplorer`: one scenario, five answer cards, recomputed on every change (explain takes about 20 ms).
* :func:`answer_cards` / :class:`AnswerCards`: one explanation as those cards (:mod:`sonet_policy.widgets.cards`).
* Interview mode in the explorer: any input :data:`UNKNOWN`, the answers still possible and the question to ask
  next (:mod:`sonet_policy.widgets.interview`).
* :func:`compare` / :class:`CompareView`: scenarios side by side, the differing answers and their rules.
* :class:`AuditView`: the audit's findings, a coverage heat map and each finding's witness (the tables it shows
  are computed by :mod:`sonet_policy.analysis.audit` and :mod:`sonet_policy.analysis.coverage`).
* :class:`PopulationView`: a synthetic customer base evaluated in one call (needs
  :mod:`sonet_policy.analysis.population`).
* :class:`DiffView`: a baseline against a changed copy (needs :mod:`sonet_policy.analysis.diff`).
* :class:`CustomersView`: a customer file uploaded, every row answered in a grid, one row loaded into an explorer.

>>> app = ScenarioExplorer(area="west", plan="other", device="rv-230se", setup="v6plus_router",
...                        keep_number=False, days=31)
>>> app.codes["device_action"], app.codes["ipv4"]
('mail_exchange', 'pppoe_router')
"""

from __future__ import annotations

try:  # what the apps load with them; without the notebooks extra, say which extra to install
    import anywidget  # noqa: F401
    import IPython.display  # noqa: F401
    import ipywidgets  # noqa: F401
except ModuleNotFoundError as missing:
    raise ImportError(
        f"sonet_policy.widgets needs {missing.name or 'the notebook packages'} (the notebooks extra): "
        'pip install "sonet-policy[notebooks]"',
        name=missing.name,
    ) from missing

from sonet_policy.widgets.audit import AuditView, coverage_heatmap, coverage_share_heatmap
from sonet_policy.widgets.base import STATUS_COLOURS, STATUS_ORDER, PNGFigure, error_html, render_png, show_html
from sonet_policy.widgets.cards import AnswerCards, answer_cards
from sonet_policy.widgets.compare import CompareView, ScenarioComparison, compare
from sonet_policy.widgets.customers import CustomersView, customer_answers, customer_scenario, read_customers
from sonet_policy.widgets.dashboard import Dashboard, dashboard
from sonet_policy.widgets.diff import (
    CHANGE_VIEW_COLUMNS,
    DiffView,
    build_what_if,
    changes_with_clauses,
    proposal_folders,
    rules_involved,
    what_if_labels,
)
from sonet_policy.widgets.editor import ProposalEditor
from sonet_policy.widgets.explorer import (
    ScenarioExplorer,
    domain_options,
    explain_scenario,
    explorer_defaults,
)
from sonet_policy.widgets.heatmap import ShareHeatMap, heatmap_cells
from sonet_policy.widgets.interview import UNKNOWN
from sonet_policy.widgets.population import (
    SYNTHETIC_NOTE,
    PopulationImpact,
    PopulationView,
    groupings,
    impact_bars,
    population_impact,
)

__all__ = [
    "CHANGE_VIEW_COLUMNS",
    "STATUS_COLOURS",
    "STATUS_ORDER",
    "SYNTHETIC_NOTE",
    "UNKNOWN",
    "AnswerCards",
    "AuditView",
    "CustomersView",
    "CompareView",
    "Dashboard",
    "DiffView",
    "PNGFigure",
    "PopulationImpact",
    "PopulationView",
    "ProposalEditor",
    "ScenarioComparison",
    "ScenarioExplorer",
    "ShareHeatMap",
    "answer_cards",
    "build_what_if",
    "changes_with_clauses",
    "compare",
    "coverage_heatmap",
    "coverage_share_heatmap",
    "customer_answers",
    "customer_scenario",
    "dashboard",
    "domain_options",
    "error_html",
    "explain_scenario",
    "explorer_defaults",
    "groupings",
    "heatmap_cells",
    "impact_bars",
    "population_impact",
    "proposal_folders",
    "read_customers",
    "render_png",
    "rules_involved",
    "show_html",
    "what_if_labels",
]
