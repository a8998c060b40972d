"""NTSTATUS values the simulator names.

Programs compare statuses by name (``st == STATUS_PENDING``); the numeric values are the Windows ones so a
learner who looks a status up in a debugger sees the same number.
"""

from __future__ import annotations

STATUS: dict[str, int] = {
    "STATUS_SUCCESS": 0x00000000,
    "STATUS_PENDING": 0x00000103,
    "STATUS_EVENT_PENDING": 0x40000013,
    "STATUS_UNSUCCESSFUL": 0xC0000001,
    "STATUS_INVALID_PARAMETER": 0xC000000D,
    "STATUS_MORE_PROCESSING_REQUIRED": 0xC0000016,
    "STATUS_INSUFFICIENT_RESOURCES": 0xC000009A,
    "STATUS_DEVICE_NOT_READY": 0xC00000A3,
    "STATUS_FILE_FORCED_CLOSED": 0xC00000B6,
    "STATUS_REQUEST_NOT_ACCEPTED": 0xC00000D0,
    "STATUS_CANCELLED": 0xC0000120,
    "STATUS_INVALID_DEVICE_STATE": 0xC0000184,
    "STATUS_CONNECTION_DISCONNECTED": 0xC000020C,
    "STATUS_CONNECTION_RESET": 0xC000020D,
    "STATUS_DATA_NOT_ACCEPTED": 0xC000021B,
    "STATUS_CONNECTION_ABORTED": 0xC0000241,
}

#: What a read of freed memory yields in the simulator: a recognisable garbage value, as a debug heap fills.
GARBAGE = 0xBAADF00D

_NAMES = {value: name for name, value in STATUS.items()}


def status_name(value: int) -> str:
    """The name of a status value, or its hexadecimal spelling when it has none."""
    return _NAMES.get(value, f"0x{value:08X}")


def show_value(value: int) -> str:
    """A value as a learner reads it: a known status by its name (except 0 and 1, which read as numbers)."""
    name = _NAMES.get(value)
    return name if name is not None and value not in (0, 1) else str(value)


def is_success(value: int) -> bool:
    """NT_SUCCESS: success and informational codes are below 0x80000000."""
    return value < 0x80000000
