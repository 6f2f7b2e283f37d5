"""Time the coverage audit on the shipped rule book and on a synthetic book of 1,000 random rules.

Run: ``.venv/bin/python benchmarks/bench_audit.py [--rules N] [--repeat R] [--seed S]``. Prints, per book, the
time to load, to compile the grid, to audit a compiled book and to audit from scratch (compile + audit), best
of ``--repeat`` runs. The synthetic book is written into a temporary folder with the shipped metadata and
random conditions, exceptions and citations, and loads through ``load_rulebook`` like any other.
"""

from __future__ import annotations

import argparse
import csv
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

from sonet_policy.analysis.audit import audit, counts
from sonet_policy.book.compile import compile_rulebook
from sonet_policy.book.load import load_rulebook
from sonet_policy.source.clauses import clauses as load_clauses

ROOT = Path(__file__).resolve().parents[1]
RULES = ROOT / "data" / "rules"
DAY_CELLS = ("-", "null", "[0,31]", ">=32", "[0,6]", "[7,31]", ">=60", "null|[0,31]", "[32,59]")


def synthetic_book(folder: Path, n_rules: int, *, seed: int = 0, policies: dict[str, str] | None = None) -> Path:
    """Write a valid rule book of ``n_rules`` random rules (spread over the shipped decisions) into ``folder``."""
    rng = random.Random(seed)
    book = load_rulebook(RULES)
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("inputs.csv", "codes.csv", "constraints.csv"):
        shutil.copy(RULES / name, folder / name)
    with open(folder / "decisions.csv", "w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(["decision", "hit_policy", "inputs", "outputs"])
        for name, spec in book.decisions.items():
            policy = (policies or {}).get(name, spec.hit_policy)
            out.writerow([name, policy, "|".join(spec.inputs), "|".join(spec.outputs)])
    table = load_clauses()
    normative = list(table.index[table["normative"]])
    names = list(book.decisions)
    per = [n_rules // len(names) + (1 if k < n_rules % len(names) else 0) for k in range(len(names))]
    for name, count in zip(names, per, strict=True):
        spec = book.decisions[name]
        answers = book.priority(name)
        alts = list(book.codes.loc[(book.codes["decision"] == name) & (book.codes["role"] == "alternative"), "code"])
        with open(folder / f"{name}.csv", "w", newline="", encoding="utf-8") as fh:
            out = csv.writer(fh)
            out.writerow(["rule_id", *spec.inputs, *spec.outputs, "exception_of", "source", "note"])
            for i in range(count):
                row = [f"{name.upper()}-{i}"]
                for inp in spec.inputs:
                    row.append(_random_cell(rng, book, inp))
                row.append(rng.choice(answers))
                for _ in spec.outputs[1:]:
                    row.append("|".join(rng.sample(alts, rng.randint(0, len(alts)))) if alts else "")
                row.append(f"{name.upper()}-{rng.randrange(i)}" if i and rng.random() < 0.15 else "")
                row.append("|".join(rng.sample(normative, rng.randint(1, 3))))
                row.append("synthetic")
                out.writerow(row)
    return folder


def _random_cell(rng: random.Random, book, name: str) -> str:
    if rng.random() < 0.4:
        return "-"
    spec = book.inputs[name]
    if spec.type == "integer":
        return rng.choice(DAY_CELLS)
    domain = list(book.models) if name == "device" else list(spec.domain)
    k = rng.randint(1, min(len(domain) - 1, 8)) if len(domain) > 1 else 1
    return "|".join(rng.sample(domain, k))


class Timing:
    """Best wall-clock and best CPU time of several runs (CPU time is steadier on a shared machine)."""

    def __init__(self, fn, repeat: int) -> None:
        walls, cpus = [], []
        for _ in range(repeat):
            w, c = time.perf_counter(), time.process_time()
            fn()
            walls.append(time.perf_counter() - w)
            cpus.append(time.process_time() - c)
        self.wall, self.cpu = min(walls), min(cpus)

    def __str__(self) -> str:
        return f"{self.wall:.3f} s (cpu {self.cpu:.3f} s)"


def measure(label: str, folder: Path, repeat: int) -> None:
    load_s = Timing(lambda: load_rulebook(folder), repeat)
    book = load_rulebook(folder)
    compile_s = Timing(lambda: compile_rulebook(book), repeat)
    book.compiled()
    audit_s = Timing(lambda: audit(book), repeat)

    def scratch() -> None:
        book.cache.clear()  # drop the compiled grid: compile and audit again
        audit(book)

    scratch_s = Timing(scratch, repeat)
    findings = audit(book)
    compiled = book.compiled()
    n_rules = sum(len(r) for r in book.rules.values())
    print(
        f"{label}: {n_rules} rules, {compiled.n_cells} grid cells over each decision's own inputs "
        f"(one grid over every input: {compiled.dense_cells} cells per decision), {len(findings)} findings "
        f"({', '.join(f'{v} {k}' for k, v in counts(findings).items())})\n"
        f"  load {load_s}; compile {compile_s}; audit of the compiled book {audit_s}; "
        f"compile + audit {scratch_s}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rules", type=int, default=1000, help="rules in the synthetic book (default 1000)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per timing; the best is printed")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    print(f"python {sys.version.split()[0]}; best of {args.repeat} runs (wall clock, and CPU time of this process)")
    measure("shipped book", RULES, args.repeat)
    with tempfile.TemporaryDirectory() as tmp:
        folder = synthetic_book(Path(tmp) / "unique", args.rules, seed=args.seed)
        measure(f"synthetic book (UNIQUE, seed {args.seed})", folder, args.repeat)
        mixed = {"procedure": "FIRST", "number": "PRIORITY", "ipv4": "ANY", "wifi": "COLLECT", "device_action": "FIRST"}
        folder = synthetic_book(Path(tmp) / "mixed", args.rules, seed=args.seed, policies=mixed)
        measure(f"synthetic book (mixed hit policies, seed {args.seed})", folder, args.repeat)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
