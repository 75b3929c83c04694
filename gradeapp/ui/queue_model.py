"""The queue of generations as a Qt table model that pages rows in from SQLite on demand."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt

from gradeapp.services import grading

COLUMNS = ("Item", "Status", "k", "Student", "Topic")  # the status beside the item: never scrolled away
STATUS = COLUMNS.index("Status")
_FIELD = (1, 5, 3, 2, 4)  # each column's place in a queue row (id, uid, student, k, topic, status)
PAGE_SIZE = 256
# every status a row can show (gradeapp.db.desk_queries.row_status), so that the column fits them all
STATUS_TEXTS = ("done", "draft", "skipped", "flagged", "done, flagged", "draft, flagged", "skipped, flagged")

_Index = QModelIndex | QPersistentModelIndex


class QueueModel(QAbstractTableModel):
    """Rows (id, uid, student, k, topic, status), fetched a page at a time by keyset on the id."""

    def __init__(self, store, grader_id: int, filters: dict[str, Any] | None = None, parent=None) -> None:
        super().__init__(parent)
        self.store, self.grader_id = store, grader_id
        self.filters: dict[str, Any] = dict(filters or {})
        self._rows: list[tuple] = []
        self._row_of: dict[int, int] = {}
        self._exhausted = False
        self.order: list[int] | None = None  # ids served in this order (the audit mode), else by id
        self._served = 0
        self._load_page()

    # -- paging ------------------------------------------------------------------------------------
    def _load_page(self) -> int:
        if self.order is not None:
            start = self._served
            ids = self.order[start : start + PAGE_SIZE]
            self._served += len(ids)
            page = grading.queue_rows(self.store, self.grader_id, ids)
            self._exhausted = self._served >= len(self.order)
        else:
            after = self._rows[-1][0] if self._rows else 0
            page = grading.queue_page(self.store, self.grader_id, self.filters, after, PAGE_SIZE)
            self._exhausted = len(page) < PAGE_SIZE
        if page:
            first = len(self._rows)
            self.beginInsertRows(QModelIndex(), first, first + len(page) - 1)
            for i, row in enumerate(page):
                self._row_of[row[0]] = first + i
            self._rows.extend(page)
            self.endInsertRows()
        return len(page)

    def canFetchMore(self, parent: _Index = QModelIndex()) -> bool:  # noqa: B008 - Qt's signature
        return not parent.isValid() and not self._exhausted

    def fetchMore(self, parent: _Index = QModelIndex()) -> None:  # noqa: B008
        if not parent.isValid() and not self._exhausted:
            self._load_page()

    def set_filters(self, filters: dict[str, Any]) -> None:
        """Show the queue with other filters (reloads from the first page)."""
        self.beginResetModel()
        self.filters = dict(filters)
        self._rows, self._row_of, self._exhausted = [], {}, False
        self._served = 0
        self.endResetModel()
        self._load_page()

    def set_order(self, ids: list[int] | None) -> None:
        """Serve exactly these generations in this order (None: back to the filtered queue by id)."""
        self.order = None if ids is None else [int(i) for i in ids]
        self.set_filters(self.filters)

    # -- Qt model API ------------------------------------------------------------------------------
    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row = self._rows[index.row()]
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            return row[_FIELD[index.column()]]
        if role == Qt.ItemDataRole.UserRole:
            return row[0]
        return None

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return COLUMNS[section]
        return None

    # -- desk helpers ------------------------------------------------------------------------------
    def generation_id(self, row: int) -> int | None:
        return self._rows[row][0] if 0 <= row < len(self._rows) else None

    def row_of(self, generation_id: int) -> int | None:
        return self._row_of.get(generation_id)

    def load_until(self, generation_id: int) -> int | None:
        """Page rows in until this generation is loaded; return its row (None when the queue lacks it)."""
        while generation_id not in self._row_of and not self._exhausted:
            self._load_page()
        return self._row_of.get(generation_id)

    def next_row(self, row: int) -> int | None:
        """Return the row after row, paging in more rows when needed; None at the end of the queue."""
        if row + 1 >= len(self._rows) and not self._exhausted:
            self._load_page()
        return row + 1 if row + 1 < len(self._rows) else None

    def set_status(self, generation_id: int, status: str) -> None:
        """Show a new status for one loaded row (after a submit, flag or undo)."""
        row = self._row_of.get(generation_id)
        if row is None:
            return
        r = self._rows[row]
        self._rows[row] = (*r[:5], status)
        idx = self.index(row, STATUS)
        self.dataChanged.emit(idx, idx, [Qt.ItemDataRole.DisplayRole])
