"""Explorer benchmark: every built-in scenario searched exhaustively; prints states, transitions, states per
second and time per scenario. Asserts nothing (the machine is shared and noisy).

Run: .venv/bin/python bench/explore.py

Baseline, measured in the same run: replaying schedules step by step (bench/engine.py's measure). The ratio says
how much a search transition costs beyond a plain step (hashing and storing states, bookkeeping).
DESIGN section 8's budget: the two-thread close scenarios are covered exhaustively in about a second.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.scenarios import load_library
from app.sim import replay, run_on
from app.sim.explore import explore


def main() -> None:
    library = load_library()
    # Baseline: plain replay throughput over long random runs of every scenario.
    runs = [(c, run_on(replay(c, ""), "random", 400, seed=3).schedule) for c in library.scenarios.values()]
    steps = sum(len(s) for _, s in runs)
    start = time.perf_counter()
    for compiled, schedule in runs:
        replay(compiled, schedule)
    replay_rate = steps / (time.perf_counter() - start)
    print(f"baseline replay: {replay_rate:,.0f} steps/s")
    print(f"{'scenario':40} {'states':>8} {'transitions':>11} {'states/s':>9} {'time':>8}  verdict")
    total = 0.0
    for scenario_id, compiled in library.scenarios.items():
        begin = time.perf_counter()
        report = explore(compiled)
        elapsed = time.perf_counter() - begin
        total += elapsed
        verdict = "complete" if report.complete else f"stopped by {report.stopped_by}"
        broken = ", ".join(sorted(report.witnesses)) or "no violation"
        print(
            f"{scenario_id:40} {report.states:8,} {report.transitions:11,} {report.states / elapsed:9,.0f} "
            f"{elapsed:7.2f}s  {verdict}; {broken}"
        )
        rate = report.transitions / elapsed
        if scenario_id == "close-during-send":
            print(f"{'':40} (transitions/s {rate:,.0f} = {rate / replay_rate:.2f}x the replay baseline)")
    print(f"all {len(library.scenarios)} scenarios: {total:.1f}s")


if __name__ == "__main__":
    main()
