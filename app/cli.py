"""Run a scenario from the command line: ``python -m app.cli FILE-OR-ID [--schedule a.b.c] [--continue random]``.

Prints every step's action and narration, then the outcome, the violations, and what could happen next. Scenario
authors use it to try a scenario before sharing it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from app.scenarios import ScenarioError, load_file, load_library
from app.sim import CompiledScenario, IllegalAction, replay, run_on
from app.sim.explore import explore


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m app.cli", description=__doc__)
    parser.add_argument("scenario", help="a scenario file, or the id of a built-in scenario")
    parser.add_argument(
        "--schedule", default="", help="action ids joined by '.'; 'demo' for the demo schedule"
    )
    parser.add_argument(
        "--continue", dest="cont", choices=["round_robin", "random"], help="run on to the end"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-steps", type=int, default=500)
    parser.add_argument("--explore", action="store_true", help="search every interleaving instead of one run")
    args = parser.parse_args(argv)
    try:
        path = Path(args.scenario)
        scenario = (
            load_file(path, built_in=False)
            if path.suffix in (".yaml", ".yml")
            else load_library().get(args.scenario)
        )
        if scenario is None:
            print(f"No built-in scenario '{args.scenario}'.", file=sys.stderr)
            return 2
        if args.explore:
            return _explore(scenario)
        schedule = scenario.source.demo or [] if args.schedule == "demo" else args.schedule
        trace = replay(scenario, schedule)
        if args.cont:
            trace = run_on(trace, args.cont, args.max_steps, seed=args.seed)
    except (ScenarioError, IllegalAction, ValueError) as err:
        print(err, file=sys.stderr)
        return 2
    for snap in trace.snapshots:
        print(f"{snap.index:3} {snap.action.id if snap.action else '-':18} {snap.narration}")
    print(f"\nschedule: {'.'.join(trace.schedule)}")
    print(f"outcome:  {trace.outcome}")
    for step, v in trace.violations:
        print(f"  step {step}: {v.kind} ({v.rule}): {v.message}")
    for action in trace.enabled:
        print(f"  next: {action.id:18} {action.label}")
    for actor, reason in trace.blocked:
        print(f"  blocked: {actor}: {reason}")
    return 0


def _explore(scenario: CompiledScenario) -> int:
    report = explore(scenario)
    status = "complete" if report.complete else f"stopped by {report.stopped_by}"
    if report.reduced:
        print(f"reduced search {status}: {report.states} states, {report.transitions} transitions")
        print(
            "  (private steps not interleaved; states equal up to IRP numbers and identical threads are one)"
        )
        print(
            f"  {report.terminal_states} distinct terminal state(s) up to those names; schedules not counted"
        )
        counted = "terminal state(s) up to names"
    else:
        print(f"search {status}: {report.states} states, {report.transitions} transitions")
        schedules = (
            f"{report.schedules:,}"
            if report.schedules is not None
            else "infinitely many (a loop)"
            if report.complete
            else "not counted (incomplete)"
        )
        print(f"  {report.terminal_states} terminal state(s); complete schedules: {schedules}")
        counted = "terminal state(s)"
    for outcome, count in sorted(report.outcomes.items()):
        print(f"  {outcome}: {count} {counted}")
    for kind, schedule in sorted(report.witnesses.items()):
        print(f"  shortest {kind} ({len(schedule)} steps): {'.'.join(schedule)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
