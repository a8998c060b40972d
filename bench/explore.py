"""Explorer benchmark: the budgets of issue 9, each with its ratio to today's full search measured in the same run;
the close-protection designs with three and four threads; every built-in scenario. Prints; asserts nothing (the
machine is shared and noisy: run it twice and believe the lower times).

Run: .venv/bin/python bench/explore.py            (about three minutes: today's search of four threads is slow)
     .venv/bin/python bench/explore.py --quick    (skips today's searches that take more than a few seconds)

"Today's full search" is the explorer as it was before issue 9, kept here verbatim as ``todays_explore``: every
enabled action of every state, each listed again by ``Engine.step``, narrated, and kept as a whole state. It runs on
today's engine, so the cheaper records (app/sim/records.py) help it too; the ratios are the reduction's and the
leaner search's. "Now" is ``explore`` as the app runs it: the reduced search, and for small scenarios the full one
after it, for exact counts (app/sim/explore.py).

Budgets (issue 9): run-down protection with two senders and a closer exhaustive in under 1 s, with three senders in
under 10 s; the sandbox in under 1 s; under 0.6 KB of memory per stored state (tracemalloc's peak during the search,
over the states it kept).
"""

from __future__ import annotations

import sys
import time
import tracemalloc
from collections import Counter, deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.scenarios import load_library, with_copies
from app.sim import CompiledScenario, Engine
from app.sim.explore import Bounds, ReducedSearch, Report, explore
from app.sim.model import State

LIBRARY = load_library()
QUICK = "--quick" in sys.argv
TODAY_LIMIT = 200_000  # today's default bound: its search of four threads stops there, incomplete


def todays_explore(scenario: CompiledScenario, max_states: int = TODAY_LIMIT) -> Report:
    """The explorer before issue 9 (without preemption bounds): breadth-first over whole states, every action of
    every state taken with Engine.step, witnesses and schedule counts as it computed them."""
    engine = Engine(scenario)
    start = engine.initial()
    parent: dict[State, tuple[State, str] | None] = {start: None}
    depth: dict[State, int] = {start: 0}
    successors: dict[State, list[State]] = {}
    queue: deque[State] = deque([start])
    report = Report(complete=True, stopped_by=None, states=1, transitions=0)

    def path_to(node: State, last: str | None = None) -> tuple[str, ...]:
        actions: list[str] = [] if last is None else [last]
        link = parent[node]
        while link is not None:
            node, action = link
            actions.append(action)
            link = parent[node]
        return tuple(reversed(actions))

    while queue:
        state = queue.popleft()
        d = depth[state]
        actions = engine.enabled(state)
        if not actions:
            report.terminal_states += 1
            terminal = engine.terminal_violations(state)
            for v in terminal:
                if v.kind not in report.witnesses:
                    report.witnesses[v.kind] = path_to(state)
            outcome = engine.outcome(state, terminal)
            report.outcomes[outcome if outcome in ("ok", "deadlock") else "violation"] += 1
            report.outcomes.update(sorted((set(state.violated) | {v.kind for v in terminal}) - {"deadlock"}))
            continue
        nexts: list[State] = []
        for action in actions:
            result = engine.step(state, action.id)
            report.transitions += 1
            for v in result.violations:
                if v.kind not in report.witnesses:
                    report.witnesses[v.kind] = path_to(state, action.id)
            nexts.append(result.state)
            if result.state in parent:
                continue
            if report.states >= max_states:
                report.complete, report.stopped_by = False, "max_states"
                nexts.pop()
                continue
            parent[result.state] = (state, action.id)
            depth[result.state] = d + 1
            report.states += 1
            queue.append(result.state)
        successors[state] = nexts
    return report


def timed(search: Callable[[], Report]) -> tuple[Report, float]:
    started = time.perf_counter()
    report = search()
    return report, time.perf_counter() - started


def peak_per_state(search: Callable[[], Report]) -> tuple[Report, float]:
    """Bytes of memory per stored state: tracemalloc's peak during the search, over the states it kept."""
    tracemalloc.start()
    report = search()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return report, peak / report.states


def threads(design: str, count: int) -> CompiledScenario:
    """A close-protection design with ``count`` threads: more senders (more threads asking the owner to close,
    for single-thread ownership)."""
    copied = "Closer" if design == "protect-single-thread" else "Sender"
    return with_copies(LIBRARY.scenarios[design], copied, count - 1)


def verdict(report: Report) -> str:
    status = "complete" if report.complete else f"stopped by {report.stopped_by}"
    broken = ", ".join(f"{kind} ({len(w)})" for kind, w in sorted(report.witnesses.items())) or "no violation"
    return f"{status}; {broken}"


def agree(a: Report, b: Report) -> str:
    """Whether two complete searches found the same violation kinds with witnesses of the same lengths."""
    if not (a.complete and b.complete):
        return "-"
    same = {k: len(w) for k, w in a.witnesses.items()} == {k: len(w) for k, w in b.witnesses.items()}
    return "yes" if same else "NO"


def budget_rows() -> None:
    print("== Budgets (issue 9): now against today's full search, same run ==")
    print(f"{'case':52} {'today':>22} {'now':>22} {'ratio':>7} {'budget':>7}")
    cases: list[tuple[str, CompiledScenario, float, bool]] = [
        ("run-down protection, 2 senders + closer (3 threads)", threads("protect-rundown", 3), 1.0, False),
        ("run-down protection, 3 senders + closer (4 threads)", threads("protect-rundown", 4), 10.0, True),
        ("sandbox", LIBRARY.scenarios["sandbox"], 1.0, False),
    ]
    for name, scenario, budget, slow in cases:
        now, now_s = timed(lambda s=scenario: explore(s))
        if QUICK and slow:
            today_text, ratio = "(skipped: --quick)", ""
        else:
            today, today_s = timed(lambda s=scenario: todays_explore(s))
            status = "" if today.complete else f", stopped by {today.stopped_by}"
            today_text = f"{today_s:6.2f} s {today.states:>7,} st{status}"
            ratio = f"{today_s / now_s:6.1f}x"
        mark = "ok" if now_s < budget else "OVER"
        print(
            f"{name:52} {today_text:>22} {now_s:6.2f} s {now.states:>7,} st {ratio:>7} {budget:4.0f} s {mark}"
            f"  [{verdict(now)}]"
        )
    today, today_bytes = peak_per_state(lambda: todays_explore(threads("protect-rundown", 3)))
    now, now_bytes = peak_per_state(lambda: explore(threads("protect-rundown", 4)))
    mark = "ok" if now_bytes < 600 else "OVER"
    print(
        f"{'memory per stored state':52} {today_bytes / 1000:8.2f} KB ({today.states:,} st) "
        f"{now_bytes / 1000:6.2f} KB ({now.states:,} st) {today_bytes / now_bytes:5.1f}x   0.6 KB {mark}"
    )
    print("  (today: run-down protection with 3 threads; now: with 4 threads, the larger search)")


def design_rows() -> None:
    print(
        "\n== Close-protection designs with 3 and 4 threads (reduced search; today's full search where it ends) =="
    )
    print(f"{'design':44} {'states':>8} {'steps':>9} {'time':>8} {'today':>24}  verdict")
    designs = sorted(i for i, c in LIBRARY.scenarios.items() if c.source.family == "close-protection")
    for count in (3, 4):
        for design in designs:
            scenario = threads(design, count)
            now, now_s = timed(lambda s=scenario: ReducedSearch(s, Bounds(max_states=1_000_000), None).run())
            today_text = ""
            if count == 3 and not (
                QUICK and design in ("protect-flag-then-increment", "protect-interlocked-word")
            ):
                today, today_s = timed(lambda s=scenario: todays_explore(s))
                done = "" if today.complete else "+"
                today_text = f"{today.states:,}{done} st {today_s:5.1f} s {today_s / now_s:5.1f}x"
            print(
                f"{scenario.source.id:44} {now.states:8,} {now.transitions:9,} {now_s:7.2f}s {today_text:>24}  "
                f"{verdict(now)}"
            )


def library_rows() -> None:
    print("\n== Every built-in scenario: now (explore) against today's full search ==")
    print(f"{'scenario':40} {'now':>23} {'today':>15} {'ratio':>7} agree  verdict")
    total_now = total_today = 0.0
    counted: Counter[str] = Counter()
    for scenario_id, compiled in LIBRARY.scenarios.items():
        now, now_s = timed(lambda c=compiled: explore(c))
        today, today_s = timed(lambda c=compiled: todays_explore(c))
        total_now, total_today = total_now + now_s, total_today + today_s
        counted["reduced figures" if now.reduced else "exact figures"] += 1
        figures = "reduced" if now.reduced else "exact"
        print(
            f"{scenario_id:40} {now.states:7,} {now_s:6.2f}s {figures:>7} {today.states:7,} {today_s:6.2f}s "
            f"{today_s / now_s:6.1f}x {agree(now, today):>5}  {verdict(now)}"
        )
    print(
        f"all {len(LIBRARY.scenarios)} scenarios: now {total_now:.1f} s, today {total_today:.1f} s; {dict(counted)}"
    )


def main(_: Any = None) -> None:
    budget_rows()
    design_rows()
    library_rows()


if __name__ == "__main__":
    main()
