"""The state types under their old module name; they live in ``app.sim.model``."""

from __future__ import annotations

from app.sim.model import (
    ALLOCATED,
    ARMED,
    CLOSED,
    CLOSING,
    FREED,
    IN_COMPLETION_ROUTINE,
    NOT_FUNCTIONAL,
    OPEN,
    OWNED_BY_APP,
    OWNED_BY_WSK,
    Actor,
    Call,
    Frame,
    Irp,
    Rundown,
    Socket,
    State,
    initial_state,
)

__all__ = [
    "ALLOCATED",
    "ARMED",
    "CLOSED",
    "CLOSING",
    "FREED",
    "IN_COMPLETION_ROUTINE",
    "NOT_FUNCTIONAL",
    "OPEN",
    "OWNED_BY_APP",
    "OWNED_BY_WSK",
    "Actor",
    "Call",
    "Frame",
    "Irp",
    "Rundown",
    "Socket",
    "State",
    "initial_state",
]
