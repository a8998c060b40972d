"""The rules the detectors enforce: each violation kind with the rule id it models, a plain-language
consequence for learners, and the official documentation page that states the rule.

Kinds are stable snake_case ids used by the API, links and tests; renaming one breaks old links.
"""

from __future__ import annotations

from dataclasses import dataclass

LEARN = "https://learn.microsoft.com/windows-hardware/drivers"


@dataclass(frozen=True, slots=True)
class Rule:
    """One rule the simulator checks: the violation kind it raises, its rule id, what breaking it costs on a real
    machine, and the documentation page that states it."""

    kind: str
    rule: str  # the project's rule ids, e.g. "UB-2 / P1", each explained in the glossary
    title: str
    consequence: str  # what happens on a real machine, in plain words
    doc_title: str
    doc_url: str


_RULES = (
    Rule(
        "call_after_close", "UB-1 / UB-6", "A socket function was called after WskCloseSocket",
        "Once WskCloseSocket is called the handle is dead: WSK tears the socket down and frees it. The call goes "
        "through a dangling Socket->Dispatch pointer; on a real machine that crashes or corrupts memory.",
        "Closing a Socket", f"{LEARN}/network/closing-a-socket",
    ),
    Rule(
        "close_with_call_in_progress", "UB-2 / P1", "WskCloseSocket was called while another call was in progress",
        "The call still inside WSK runs on a socket that is being torn down. Its IRP was not pending when close "
        "cancelled the pending ones, so it may never complete (a leak or a hang), or WSK touches freed memory.",
        "Closing a Socket", f"{LEARN}/network/closing-a-socket",
    ),
    Rule(
        "close_with_retained_indication", "UB-3 / P3", "WskCloseSocket was called with a data indication retained",
        "Close does not give retained data indication lists back to WSK, so their buffers leak; releasing them "
        "later is itself a call after close.",
        "PFN_WSK_RELEASE_DATA_INDICATION_LIST", f"{LEARN}/ddi/wsk/nc-wsk-pfn_wsk_release_data_indication_list",
    ),
    Rule(
        "context_use_after_free", "UB-4", "The socket context was used after it was freed",
        "A completion routine, an event callback or a thread touched the application's socket context after it "
        "was freed: it reads garbage or writes into memory that now belongs to someone else.",
        "Closing a Socket", f"{LEARN}/network/closing-a-socket",
    ),
    Rule(
        "socket_use_after_free", "UB-5", "The WSK_SOCKET was used after WSK freed it",
        "WSK frees the socket object when the close completes. Anything that dereferences it afterwards (even "
        "WSK itself, finishing a call that was in progress) reads freed memory.",
        "WSK_SOCKET structure", f"{LEARN}/ddi/wsk/ns-wsk-_wsk_socket",
    ),
    Rule(
        "wait_in_callback", "UB-7 / E-4", "A completion routine or event callback waited",
        "Callbacks and completion routines must not wait for other WSK requests. Close waits for callbacks in "
        "progress, so a callback that waits for the close waits for itself.",
        "Winsock Kernel Events", f"{LEARN}/network/winsock-kernel-events",
    ),
    Rule(
        "irp_double_free", "IRP-B1", "An IRP was freed twice",
        "The second IoFreeIrp returns memory that is no longer the IRP's: pool corruption or a bug check.",
        "IoFreeIrp", f"{LEARN}/ddi/wdm/nf-wdm-iofreeirp",
    ),
    Rule(
        "irp_free_while_pending", "IRP-B2", "An IRP was freed while WSK still owned it",
        "WSK will still complete the IRP and write its status into freed memory; Driver Verifier stops the "
        "machine with bug check 0xC9.",
        "IoFreeIrp", f"{LEARN}/ddi/wdm/nf-wdm-iofreeirp",
    ),
    Rule(
        "irp_use_after_free", "IRP-B3 / IRP-B9", "An IRP was used after it was freed",
        "The completion routine can run, and free the IRP, before the call returns; code that touches the IRP "
        "afterwards reads garbage or corrupts whatever now occupies that memory. So does the I/O manager when a "
        "completion routine returns anything but STATUS_MORE_PROCESSING_REQUIRED for an IRP already freed.",
        "Using IRPs with Winsock Kernel Functions", f"{LEARN}/network/using-irps-with-winsock-kernel-functions",
    ),
    Rule(
        "completion_wrong_return", "IRP-B4 / I-2", "A completion routine did not return STATUS_MORE_PROCESSING_REQUIRED",
        "For an IRP from IoAllocateIrp, any other return lets the I/O manager continue completing an IRP that "
        "belongs to no thread: the machine crashes.",
        "Using IRPs with Winsock Kernel Functions", f"{LEARN}/network/using-irps-with-winsock-kernel-functions",
    ),
    Rule(
        "irp_reuse_while_pending", "IRP-B5", "An IRP was reused while still in use, or without IoReuseIrp",
        "One IRP cannot carry two operations: its stack location is overwritten and one of the completions is lost.",
        "IoReuseIrp", f"{LEARN}/ddi/wdm/nf-wdm-ioreuseirp",
    ),
    Rule(
        "null_irp", "IRP-NULL", "A NULL IRP was used",
        "IoAllocateIrp returns NULL when it cannot allocate an IRP. Passing that NULL to a WSK function or an "
        "IRP routine dereferences a null pointer: the machine stops with a bug check. Test the result and fail "
        "with STATUS_INSUFFICIENT_RESOURCES, as the documentation's examples do.",
        "IoAllocateIrp", f"{LEARN}/ddi/wdm/nf-wdm-ioallocateirp",
    ),
    Rule(
        "irp_leak", "IRP-B6", "An IRP was never freed",
        "The IRP, and usually the buffers and context that travel with it, stay allocated forever.",
        "Using IRPs with Winsock Kernel Functions", f"{LEARN}/network/using-irps-with-winsock-kernel-functions",
    ),
    Rule(
        "wait_at_dispatch", "IRP-B7 / R6", "A wait was started at DISPATCH_LEVEL",
        "Code running at DISPATCH_LEVEL must not block: the scheduler cannot run at that level, so the wait "
        "hangs the processor or stops the machine with IRQL_NOT_LESS_OR_EQUAL.",
        "IO_COMPLETION_ROUTINE callback", f"{LEARN}/ddi/wdm/nc-wdm-io_completion_routine",
    ),
    Rule(
        "deadlock", "S8 / S9 / S15", "Nothing can move while someone waits",
        "Every remaining actor is waiting for something that can no longer happen: the driver hangs, and so "
        "does its unload.",
        "Closing a Socket", f"{LEARN}/network/closing-a-socket",
    ),
    Rule(
        "leak_at_unload", "R-REG-5 / R-REG-7", "Something was still open when the run ended",
        "A socket left open, a captured provider NPI, a retained indication or an unfreed context: WskDeregister "
        "waits for open sockets, so the driver can never unload cleanly.",
        "Unregistering a Winsock Kernel Application", f"{LEARN}/network/unregistering-a-winsock-kernel-application",
    ),
)  # fmt: skip

RULES: dict[str, Rule] = {r.kind: r for r in _RULES}
VIOLATION_KINDS: tuple[str, ...] = tuple(RULES)
