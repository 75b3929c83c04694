"""Guard against a PySide6 binding bug that would abort the desk after a few thousand Qt calls.

PySide6 6.12.0 on Python 3.11 drops one reference to None on every call of a Qt method that returns
void (QObject.setObjectName, QLabel.setText, ...). On Python >= 3.12 None is immortal and nothing
happens; on 3.11 None's reference count (a few thousand at start) reaches zero after a few thousand
calls and CPython aborts with "none_dealloc: deallocating None". pyproject.toml excludes that release;
this guard keeps an installation that still has it alive: it measures the leak once and, if there is
one, gives None a reference count that no session can exhaust. None is a static object that is never
freed, so a larger count changes nothing else.
"""

from __future__ import annotations

import ctypes
import sys

_RESERVE = 1 << 40  # ~10^12 leaked references: centuries of grading


def none_leak_per_call() -> float:
    """Return how many references to None one void Qt call drops (0.0 on a healthy PySide6)."""
    from PySide6.QtCore import QObject

    probe = QObject()
    before = sys.getrefcount(None)
    for _ in range(100):
        probe.setObjectName("probe")
    return (before - sys.getrefcount(None)) / 100


def guard_none_refcount() -> bool:
    """Pad None's reference count when the installed PySide6 leaks it; return whether it did."""
    if sys.version_info >= (3, 12) or sys.implementation.name != "cpython":
        return False
    if none_leak_per_call() <= 0:
        return False
    # ob_refcnt is the first field of every CPython object (Py_ssize_t)
    ctypes.c_ssize_t.from_address(id(None)).value += _RESERVE
    return True


GUARDED = guard_none_refcount()
