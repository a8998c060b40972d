"""Designs side by side: the code of each variant of a family, program by program, with the lines that differ from
the other variants marked. Pure: compiled scenarios in, view data out."""

from __future__ import annotations

from difflib import SequenceMatcher
from typing import Any

from app.sim import CompiledScenario


def _differing(lines: list[str], others: list[list[str]]) -> set[int]:
    """The indexes of ``lines`` that at least half of the other variants' programs do not have at that place: with
    two designs, what the other lacks; with a family of six, what this design does differently from most (a line
    that one odd design lacks is not marked in the five others)."""
    if not others:
        return set()
    shared = [0] * len(lines)
    for other in others:
        matcher = SequenceMatcher(a=lines, b=other, autojunk=False)
        for block in matcher.get_matching_blocks():
            for i in range(block.a, block.a + block.size):
                shared[i] += 1
    return {i for i, count in enumerate(shared) if 2 * count < len(others) or count == 0}


SHARED_MEMORY = "Shared memory, set up before the threads start"


def _code(design: CompiledScenario) -> dict[str, list[str]]:
    """A design's code by title: its shared memory's set-up first (two designs may differ only in the type of an
    event), then each program."""
    code = {SHARED_MEMORY: list(design.setup_lines)} if design.memory else {}
    for program in design.programs.values():
        code.setdefault(program.title, list(program.lines))
    return code


def side_by_side(designs: list[CompiledScenario]) -> list[dict[str, Any]]:
    """One row per program (a thread, an operation, a routine) in the order the first design that has it lists it,
    after a row for the shared memory's set-up; in each row, one column per design, with its lines and which of
    them differ from the other designs."""
    codes = [_code(design) for design in designs]
    titles: list[str] = []
    for code_of in codes:
        titles += [title for title in code_of if title not in titles]
    titles.sort(key=lambda title: title != SHARED_MEMORY)  # stable: the set-up first, the programs in order
    rows = []
    for title in titles:
        code = [code_of.get(title) for code_of in codes]
        present = [lines for lines in code if lines is not None]
        columns = []
        for lines in code:
            if lines is None:
                columns.append({"absent": True, "lines": []})
                continue
            others = [o for o in present if o is not lines]
            marked = _differing(lines, others)
            columns.append(
                {"absent": False, "lines": [{"text": t, "differs": i in marked} for i, t in enumerate(lines)]}
            )
        same = all(lines == present[0] for lines in present) and len(present) == len(designs)
        rows.append({"title": title, "columns": columns, "same": same})
    return rows
