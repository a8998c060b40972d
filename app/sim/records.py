"""Copying a frozen record with some fields changed, quickly.

The world's records (app/sim/model.py) are frozen, slotted dataclasses, so that equal worlds compare and hash
equal. Every step builds a few new records from old ones. ``dataclasses.replace`` does that generically: it
gathers every field into keyword arguments and runs ``__init__``, whose frozen assignments go through
``object.__setattr__``. ``replace`` here makes the same copy through each slot's own setter, in a function
generated once per class (as ``dataclasses`` generates ``__init__``): about four times faster, which matters to the
explorer, whose hundreds of thousands of steps once spent a third of their time in ``dataclasses.replace``.

``remember_hash`` lets a record keep its hash once computed. A step changes one or two records of the world and
shares the rest with the state before it, so hashing the next state (the explorer's index, the step memory, the
reachability meter) costs only what changed, not the whole world again: at step 500 of a long run the world holds
dozens of IRPs, and its hash was the largest cost that grew with the run.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, TypeVar

R = TypeVar("R")

_COPIERS: dict[type, Callable[[Any, dict[str, Any]], Any]] = {}


def replace(record: R, **changes: Any) -> R:
    """A copy of a frozen, slotted dataclass ``record`` with ``changes`` applied: the same result as
    ``dataclasses.replace``, and the same TypeError for a name that is not a field."""
    copier = _COPIERS.get(type(record))
    if copier is None:
        copier = _COPIERS[type(record)] = _copier(type(record))
    return copier(record, changes)  # type: ignore[no-any-return]


def _copier(cls: type) -> Callable[[Any, dict[str, Any]], Any]:
    """The copying function for one record class: for each field, the new value if given, else the old one."""
    names = [f.name for f in dataclasses.fields(cls) if f.init]
    derived = [f for f in dataclasses.fields(cls) if not f.init]  # such as a remembered hash: never copied
    if "__slots__" not in cls.__dict__ or any(f.default is dataclasses.MISSING for f in derived):
        return lambda record, changes: dataclasses.replace(record, **changes)
    scope: dict[str, Any] = {
        "new": object.__new__,
        "cls": cls,
        "names": frozenset(names),
        "unknown": _unknown,
    }
    body = [
        "def copy(record, changes):",
        "    if not changes.keys() <= names:",
        "        unknown(changes, names)",
    ]
    body.append("    result = new(cls)")
    for name in names:
        scope[f"set_{name}"] = cls.__dict__[name].__set__
        body.append(f"    set_{name}(result, changes['{name}'] if '{name}' in changes else record.{name})")
    for f in derived:
        scope[f"set_{f.name}"] = cls.__dict__[f.name].__set__
        scope[f"default_{f.name}"] = f.default
        body.append(f"    set_{f.name}(result, default_{f.name})")
    body.append("    return result")
    exec("\n".join(body), scope)  # built from the class's own field names, which are identifiers
    copier: Callable[[Any, dict[str, Any]], Any] = scope["copy"]
    return copier


def _unknown(changes: dict[str, Any], names: frozenset[str]) -> None:
    wrong = sorted(set(changes) - names)
    raise TypeError(f"{', '.join(wrong)} is not a field of this record (fields: {', '.join(sorted(names))})")


HASH_SLOT = "_hash"


def remember_hash(cls: type[R]) -> type[R]:
    """Make a frozen, slotted record keep its hash once computed, in its field ``_hash`` (declared
    ``field(default=0, init=False, repr=False, compare=False)``). The hash is the one ``dataclasses`` would compute,
    from the compared fields; a copy made with ``replace`` starts without it, since its fields may differ. A record
    whose hash happens to be 0 computes it each time, which is only slower."""
    fields = dataclasses.fields(cls)  # type: ignore[arg-type]
    if not any(f.name == HASH_SLOT and not f.init and not f.compare and f.default == 0 for f in fields):
        raise TypeError(
            f"{cls.__name__} needs a field {HASH_SLOT}: int = field(default=0, init=False, repr=False, "
            "compare=False) to remember its hash in"
        )
    compared = [f.name for f in fields if f.compare and f.hash is not False]
    scope: dict[str, Any] = {"store": cls.__dict__[HASH_SLOT].__set__}
    body = [
        "def __hash__(self):",
        f"    h = self.{HASH_SLOT}",
        "    if not h:",
        f"        h = hash(({''.join(f'self.{name}, ' for name in compared)}))",
        "        store(self, h)",
        "    return h",
    ]
    exec("\n".join(body), scope)  # built from the class's own field names, which are identifiers
    cls.__hash__ = scope["__hash__"]  # type: ignore[method-assign]
    return cls
