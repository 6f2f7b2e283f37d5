"""sonet-policy: the So-net 光 電話 cancellation page as decision tables that are evaluated, explained,
audited and compared.

>>> from sonet_policy import __version__, evaluate, explain, load_rulebook, possible
>>> __version__.count(".") >= 2
True
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _version

from .answer import answer
from .errors import RuleBookError, ScenarioError
from .evaluate import evaluate
from .explain import explain
from .possible import possible
from .rules import RuleBook, default_rulebook, load_rulebook

try:
    __version__ = _version("sonet-policy")
except PackageNotFoundError:  # run from a checkout that was never installed (PYTHONPATH=.)
    __version__ = "0.0.0+unknown"

__all__ = [
    "__version__",
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
