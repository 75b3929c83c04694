"""The adjudication view: disputed cells worst first, their detail, and keyboard decisions.

Keys (also listed in the view): Up/Down move, A/J/G/T choose the reason tag, 1 passes and 0 fails
the cell (recorded at once, then the next undecided cell is shown), Esc closes.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSplitter,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from gradeapp.core.rubric import criterion_label
from gradeapp.errors import GradeappError
from gradeapp.services import adjudication, evidence
from gradeapp.ui.evidence_view import side_by_side_html
from gradeapp.ui.project_dialog import ProjectDialog, show_non_modal

# Shortcuts as data: key -> (action, argument), shown in the view's help line.
SHORTCUTS: list[tuple[str, str, Any]] = [
    ("1", "decide", 1),
    ("0", "decide", 0),
    ("A", "reason", "annotator_error"),
    ("J", "reason", "judge_error"),
    ("G", "reason", "guideline_gap"),
    ("T", "reason", "ambiguous_text"),
]


class AdjudicationView(ProjectDialog):
    """A list of disputed cells with a detail pane and decision buttons, on its own project connection."""

    decision_recorded = Signal(str, str, int)  # uid, criterion, value

    def __init__(
        self,
        store_path: Path,
        parent: QWidget | None = None,
        adjudicator: str = adjudication.DEFAULT_ADJUDICATOR,
    ):
        super().__init__(store_path, "Adjudication", (1000, 620), parent)
        self.adjudicator = adjudicator
        self.cells: list[dict[str, Any]] = []

        self.list = QListWidget()
        self.list.setObjectName("cells")
        self.detail = QTextBrowser()
        self.detail.setObjectName("detail")
        self.detail.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        split = QSplitter()
        split.addWidget(self.list)
        split.addWidget(self.detail)
        split.setSizes([420, 580])

        self.reason = QComboBox()
        self.reason.setObjectName("reason")
        self.reason.addItem("choose a reason (A/J/G/T)", None)
        for tag, label in adjudication.REASON_TAGS.items():
            self.reason.addItem(label, tag)
        self.reason.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.pass_button = QPushButton("Pass (1)")
        self.fail_button = QPushButton("Fail (0)")
        for b in (self.pass_button, self.fail_button):
            b.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.pass_button.clicked.connect(lambda: self.decide(1))
        self.fail_button.clicked.connect(lambda: self.decide(0))
        self.status = QLabel()
        self.status.setObjectName("status")
        keys = "  ".join(
            f"{k}: {'pass' if a == 'decide' and v == 1 else 'fail' if a == 'decide' else adjudication.REASON_TAGS[v]}"
            for k, a, v in SHORTCUTS
        )
        help_line = QLabel(f"Up/Down: move  {keys}  Esc: close")

        bar = QHBoxLayout()
        bar.addWidget(QLabel("Reason:"))
        bar.addWidget(self.reason, 1)
        bar.addWidget(self.pass_button)
        bar.addWidget(self.fail_button)
        layout = QVBoxLayout(self)
        layout.addWidget(split, 1)
        layout.addLayout(bar)
        layout.addWidget(self.status)
        layout.addWidget(help_line)

        # Keys are read by an event filter rather than QShortcut: the list would otherwise take letters
        # for its type-ahead search, and shortcuts need an active window.
        self._keys = {k: (action, arg) for k, action, arg in SHORTCUTS}
        self.list.installEventFilter(self)
        self.list.currentRowChanged.connect(self._on_list_row_changed)
        self.refresh()
        self.list.setFocus()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
        if event.type() == QEvent.Type.KeyPress and self._on_key(event):
            return True
        return super().eventFilter(watched, event)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt override
        if not self._on_key(event):
            super().keyPressEvent(event)

    def _on_key(self, event: QKeyEvent) -> bool:
        if event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier:
            return False
        found = self._keys.get(event.text().upper())
        if found is None:
            return False
        action, arg = found
        if action == "decide":
            self.decide(arg)
        else:
            self.set_reason(arg)
        return True

    # -- model -> view ----------------------------------------------------------------------------
    def refresh(self, row: int = 0) -> None:
        """Reload the disputed cells from the project and select row (clamped)."""
        self.cells = adjudication.disagreements(self.store)
        self._render(row)

    def _render(self, row: int) -> None:
        self.list.blockSignals(True)
        self.list.clear()
        for c in self.cells:
            people = " ".join(f"{p['name']}={p['value']}" for p in c["people"])
            judge = f" judge={c['judge']['value']}" if c["judge"] else ""
            done = f"  ✓ {c['decision']['value']}" if c["decision"] else ""
            self.list.addItem(
                QListWidgetItem(
                    f"{c['criterion_rate']:>4.0%}  {c['uid']}  {c['criterion']}   {people}{judge}{done}"
                )
            )
        self.list.blockSignals(False)
        open_cells = sum(c["decision"] is None for c in self.cells)
        self.status.setText(f"{len(self.cells)} disputed cells, {open_cells} undecided")
        if self.cells:
            self.list.setCurrentRow(min(row, len(self.cells) - 1))
            self._show(self.list.currentRow())
        else:
            self.detail.setHtml("<p>No disagreements.</p>")

    def current_cell(self) -> dict[str, Any] | None:
        """Return the selected cell, or None."""
        row = self.list.currentRow()
        return self.cells[row] if 0 <= row < len(self.cells) else None

    def _on_list_row_changed(self, row: int) -> None:
        self._show(row)

    def _show(self, row: int) -> None:
        if not 0 <= row < len(self.cells):
            return
        c = self.cells[row]
        d = adjudication.cell_detail(self.store, c["generation_id"])
        e = html.escape
        parts = [
            f"<h3>{e(c['uid'])}: {e(criterion_label(c['criterion'], d['topic'], d['k']))}</h3>",
            f"<p><i>topic</i> {e(d['topic'])}; <i>skills</i> {e(', '.join(d['skills']))}</p>",
            f"<blockquote>{e(d['text'])}</blockquote>",
            f"<p>Disagreement: {e(', '.join(c['kinds']))}; criterion disputed in {c['criterion_rate']:.0%} "
            f"of {c['criterion_cells']} cells.</p><ul>",
        ]
        for p in c["people"]:
            note = f": <i>{e(p['note'])}</i>" if p["note"] else ""
            parts.append(f"<li><b>{e(p['name'])}</b> {'pass' if p['value'] else 'fail'}{note}</li>")
        for n in c["item_notes"]:
            parts.append(f"<li>{e(n['name'])} (item note): <i>{e(n['note'])}</i></li>")
        if c["judge"]:
            j = c["judge"]
            runs = ", ".join("-" if v is None else str(v) for v in j["runs"])
            parts.append(f"<li><b>judge {e(j['name'])}</b> {'pass' if j['value'] else 'fail'} (runs {runs})")
            parts += [f"<br><i>{e(r)}</i>" for r in j["reasons"]]
            parts.append("</li>")
        parts.append("</ul>")
        parts.append(
            side_by_side_html(
                d["text"], evidence.cell_evidence(self.store, c["generation_id"], c["criterion"])
            )
        )
        if c["decision"]:
            dec = c["decision"]
            parts.append(
                f"<p><b>Decided</b> {'pass' if dec['value'] else 'fail'} by {e(dec['by'])} "
                f"({e(adjudication.REASON_TAGS.get(dec['reason'], dec['reason'] or ''))})</p>"
            )
        self.detail.setHtml("".join(parts))

    # -- actions ----------------------------------------------------------------------------------
    def set_reason(self, tag: str) -> None:
        """Choose the reason tag for the next decisions."""
        self.reason.setCurrentIndex(self.reason.findData(tag))
        self.status.setText(f"reason: {adjudication.REASON_TAGS[tag]}")

    def decide(self, value: int) -> bool:
        """Record the decision on the selected cell, then move to the next undecided one."""
        cell = self.current_cell()
        tag = self.reason.currentData()
        if cell is None:
            return False
        if tag is None:
            self.status.setText(
                "choose a reason first: A annotator error, J judge error, G guideline gap, T ambiguous text"
            )
            return False
        try:
            row = adjudication.decide(
                self.store, cell["uid"], cell["criterion"], value, tag, by=self.adjudicator
            )
        except GradeappError as exc:
            self.status.setText(str(exc))
            return False
        index = self.list.currentRow()
        was_open = cell["decision"] is None
        # Redraw only what changed (no reload of every verdict): the decided cell sinks to the end of the
        # list, so the same row now holds the next undecided cell.
        cell["decision"] = {
            "value": value,
            "reason": row["reason"],
            "by": row["by"],
            "created": "",
            "note": "",
        }
        self.cells.append(self.cells.pop(index))
        self._render(index if was_open else index + 1)
        self.decision_recorded.emit(cell["uid"], cell["criterion"], value)
        return True


def open_adjudication_view(parent: QWidget | None, store_path: Path) -> AdjudicationView:
    """Open the adjudication view on the project at store_path (non-modal); return it."""
    return show_non_modal(AdjudicationView(Path(store_path), parent))
