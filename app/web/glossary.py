"""The glossary: every domain word and rule id the stage shows, explained once for someone who knows C but not
WSK, with the documentation page that defines it.

The stage wraps each such word in a link to its entry here (``term``), whose explanation
appears on hover and on keyboard focus; ``/glossary`` lists them all. Rule ids come from app/sim/rules.py, so a
new rule is in the glossary as soon as the engine knows it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from markupsafe import Markup, escape

from app.sim import RULES

LEARN = "https://learn.microsoft.com/windows-hardware/drivers"


@dataclass(frozen=True)
class Term:
    word: str
    meaning: str  # one or two plain sentences
    doc_title: str
    doc_url: str

    @property
    def anchor(self) -> str:
        return "term-" + re.sub(r"[^a-z0-9]+", "-", self.word.lower()).strip("-")


_TERMS = (
    Term(
        "IRP",
        "An I/O request packet: the structure a driver hands to WSK with each socket call. WSK owns it until it "
        "completes the request; then the driver's completion routine runs, and the IRP is the driver's again.",
        "Using IRPs with Winsock Kernel Functions",
        f"{LEARN}/network/using-irps-with-winsock-kernel-functions",
    ),
    Term(
        "IRQL",
        "Interrupt request level: how urgently the current code runs. At PASSIVE_LEVEL a thread may wait; at "
        "DISPATCH_LEVEL it must not, because nothing else can run on that processor meanwhile.",
        "Managing Hardware Priorities",
        f"{LEARN}/kernel/managing-hardware-priorities",
    ),
    Term(
        "PASSIVE_LEVEL",
        "The lowest IRQL, where ordinary driver threads run. Code here may block, for example in "
        "KeWaitForSingleObject.",
        "Managing Hardware Priorities",
        f"{LEARN}/kernel/managing-hardware-priorities",
    ),
    Term(
        "DISPATCH_LEVEL",
        "A raised IRQL. WSK may run completion routines and event callbacks here, so they must not wait or block: "
        "they may only signal, queue work, or do short non-blocking things.",
        "Managing Hardware Priorities",
        f"{LEARN}/kernel/managing-hardware-priorities",
    ),
    Term(
        "STATUS_PENDING",
        "What a WSK call returns when the request is still in progress: WSK keeps the IRP and completes it later, "
        "and only then does the completion routine run.",
        "Using IRPs with Winsock Kernel Functions",
        f"{LEARN}/network/using-irps-with-winsock-kernel-functions",
    ),
    Term(
        "STATUS_MORE_PROCESSING_REQUIRED",
        "What a completion routine returns to tell the I/O manager to stop completing the IRP: the driver keeps "
        "it, to free it or reuse it. WSK clients' completion routines always return it.",
        "Using IRPs with Winsock Kernel Functions",
        f"{LEARN}/network/using-irps-with-winsock-kernel-functions",
    ),
    Term(
        "completion routine",
        "The driver's function that WSK calls, through the I/O manager, when it completes an IRP. It runs in an "
        "arbitrary thread, possibly at DISPATCH_LEVEL, and possibly while another thread is closing the socket.",
        "Using IRPs with Winsock Kernel Functions",
        f"{LEARN}/network/using-irps-with-winsock-kernel-functions",
    ),
    Term(
        "event callback",
        "A driver function WSK calls when something happens on a socket, such as data arriving (receive) or the "
        "peer disconnecting. A close waits for callbacks in progress to return.",
        "Winsock Kernel Events",
        f"{LEARN}/network/winsock-kernel-events",
    ),
    Term(
        "notification event",
        "A kernel event (KEVENT) that, once set with KeSetEvent, stays signalled, releasing every wait on it, until "
        "someone calls KeClearEvent. Reusing one for a second wait needs a KeClearEvent before the second "
        "operation starts.",
        "KeInitializeEvent function",
        f"{LEARN}/ddi/wdm/nf-wdm-keinitializeevent",
    ),
    Term(
        "synchronization event",
        "An auto-reset kernel event: KeSetEvent releases one waiting thread and the event goes back to not "
        "signalled. If nobody is waiting, it stays signalled until the next wait takes the signal; two sets with no "
        "wait in between count as one.",
        "KeInitializeEvent function",
        f"{LEARN}/ddi/wdm/nf-wdm-keinitializeevent",
    ),
    Term(
        "PendingReturned",
        "A flag in the IRP that a completion routine can read: TRUE when WSK marked the IRP pending, that is, when "
        "the call that took it returns STATUS_PENDING; FALSE when the call returns any other status, WSK having "
        "completed the IRP before the call returned. TRUE says nothing about timing: the routine may still run "
        "before the call returns.",
        "IRP structure",
        f"{LEARN}/ddi/wdm/ns-wdm-_irp",
    ),
    Term(
        "run-down protection",
        "A counter with a 'closing' bit in one word: acquiring it fails once run-down has begun, and the closer "
        "waits until every holder has released it. The kernel's own answer to 'is anyone still using this?'.",
        "Run-Down Protection",
        f"{LEARN}/kernel/run-down-protection",
    ),
    Term(
        "WSK subsystem",
        "The kernel's socket provider: it runs the requests, completes or cancels IRPs, delivers event callbacks "
        "and, after WskCloseSocket, tears the socket down and frees it.",
        "Introduction to Winsock Kernel",
        f"{LEARN}/network/introduction-to-winsock-kernel",
    ),
    Term(
        "peer",
        "The program at the other end of the connection. It may send data, close its half gracefully (FIN) or "
        "reset the connection (RST), at any moment.",
        "Disconnecting a Socket from a Destination",
        f"{LEARN}/network/disconnecting-a-socket-from-a-destination",
    ),
    Term(
        "FIN",
        "A graceful close of one direction: the sender has no more data. The other direction may go on.",
        "Disconnecting a Socket from a Destination",
        f"{LEARN}/network/disconnecting-a-socket-from-a-destination",
    ),
    Term(
        "RST",
        "A reset: the connection is aborted at once, in both directions, and pending requests fail. "
        "WskCloseSocket sends one if the socket was not disconnected in both directions first.",
        "Closing a Socket",
        f"{LEARN}/network/closing-a-socket",
    ),
)

TERMS: dict[str, Term] = {t.word: t for t in _TERMS}
# Every rule id the detectors name, as the banner and the diagram show it ("UB-2 / P1").
RULE_TERMS: dict[str, Term] = {
    rule.rule: Term(rule.rule, f"{rule.title}. {rule.consequence}", rule.doc_title, rule.doc_url)
    for rule in RULES.values()
}


def lookup(word: str) -> Term | None:
    """The entry for a word or rule id the stage shows, if the glossary explains it."""
    return TERMS.get(word) or RULE_TERMS.get(word)


def entries() -> list[Term]:
    """Every entry, the domain words first (in teaching order), then the rules by id."""
    return [*_TERMS, *sorted(RULE_TERMS.values(), key=lambda t: t.word)]


@lru_cache(maxsize=1024)
def term(word: str, text: str | None = None) -> Markup:
    """A word the glossary explains, as the stage shows it: a link to its entry, whose meaning shows on hover and
    on keyboard focus (app.css); a word it does not know, escaped as it is. Built once per word: a step shows the
    same few words again and again."""
    entry = lookup(word)
    shown = escape(text or word)
    if entry is None:
        return Markup(shown)
    return Markup(
        f'<a class="term" href="/glossary#{escape(entry.anchor)}" data-tip="{escape(entry.meaning)}" '
        f'hx-boost="false">{shown}</a>'
    )
