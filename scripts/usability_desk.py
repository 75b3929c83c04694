"""The desk as scripts/usability.py runs it: the real window and event loop, reporting what it did.

    python scripts/usability_desk.py PROJECT

Opens the desk on PROJECT (the X display of the environment) and prints one JSON line per event on
stdout: the desk is ready, a key press reached the application (with its time), a write was saved, an
item was painted, another window was shown or finished computing. Key presses come from outside (xdotool,
real X events); a few commands on stdin do what has no key (switch a tab, turn audit mode on).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from PySide6.QtCore import QEvent, QObject, QSocketNotifier, Qt
from PySide6.QtWidgets import QApplication, QTabWidget

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gradeapp.ui.app import desk_settings, open_window  # noqa: E402

MODIFIERS = {Qt.Key.Key_Control, Qt.Key.Key_Shift, Qt.Key.Key_Alt, Qt.Key.Key_Meta}


def say(event: str, **fields) -> None:
    """Print one event as a JSON line (the driver reads them in order)."""
    print(json.dumps({"event": event, "t": time.perf_counter(), **fields}), flush=True)


class Reporter(QObject):
    """Report key presses, paints and windows of the desk as they happen in the event loop."""

    def __init__(self, window) -> None:
        super().__init__(window)
        self.window = window
        self.seen: set[int] = set()
        self.keys_seen: set[tuple[int, int]] = set()
        self.painted_pending = True
        window.text_view.painted.connect(self._on_painted)
        window.item_shown.connect(lambda _gid: setattr(self, "painted_pending", True))

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 - Qt's name
        kind = event.type()
        # a key bound to a shortcut reaches the window as ShortcutOverride only: report its first sight
        if kind in (QEvent.Type.ShortcutOverride, QEvent.Type.KeyPress) and event.key() not in MODIFIERS:
            mark = (event.timestamp(), event.key())
            if mark not in self.keys_seen:
                self.keys_seen.add(mark)
                say("key", key=event.key(), text=event.text())
        elif kind in (QEvent.Type.Show, QEvent.Type.Hide) and self._other_window(obj):
            if kind == QEvent.Type.Hide:
                say("window_closed", title=obj.windowTitle())
            elif id(obj) not in self.seen:
                self.seen.add(id(obj))
                say("window", title=obj.windowTitle(), cls=type(obj).__name__)
                if hasattr(obj, "stats_refreshed"):
                    obj.stats_refreshed.connect(lambda: say("stats_ready"))
        return False

    def _other_window(self, obj) -> bool:
        return obj.isWidgetType() and obj.isWindow() and obj is not self.window and obj.windowTitle() != ""

    def _on_painted(self) -> None:
        if self.painted_pending and self.window.item is not None:
            self.painted_pending = False
            say("painted", uid=self.window.item.uid)


def command(window, line: str) -> None:
    """Do what a command line on stdin asks: 'tab N' (the active window's tabs), 'audit on|off', 'where'."""
    parts = line.split()
    if not parts:
        return
    if parts[0] == "tab":
        active = QApplication.activeWindow()
        tabs = active.findChild(QTabWidget) if active is not None else None
        if tabs is None:
            say("error", message="no tabs in the active window")
            return
        tabs.setCurrentIndex(int(parts[1]))
        tabs.currentWidget().repaint()
        say("tab", index=int(parts[1]), title=tabs.tabText(int(parts[1])), count=tabs.count())
    elif parts[0] == "audit":
        window.actions_by_id["audit_mode"].setChecked(parts[1] == "on")
        if parts[1] == "on":
            window.audit_panel.progress_ready.connect(
                lambda _p: say("audit_ready", rows=window.model.rowCount())
            )
        else:
            where(window)
    elif parts[0] == "where":
        where(window)
    elif parts[0] == "settle":
        app = QApplication.instance()
        for widget in app.topLevelWidgets():
            if widget.isVisible():
                widget.repaint()
        app.processEvents()
        active = QApplication.activeWindow() or window
        ratio = active.devicePixelRatio()
        box = active.frameGeometry()
        say("settled", box=[round(v * ratio) for v in (box.x(), box.y(), box.width(), box.height())])
    elif parts[0] == "close":
        active = QApplication.activeWindow()
        others = [
            w for w in QApplication.topLevelWidgets() if w.isVisible() and w is not window and w.isWindow()
        ]
        (active if active is not None and active is not window else others[-1]).close()


def where(window) -> None:
    """Say which item is on screen, its k, whether the feedback strip shows, how many windows are open."""
    item = window.item
    windows = sum(
        1 for w in QApplication.topLevelWidgets() if w.isVisible() and w.isWindow() and w.windowTitle()
    )
    say(
        "where",
        uid=item.uid if item else None,
        k=item.k if item else None,
        feedback=window.feedback.isVisible(),
        windows=windows,
    )


def main() -> int:
    app = QApplication(sys.argv[:1])
    window = open_window(Path(sys.argv[1]), desk_settings())
    if window is None:
        return 2
    reporter = Reporter(window)
    app.installEventFilter(reporter)
    notifier = QSocketNotifier(sys.stdin.fileno(), QSocketNotifier.Type.Read)
    notifier.activated.connect(lambda _socket: command(window, sys.stdin.readline().strip()))
    original = window.run_write

    def run_write(what):
        result = original(what)
        if result is not None:  # committed: the window shows 'saved' now
            say("saved")
        return result

    window.run_write = run_write
    app.processEvents()
    item = window.item
    say("ready", uid=item.uid if item else None, k=item.k if item else None, width=window.width())
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
