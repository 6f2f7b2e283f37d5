"""Re-execute every notebook in ``notebooks/`` from a clean kernel and store its outputs.

Deterministic by construction: cells run in order in a fresh kernel with ``MPLBACKEND=Agg`` and
``PYTHONHASHSEED=0``; no execution timings are recorded; saved widget state is not stored and widget-view
outputs keep only their plain-text summary (the model ids are random and the state is not committed:
``sonet_policy.files.notebooks.strip_widgets``, the same rule JupyterLab's saves follow under ``make lab``).
The notebook's ``kernelspec`` and ``language_info`` are what JupyterLab writes for the kernel that ran it, so
opening a notebook in JupyterLab does not mark it modified.
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
from jupyter_client.kernelspec import KernelSpecManager
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

from sonet_policy.files.notebooks import strip_widgets

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
KERNEL = "python3"


def clean(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Strip widget views and saved widget state (keeping each widget's text), per-cell execution metadata, and
    write the kernelspec as JupyterLab does (``display_name`` from the kernel's spec, e.g. "Python 3
    (ipykernel)"); ``language_info`` is the kernel's own, set by nbclient from its kernel_info reply."""
    strip_widgets(nb)
    spec = KernelSpecManager().get_kernel_spec(KERNEL)  # the spec NotebookClient starts the kernel from
    nb.metadata["kernelspec"] = {"display_name": spec.display_name, "language": spec.language, "name": KERNEL}
    return nb


def run(path: Path, *, timeout: int) -> float:
    """Execute one notebook in place; return the seconds it took."""
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name=KERNEL,
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
