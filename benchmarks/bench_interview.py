"""Time one explorer update per keystroke (the device box applies on every keystroke) and per interview answer.

Run: ``.venv/bin/python benchmarks/bench_interview.py [--repeat R]``. Prints wall and CPU seconds per update for:
typing a device name letter by letter with everything else known (explain per keystroke), the same with the
other inputs unknown (possible per keystroke), and answering the interview's questions one by one from nothing
known; the peer in the same run is one bare ``explain`` / ``possible`` call, so the widget's own cost shows as the
difference. The load average is printed with the figures.
"""

from __future__ import annotations

import argparse
import os
import time

from sonet_policy.engine.explain import explain
from sonet_policy.engine.possible import possible
from sonet_policy.widgets.explorer import ScenarioExplorer

TYPED = "rv230se"
ANSWERS = {"area": "west", "plan": "other", "device": "RV-230SE", "setup": "v6plus_router", "keep_number": False}


def timed(fn, n: int) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(n):
        fn()
    return (time.perf_counter() - wall) / n, (time.process_time() - cpu) / n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    full = ScenarioExplorer(**ANSWERS, days=31)
    partial = ScenarioExplorer(interview=True, area="west")

    def type_into(app: ScenarioExplorer) -> None:
        for k in range(1, len(TYPED) + 1):
            app.device.value = TYPED[:k]

    def interview() -> None:
        app = ScenarioExplorer(interview=True)
        while app.next_question is not None:
            app.set(**{app.next_question: ANSWERS.get(app.next_question, 32)})

    rows = [
        ("keystroke, all else known (explain)", *timed(lambda: type_into(full), args.repeat), len(TYPED)),
        ("keystroke, interview (possible)", *timed(lambda: type_into(partial), args.repeat), len(TYPED)),
        ("peer: one bare explain", *timed(lambda: explain(**ANSWERS, days=31), args.repeat * 5), 1),
        ("peer: one bare possible(area)", *timed(lambda: possible(area="west"), args.repeat * 5), 1),
        ("whole interview from nothing (new app + answers)", *timed(interview, args.repeat), 1),
    ]
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    for name, wall, cpu, per in rows:
        unit = "per update" if "interview from" not in name else "per interview"
        print(f"{name:50s} wall {wall / per * 1000:7.1f} ms  cpu {cpu / per * 1000:7.1f} ms  {unit}")


if __name__ == "__main__":
    main()
