"""Which locals a program may still read: the classic live-variable analysis, statement by statement.

A local is *live* at a statement when some way through the program from there reads it before writing it. A local
that is not live (``st`` after a WskSend whose status nothing tests, ``ok`` once its test is behind) can hold any
value without changing anything the program will do: the explorer leaves such values out of its state key
(app/sim/canon.py), and an IRP that only dead locals hold is no longer its thread's (app/sim/independence.py).
"""

from __future__ import annotations

from app.sim import scenario as sc
from app.sim.program import CompiledProgram


def live_locals(program: CompiledProgram) -> tuple[frozenset[str], ...]:
    """For each statement of a program, the locals live there: read by that statement, or not written by it and
    live at a statement that can come next. A socket call's result is written when the call returns, before
    anything else the program does."""
    statements = program.statements
    reads = [frozenset({getattr(s, "irp", ""), *s.reads_locals} - {""}) for s in statements]
    writes = [frozenset(s.assigns) for s in statements]
    live = [frozenset[str]() for _ in statements]
    changed = True
    while changed:  # to a fixed point, backwards over the program's jumps
        changed = False
        for pc in reversed(range(len(statements))):
            after = frozenset[str]().union(*(live[n] for n in next_statements(program, pc)))
            now = reads[pc] | (after - writes[pc])
            if now != live[pc]:
                live[pc], changed = now, True
    return tuple(live)


def next_statements(program: CompiledProgram, pc: int) -> list[int]:
    """Where control can go after statement ``pc``: the next statement, and a jump's target. A return (and running
    past the last statement) goes nowhere in this program."""
    stmt = program.statements[pc]
    following = [pc + 1] if pc + 1 < len(program.statements) else []
    if isinstance(stmt, sc.Return):
        return []
    if isinstance(stmt, sc.GotoIf):
        target = program.label_index(stmt.target)
        return [target] if stmt.cond is None else [*following, target]
    return following
