"""Notebook files as they are committed and as JupyterLab saves them: no widget views, no saved widget state.

A widget output in a saved notebook is a pointer (``application/vnd.jupyter.widget-view+json``: a model id)
to a widget that lives only in the kernel that drew it. Reopened later (a fresh server, nothing run), the
pointer finds no model and JupyterLab shows "Error displaying widget: model not found"; saving the widget
state instead (``metadata.widgets``) puts tens of kilobytes of control state into the file and still shows
frozen controls. So the saved form keeps, for each widget output, only its other representations (the kit's
apps give a plain-text summary of what they show), and drops ``metadata.widgets`` and per-cell execution
timings.

:func:`strip_widgets` is that rule; ``scripts/run_notebooks.py`` applies it to the committed notebooks and
:func:`pre_save_hook` to every save in JupyterLab (``jupyter/jupyter_server_config.py``, which ``make lab``
loads).
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def strip_widgets(nb: MutableMapping[str, Any]) -> int:
    """Remove widget views from the outputs of ``nb`` (a notebook as a dict or an ``nbformat`` node), keeping
    their other representations, and drop ``metadata.widgets`` and each cell's ``metadata.execution``.

    An output left with no representation at all is removed. Changes ``nb`` in place; returns the number of
    widget views removed.

    >>> nb = {"metadata": {"widgets": {"state": {}}}, "cells": [{"cell_type": "code", "metadata": {},
    ...       "outputs": [{"output_type": "display_data", "metadata": {},
    ...                    "data": {WIDGET_VIEW: {"model_id": "ab"}, "text/plain": "Explorer: ok"}}]}]}
    >>> strip_widgets(nb), nb["metadata"], nb["cells"][0]["outputs"][0]["data"]
    (1, {}, {'text/plain': 'Explorer: ok'})
    """
    nb.get("metadata", {}).pop("widgets", None)
    removed = 0
    for cell in nb.get("cells", []):
        cell.get("metadata", {}).pop("execution", None)
        if "outputs" not in cell:
            continue
        kept = []
        for output in cell["outputs"]:
            data = output.get("data")
            if isinstance(data, MutableMapping) and WIDGET_VIEW in data:
                data.pop(WIDGET_VIEW)
                removed += 1
                if not data:
                    continue
            kept.append(output)
        cell["outputs"] = kept
    return removed


def pre_save_hook(*, model: MutableMapping[str, Any], path: str = "", **kwargs: object) -> None:
    """A Jupyter server ``ContentsManager.pre_save_hook``: what JupyterLab saves (by hand or autosave) is
    stripped by :func:`strip_widgets` before it reaches the disk. Files other than notebooks pass unchanged.

    >>> model = {"type": "notebook", "content": {"metadata": {"widgets": {}}, "cells": []}}
    >>> pre_save_hook(model=model, path="01.ipynb")
    >>> model["content"]["metadata"]
    {}
    """
    if model.get("type") == "notebook" and isinstance(model.get("content"), MutableMapping):
        strip_widgets(model["content"])
