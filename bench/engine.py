"""Engine benchmark: replay throughput, and what step 500 of a long sandbox schedule costs relative to step 5.

Prints numbers; asserts nothing (the machine is shared and noisy). Run: .venv/bin/python bench/engine.py

DESIGN section 8: a step request should cost about the same at step 500 as at step 5, because replay is cached
or incremental. Two cases matter to the player:
  * re-rendering a step of a schedule already seen (going back, reloading): a cache hit;
  * stepping forward (schedule + one action): the cache extends the cached prefix by one step.
Both are compared with the same operation at step 5, and with a cold replay from the start as the baseline.
"""

from __future__ import annotations

import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.scenarios import load_library
from app.sim import Engine, TraceCache, load, replay
from app.sim.describe import describe_state

FREE = [{"op": "IoFreeIrp", "irp": "Irp"}, {"op": "Return", "status": "STATUS_MORE_PROCESSING_REQUIRED"}]
LONG_SANDBOX = {
    "id": "bench-sandbox",
    "title": "An unbounded sandbox",
    "summary": "A worker that can take a reference, send, receive and drop the reference forever.",
    "expect": "safe",
    "memory": [{"name": "Ref", "kind": "word", "in_context": "s"}],
    "sockets": [{"peer": {"data": 4}}],
    "threads": [
        {
            "name": "Worker",
            "menu": [
                {"id": "ref", "label": "Take a reference", "program": [{"op": "InterlockedIncrement", "var": "Ref"}]},
                {"id": "send", "label": "Send", "program": [
                    {"op": "IoAllocateIrp", "irp": "irpS"},
                    {"op": "IoSetCompletionRoutine", "irp": "irpS", "routine": "Done"},
                    {"op": "WskSend", "irp": "irpS", "into": "st"}]},
                {"id": "drop", "label": "Drop the reference", "program": [{"op": "InterlockedDecrement", "var": "Ref"}]},
            ],
        }
    ],
    "routines": {"Done": {"kind": "completion", "program": FREE}},
}  # fmt: skip


def timed(fn, repeat: int = 7) -> float:
    """Median seconds of ``repeat`` runs."""
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> None:
    scenario = load(LONG_SANDBOX)
    engine = Engine(scenario)
    schedule = long_schedule(engine, 600, seed=1)

    # Replay throughput over every built-in demo and the long sandbox schedule.
    library = load_library()
    work = [(c, c.source.demo or ()) for c in library.scenarios.values()] + [(scenario, schedule)]
    steps = sum(len(s) for _, s in work)
    seconds = timed(lambda: [replay(c, s) for c, s in work], repeat=5)
    print(f"replay throughput: {steps / seconds:,.0f} steps/s ({steps} steps in {seconds * 1000:.1f} ms)")

    for label, n in (("step 5", 5), ("step 500", 500)):
        warm = TraceCache()
        warm.get(scenario, schedule[:n])
        hit = timed(lambda n=n, warm=warm: render(warm, scenario, engine, schedule, n), repeat=51)
        forward = step_forward_cost(scenario, engine, schedule, n)
        cold = timed(lambda n=n: render(TraceCache(), scenario, engine, schedule, n), repeat=5)
        results[label] = (hit, forward, cold)
        print(
            f"{label}: re-render (cache hit) {hit * 1e3:.3f} ms, step forward (extend by one) "
            f"{forward * 1e3:.3f} ms, cold replay {cold * 1e3:.2f} ms"
        )
    h5, f5, c5 = results["step 5"]
    h500, f500, c500 = results["step 500"]
    irps = (len(replay(scenario, schedule[:5]).final.irps), len(replay(scenario, schedule[:500]).final.irps))
    print(
        f"ratio step 500 / step 5: re-render {h500 / h5:.2f}x, step forward {f500 / f5:.2f}x (target about 1x)"
    )
    print(f"  (the world grows: {irps[0]} IRP(s) on the board at step 5, {irps[1]} at step 500)")
    print(f"baseline: a cold replay of 500 steps costs {c500 / c5:.0f}x a cold replay of 5")

    # The same comparison when the world does not grow (take and drop a reference, over and over): what is left
    # is the cost of the step index itself, which incremental replay should make negligible.
    loop = ("Worker-ref", "Worker", "Worker-drop", "Worker") * 130
    forward = {n: step_forward_cost(scenario, engine, loop, n) for n in (5, 500)}
    print(
        f"constant-size world: step forward at 5 {forward[5] * 1e3:.3f} ms, at 500 {forward[500] * 1e3:.3f} ms, "
        f"ratio {forward[500] / forward[5]:.2f}x"
    )


def long_schedule(engine: Engine, length: int, seed: int) -> tuple[str, ...]:
    """A random run of the unbounded sandbox that never takes the menu's stop action, so it keeps going."""
    chooser = random.Random(seed)
    state, chosen = engine.initial(), []
    for _ in range(length):
        action = chooser.choice([a for a in engine.enabled(state) if not a.id.endswith("-stop")])
        chosen.append(action.id)
        state = engine.step(state, action.id).state
    return tuple(chosen)


def render(cache: TraceCache, scenario, engine: Engine, schedule: tuple[str, ...], n: int) -> None:
    """What a step request does: fetch the trace of the first n actions, describe the state after them."""
    trace = cache.get(scenario, schedule[:n])
    describe_state(engine, trace.snapshots[n].state)


def step_forward_cost(scenario, engine: Engine, schedule: tuple[str, ...], n: int, repeat: int = 31) -> float:
    """Median seconds to render step n when the cache holds the trace up to step n - 1 (stepping forward)."""
    samples = []
    for _ in range(repeat):
        cache = TraceCache()
        cache.get(scenario, schedule[: n - 1])
        start = time.perf_counter()
        render(cache, scenario, engine, schedule, n)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


results: dict[str, tuple[float, float, float]] = {}

if __name__ == "__main__":
    main()
