"""sonet-policy: the So-net 光 電話 cancellation page as decision tables that are evaluated, explained,
audited and compared.

>>> from sonet_policy import evaluate, explain, load_rulebook, possible
"""

from __future__ import annotations

from .answer import answer
from .errors import RuleBookError, ScenarioError
from .evaluate import evaluate
from .explain import explain
from .possible import possible
from .rules import RuleBook, default_rulebook, load_rulebook

__all__ = [
    "RuleBook",
    "RuleBookError",
    "ScenarioError",
    "answer",
    "default_rulebook",
    "evaluate",
    "explain",
    "load_rulebook",
    "possible",
]
