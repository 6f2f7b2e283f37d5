"""Re-execute every notebook in ``notebooks/`` from a clean kernel and store its outputs.

Deterministic by construction: cells run in order in a fresh kernel with ``MPLBACKEND=Agg`` and
``PYTHONHASHSEED=0``; no execution timings are recorded; saved widget state is not stored and widget-view
outputs keep only their plain-text summary (the model ids are random and the state is not committed).
Each cell has a bounded timeout; a failing cell stops the run with a non-zero exit status.

    python scripts/run_notebooks.py              # every notebook
    python scripts/run_notebooks.py notebooks/01-scenario-explorer.ipynb
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def clean(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Strip saved widget state, widget-view outputs (keeping their text) and per-cell execution metadata."""
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
        for output in cell.get("outputs", []):
            data = output.get("data")
            if data is not None:
                data.pop(WIDGET_VIEW, None)
    return nb


def run(path: Path, *, timeout: int) -> float:
    """Execute one notebook in place; return the seconds it took."""
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
        record_timing=False,
        store_widget_state=False,
    )
    start = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - start
    nbformat.write(clean(nb), path)
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", type=Path, help="notebooks (default: notebooks/*.ipynb)")
    parser.add_argument("--timeout", type=int, default=120, help="seconds per cell (default 120)")
    args = parser.parse_args(argv)
    os.environ["MPLBACKEND"] = "Agg"
    os.environ["PYTHONHASHSEED"] = "0"
    paths = args.paths or sorted(NOTEBOOKS.glob("*.ipynb"))
    total = 0.0
    for path in paths:
        try:
            seconds = run(path, timeout=args.timeout)
        except (CellExecutionError, CellTimeoutError, DeadKernelError) as exc:
            print(f"FAILED {path}: {exc}", file=sys.stderr)
            return 1
        total += seconds
        print(f"{path.name}: {seconds:.1f} s")
    print(f"all {len(paths)} notebook(s): {total:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
