"""sonet-policy: the So-net 光 電話 cancellation page as decision tables that are evaluated, explained,
audited and compared.

The public names are imported from here (``from sonet_policy import evaluate``); each is loaded on first use,
so the command line's ``--help`` and ``--version`` start without pandas.

>>> from sonet_policy import __version__, evaluate, explain, load_rulebook, possible
>>> __version__.count(".") >= 2
True
"""

from __future__ import annotations

import importlib
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _version
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sonet_policy.book.load import default_rulebook, load_rulebook
    from sonet_policy.book.model import RuleBook
    from sonet_policy.engine.answer import answer
    from sonet_policy.engine.evaluate import evaluate
    from sonet_policy.engine.explain import explain
    from sonet_policy.engine.message import message
    from sonet_policy.engine.possible import possible
    from sonet_policy.errors import RuleBookError, ScenarioError

try:
    __version__ = _version("sonet-policy")
except PackageNotFoundError:  # run from a checkout that was never installed (PYTHONPATH=.)
    __version__ = "0.0.0+unknown"

_HOME = {  # public name -> the module that defines it
    "RuleBook": "sonet_policy.book.model",
    "default_rulebook": "sonet_policy.book.load",
    "load_rulebook": "sonet_policy.book.load",
    "RuleBookError": "sonet_policy.errors",
    "ScenarioError": "sonet_policy.errors",
    "answer": "sonet_policy.engine.answer",
    "evaluate": "sonet_policy.engine.evaluate",
    "explain": "sonet_policy.engine.explain",
    "message": "sonet_policy.engine.message",
    "possible": "sonet_policy.engine.possible",
}


def __getattr__(name: str) -> object:
    if name in _HOME:
        value = getattr(importlib.import_module(_HOME[name]), name)
        globals()[name] = value  # the next access is a plain attribute
        return value
    raise AttributeError(f"module 'sonet_policy' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_HOME])


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
    "message",
    "possible",
]
