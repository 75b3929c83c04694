"""The statistics view of the desk: the answer first (Summary), then the tables and plots, kept fresh.

The Summary tab shows what the report's first screen shows: the headline table (full marks per student
and k, calibrated first), one sentence per student and whether the judge can be trusted (a forest plot).
The tabs are built in one place (StatsView._build_tabs): another tab is one more entry there.

Computing runs on a QThreadPool worker with its own connection; results come back by signal, with
progress on the way (a bar and a Cancel button: the computation checks a flag between its steps).
A timer polls the project's change marker (the highest verdict and review ids) every couple of
seconds and recomputes when it moved.
"""

from __future__ import annotations

import html
import math
import threading
import traceback
from pathlib import Path

import pandas as pd
from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
from matplotlib.figure import Figure
from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QRunnable,
    Qt,
    QThreadPool,
    QTimer,
    Signal,
)
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSplitter,
    QTableView,
    QTabWidget,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from gradeapp.core.agreement import AGREEMENT_SUMMARY_COLUMNS
from gradeapp.core.summary import audit_status, headline_table, student_sentences
from gradeapp.db import open_project
from gradeapp.db.audit_store import change_marker, judge_graders
from gradeapp.io.report import headline_html, plot_bias, plot_forest, plot_k_compare, trust_sentence
from gradeapp.services.export import export_project
from gradeapp.services.judges import compare_with_options
from gradeapp.services.stats import Cancelled, StatsOptions, compute_stats
from gradeapp.ui.evidence_stats_view import EvidenceTab

POLL_MS = 2000
SUMMARY_CSS = (
    ".cal{font-size:15pt;font-weight:bold} .ci{color:#555} .sub{color:#555;font-size:8pt} "
    ".over{color:#b03a2e;font-weight:bold} .under{color:#1f618d;font-weight:bold} .why{color:#777;font-size:8pt} "
    ".s{font-weight:bold} .note{color:#555;font-size:9pt} th{background-color:#eef1f5}"
)


class FrameModel(QAbstractTableModel):
    """A read-only table model over a pandas DataFrame (floats shown with three decimals)."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._frame = pd.DataFrame()

    def set_frame(self, frame: pd.DataFrame) -> None:
        self.beginResetModel()
        self._frame = frame.reset_index(drop=True)
        self.endResetModel()

    def frame(self) -> pd.DataFrame:
        return self._frame

    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self._frame)

    def columnCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self._frame.columns)

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        if role != Qt.ItemDataRole.DisplayRole or not index.isValid():
            return None
        value = self._frame.iat[index.row(), index.column()]
        if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
            return ""
        if isinstance(value, float):
            return f"{value:.3f}"
        return str(value)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole):  # noqa: N802
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        if orientation == Qt.Orientation.Horizontal:
            return str(self._frame.columns[section])
        return str(section + 1)


class _Signals(QObject):
    finished = Signal(object)
    failed = Signal(str)
    progress = Signal(float, str)
    cancelled = Signal()


class _Job(QRunnable):
    """Run a function on the thread pool and report its progress, result, error or cancellation by signal.

    fn receives a progress(fraction, what) callable, which raises Cancelled once cancel() was called.
    """

    def __init__(self, fn) -> None:
        super().__init__()
        # The view owns its jobs: with auto-delete the pool would free the runnable, and with it the
        # signals' QObject of the UI thread, on the worker thread while its signal is still queued.
        self.setAutoDelete(False)
        self.fn = fn
        self.signals = _Signals()
        self._cancel = threading.Event()

    def cancel(self) -> None:
        self._cancel.set()

    def _progress(self, fraction: float, what: str) -> None:
        if self._cancel.is_set():
            raise Cancelled
        self.signals.progress.emit(fraction, what)

    def run(self) -> None:
        try:
            result = self.fn(self._progress)
        except Cancelled:
            self.signals.cancelled.emit()
            return
        except Exception as exc:  # reported to the view; the worker thread must not die silently
            self.signals.failed.emit(f"{exc}\n{traceback.format_exc(limit=3)}")
            return
        self.signals.finished.emit(result)


def _compute(store_path: Path, options, progress=None):

    with open_project(store_path, create=False) as store:
        marker = change_marker(store)
        return marker, compute_stats(store, options, progress=progress)


def _export(store_path: Path, out: Path, stats) -> dict:

    with open_project(store_path, create=False) as store:
        return export_project(store, out, stats=stats)


class StatsView(QWidget):
    """Tables and plots of the judge audit for one project file."""

    stats_refreshed = Signal()
    export_finished = Signal(str)
    failed = Signal(str)

    def __init__(
        self, store_path: Path, parent: QWidget | None = None, *, poll_ms: int = POLL_MS, options=None
    ) -> None:
        super().__init__(parent)

        self.store_path = Path(store_path)
        self.options = options or StatsOptions(bootstrap=500)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(1)
        self.stats = None
        self._marker: tuple[int, int] | None = None
        self._busy = False
        self._dirty = False
        self._poll_store = open_project(self.store_path, create=False)
        self.setWindowTitle(f"Statistics: {self.store_path.name}")

        self.status = QLabel("computing…")
        self.refresh_button = QPushButton("&Refresh")
        self.export_button = QPushButton("&Export…")
        self.export_button.setEnabled(False)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(False)
        self.progress.setMaximumWidth(160)
        self.cancel_button = QPushButton("&Cancel")
        self.cancel_button.setEnabled(False)
        self._job: _Job | None = None
        self._jobs: list[_Job] = []
        self.refresh_button.clicked.connect(self.refresh)
        self.export_button.clicked.connect(self._on_export_clicked)
        self.cancel_button.clicked.connect(self.cancel)
        bar = QHBoxLayout()
        bar.addWidget(self.status, 1)
        bar.addWidget(self.progress)
        bar.addWidget(self.cancel_button)
        bar.addWidget(self.refresh_button)
        bar.addWidget(self.export_button)

        self.tabs = QTabWidget()
        self.models: dict[str, FrameModel] = {}
        self._build_tabs()

        self.judges_tab = JudgesTab(self.store_path, self._start, self.options, self)
        self.tabs.addTab(self.judges_tab, "Judges")
        self.stats_refreshed.connect(self.judges_tab.refresh)
        self.evidence_tab = EvidenceTab(self.store_path, self._start, _Job, self)
        self.tabs.addTab(self.evidence_tab, "Evidence")
        self.stats_refreshed.connect(self.evidence_tab.refresh)

        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addWidget(self.tabs, 1)

        self.timer = QTimer(self)
        self.timer.setInterval(poll_ms)
        self.timer.timeout.connect(self._on_timer_timeout)
        self.timer.start()
        self.refresh()

    # -- construction -----------------------------------------------------------------------------
    TABLE_TABS = (
        ("pass_rates", "Pass rates"),
        ("agreement", "Agreement"),
        ("skillmix", "Skill-Mix"),
        ("human_human", "People"),
        ("self_consistency", "Judge runs"),
        ("plan", "Planner"),
        ("exclusions", "Excluded"),
    )

    def _build_tabs(self) -> None:
        """Add every tab in order: Summary, Plots, then one raw table per entry of TABLE_TABS."""
        self.tabs.addTab(self._build_summary(), "Summary")
        self.tabs.addTab(self._build_plots(), "Plots")
        for name, title in self.TABLE_TABS:
            self.tabs.addTab(self._table_tab(name), title)

    def _table_tab(self, name: str) -> QTableView:
        """Return a table view over a new FrameModel registered as self.models[name]."""
        model = FrameModel(self)
        table = QTableView()
        table.setModel(model)
        table.setAlternatingRowColors(True)
        table.setObjectName(f"table_{name}")
        self.models[name] = model
        return table

    def _build_summary(self) -> QWidget:
        """Return the Summary tab: the headline and sentences (left), the judge's trust (right)."""
        self.summary_text = QTextBrowser()
        self.summary_text.setObjectName("summary_text")
        self.summary_text.setOpenLinks(False)
        self.summary_text.document().setDefaultStyleSheet(SUMMARY_CSS)
        self.trust_text = QLabel()
        self.trust_text.setWordWrap(True)
        self.trust_text.setObjectName("trust_text")
        self.forest_figure = Figure(figsize=(5, 4), layout="tight")
        self.forest_canvas = FigureCanvasQTAgg(self.forest_figure)
        right = QWidget()
        rlay = QVBoxLayout(right)
        rlay.setContentsMargins(0, 0, 0, 0)
        title = QLabel("<b>Can the judge be trusted?</b>")
        rlay.addWidget(title)
        rlay.addWidget(self.trust_text)
        rlay.addWidget(self.forest_canvas, 1)
        summary = QSplitter(Qt.Orientation.Horizontal)
        summary.addWidget(self.summary_text)
        summary.addWidget(right)
        summary.setSizes([620, 420])
        return summary

    def _build_plots(self) -> QWidget:
        """Return the Plots tab: the k-curves (judge beside calibrated) above the bias per criterion."""
        self.curve_figure = Figure(figsize=(8, 3), layout="tight")
        self.bias_figure = Figure(figsize=(8, 3), layout="tight")
        self.curve_canvas = FigureCanvasQTAgg(self.curve_figure)
        self.bias_canvas = FigureCanvasQTAgg(self.bias_figure)
        plots = QSplitter(Qt.Orientation.Vertical)
        plots.addWidget(self.curve_canvas)
        plots.addWidget(self.bias_canvas)
        return plots

    # -- computing --------------------------------------------------------------------------------
    def refresh(self) -> None:
        """Recompute every table off the UI thread (queued if a computation is running)."""
        if self._busy:
            self._dirty = True
            return
        self._busy = True
        self._dirty = False
        self.status.setText("computing…")
        job = _Job(lambda progress: _compute(self.store_path, self.options, progress))
        job.signals.finished.connect(self._on_job_finished)
        job.signals.failed.connect(self._on_job_failed)
        job.signals.progress.connect(self._on_job_progress)
        job.signals.cancelled.connect(self._on_job_cancelled)
        self._job = job
        self.progress.setValue(0)
        self.cancel_button.setEnabled(True)
        self._start(job)

    def cancel(self) -> None:
        """Stop the running computation at its next step (the tables keep the last results)."""
        if self._job is not None:
            self._job.cancel()
            self._dirty = False
            self.status.setText("cancelling…")

    def _on_job_progress(self, fraction: float, what: str) -> None:
        self.progress.setValue(round(1000 * fraction))
        self.status.setText(f"computing: {what}…")

    def _on_job_cancelled(self) -> None:
        self._busy = False
        self._job = None
        self.cancel_button.setEnabled(False)
        self.progress.setValue(0)
        self.status.setText("cancelled (Refresh computes again)")

    def _on_timer_timeout(self) -> None:

        marker = change_marker(self._poll_store)
        if self._marker is not None and marker != self._marker:
            self._marker = marker
            self.refresh()

    def _on_job_finished(self, result) -> None:
        self._busy = False
        self._job = None
        self.cancel_button.setEnabled(False)
        self.progress.setValue(1000)
        marker, stats = result
        if self._marker is None or marker > self._marker:
            self._marker = marker
        self.stats = stats
        self._render(stats)
        self.export_button.setEnabled(True)
        self.stats_refreshed.emit()
        if self._dirty:
            self.refresh()

    def _on_job_failed(self, message: str) -> None:
        self._busy = False
        self._job = None
        self.cancel_button.setEnabled(False)
        self.status.setText(f"failed: {message.splitlines()[0]}")
        self.failed.emit(message)

    # -- rendering ---------------------------------------------------------------------------------
    def _render(self, stats) -> None:

        d = stats.data
        agreement = stats.agreement
        overall = agreement[agreement["breakdown"] == "overall"] if not agreement.empty else agreement
        self._render_summary(stats)
        self.models["pass_rates"].set_frame(stats.pass_rates)
        self.models["agreement"].set_frame(overall.reindex(columns=AGREEMENT_SUMMARY_COLUMNS))
        self.models["skillmix"].set_frame(stats.skillmix)
        self.models["human_human"].set_frame(stats.human_human)
        self.models["self_consistency"].set_frame(stats.self_consistency)
        self.models["plan"].set_frame(stats.plan)
        self.models["exclusions"].set_frame(pd.DataFrame(d.exclusions, columns=["what", "n", "why"]))
        self.curve_figure.clear()
        plot_k_compare(stats, fig=self.curve_figure)
        self.curve_canvas.draw_idle()
        self.bias_figure.clear()
        plot_bias(stats, fig=self.bias_figure)
        self.bias_canvas.draw_idle()
        n_people = len(d.human_gen)
        draw = d.draw["name"] if d.draw else "no audit draw"
        self.status.setText(
            f"judge {d.judge_name}; {draw}; {len(d.gens)} generations, {n_people} graded by people; "
            f"{len(agreement)} agreement rows"
        )

    def _render_summary(self, stats) -> None:
        """Fill the Summary tab from the statistics (the same headline and sentences as the report)."""
        head = headline_table(stats.pass_rates, "full_marks", stats.data)
        sentences = student_sentences(head)
        table = headline_html(stats, "full_marks").replace(
            "<table class='h'>", "<table class='h' border='1' cellspacing='0' cellpadding='4' width='100%'>"
        )
        items = "".join(f"<li><b>{html.escape(s)}</b>: {html.escape(t)}</li>" for s, t in sentences.items())
        self.summary_text.setHtml(
            f"<p>{html.escape(audit_status(stats.data, stats.pass_rates))}</p>"
            "<h3>What is each model's true pass rate? (full marks)</h3>"
            "<p class='note'>Big number: calibrated rate (PPI++) and its interval; below: the judge's own rate, "
            "people only, texts audited of judged, the judge's bias in points.</p>"
            f"{table}<ul>{items}</ul>"
        )
        self.trust_text.setText(trust_sentence(stats))
        self.forest_figure.clear()
        plot_forest(stats, self.forest_figure, limit=18)
        self.forest_canvas.draw_idle()

    # -- export ------------------------------------------------------------------------------------
    def choose_export_dir(self) -> Path | None:
        """Ask for the folder to export into (tests replace this)."""
        chosen = QFileDialog.getExistingDirectory(self, "Export the audit into…", str(Path.cwd()))
        return Path(chosen) if chosen else None

    def _on_export_clicked(self) -> None:
        out = self.choose_export_dir()
        if out is None or self.stats is None:
            return
        self.export_button.setEnabled(False)
        self.status.setText(f"exporting to {out}…")
        stats = self.stats
        job = _Job(lambda _progress: _export(self.store_path, out, stats))
        job.signals.finished.connect(self._on_export_done)
        job.signals.failed.connect(self._on_job_failed)
        self._start(job)

    def _start(self, job: _Job) -> None:
        """Run a job on the pool, keeping it alive until the pool is idle again (see _Job)."""
        if self.pool.activeThreadCount() == 0:
            self._jobs.clear()  # every earlier job has returned from run(): free them here, on this thread
        self._jobs.append(job)
        self.pool.start(job)

    def _on_export_done(self, paths: dict) -> None:
        self.export_button.setEnabled(True)
        folder = str(Path(paths["report"]).parent)
        self.status.setText(f"exported to {folder}")
        self.export_finished.emit(folder)

    def closeEvent(self, event) -> None:  # noqa: N802
        self.timer.stop()
        self.cancel()
        self.pool.waitForDone(10_000)
        self._poll_store.close()
        super().closeEvent(event)


def open_stats_view(parent: QWidget | None, store_path: Path) -> StatsView:
    """Open the statistics view of a project as its own window; return it."""
    view = StatsView(Path(store_path), parent)
    view.setWindowFlag(Qt.WindowType.Window, True)
    screen = view.screen().availableGeometry() if view.screen() else None
    # most of the screen: the Summary's headline table and forest plot side by side need the width
    view.resize(
        min(screen.width(), max(1100, round(0.8 * screen.width()))) if screen else 1100,
        min(screen.height(), max(720, round(0.8 * screen.height()))) if screen else 720,
    )
    view.show()
    return view


# -- the Judges tab ---------------------------------------------------------------------------------
def _compare(store_path: Path, options):

    with open_project(store_path, create=False) as store:
        if len(judge_graders(store)) < 2:
            return None  # nothing to compare: do not load the judge a second time
        return compare_with_options(store, options)


class JudgesTab(QWidget):
    """The project's judges against people on the same generations: the verdict, per judge, per pair."""

    refreshed = Signal()

    def __init__(self, store_path: Path, start, options, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        # start(job) runs a job on the view's pool and keeps it alive until it is done
        self.store_path, self.start, self.options = store_path, start, options
        self.comparison = None
        self.verdict = QLabel("comparing the judges…")
        self.verdict.setWordWrap(True)
        self.verdict.setObjectName("judges_verdict")
        self.models: dict[str, FrameModel] = {}
        split = QSplitter(Qt.Orientation.Vertical)
        for name in ("judges", "pairs", "costs"):
            self.models[name] = FrameModel(self)
            table = QTableView()
            table.setModel(self.models[name])
            table.setObjectName(f"table_judges_{name}")
            split.addWidget(table)
        layout = QVBoxLayout(self)
        layout.addWidget(self.verdict)
        layout.addWidget(split, 1)

    def refresh(self) -> None:
        """Compare the judges again on the worker pool (queued behind the statistics)."""
        job = _Job(lambda _progress: _compare(self.store_path, self.options))
        job.signals.finished.connect(self._on_done)
        job.signals.failed.connect(lambda m: self.verdict.setText(m.splitlines()[0]))
        self.start(job)

    def _on_done(self, comparison) -> None:
        if comparison is None:
            self.verdict.setText("This project has one judge: add another configuration to compare judges.")
            self.refreshed.emit()
            return
        self.comparison = comparison
        self.verdict.setText(comparison.sentence)
        self.models["judges"].set_frame(comparison.table())
        self.models["pairs"].set_frame(comparison.pairs)
        self.models["costs"].set_frame(comparison.costs)
        self.refreshed.emit()
