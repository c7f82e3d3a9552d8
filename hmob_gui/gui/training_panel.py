"""The training form: every setting the CLI has, checked as you type, and the run buttons.

Values are judged by :func:`~hmob_gui.gui.training_request.build_request`
(the core's own checks); a refused value is outlined in red with the reason
beside the buttons, and Start stays disabled until the form is valid.
"""
from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (QButtonGroup, QCheckBox, QComboBox, QFileDialog, QFormLayout, QGroupBox,
                               QHBoxLayout, QLabel, QLineEdit, QPushButton, QRadioButton, QScrollArea,
                               QToolButton, QVBoxLayout, QWidget)

from .training_request import DEFAULTS, RECIPES, FormError, TrainingRequest, build_request

_INVALID_STYLE = "border: 2px solid #d62728; border-radius: 3px;"

_TIPS = {
    "data_dir": "Folder holding the four IDX files (empty: $HMOB_DATA, else the per-user cache, "
                "where they are downloaded when missing)",
    "train_limit": "0: all 50,000 training images. N: only the first N (validation and test use N/4) "
                   "— for a quick look on a slow computer",
    "teacher_epochs": "Epochs of the teacher CNN when it is trained here first",
    "depth": "1…10: a tree of depth D has 2^D − 1 filters and 2^D leaves",
    "targets": "distilled: learn the teacher's soft targets; hard: learn the true labels",
    "temperature": "Softmax temperature of the teacher's soft targets (> 0)",
    "beta": "Inverse temperature β of every inner node: p = σ(β(x·w + b))",
    "learn_beta": "Learn β (starting from the value above)",
    "penalty": "Strength λ of the balanced-split penalty (≥ 0)",
    "penalty_decay": "Factor of the penalty per level of depth, in (0, 1] (paper: 0.5)",
    "ema_window": "Running-average window of the penalty, in batches at the root, doubled per level (≥ 1)",
    "lr": "Adam learning rate (> 0)",
    "lr_schedule": "constant, or cosine down to 0 over the run",
    "weight_decay": "L2 weight decay (≥ 0)",
    "augment_shift": "Random translation of up to this many pixels (0…8)",
    "batch_size": "Images per optimisation step (≥ 1)",
    "epochs": "Passes over the training images (≥ 1)",
    "snapshot_every": "Samples between two snapshots of the tree (the live view and the timeline); "
                      "0: only at the end of each epoch",
    "seed": "Random seed (initial weights, batch order)",
    "restarts": "1: start from the seed's weights. N > 1: first train N trees (seeds seed … seed + N − 1) "
                "for a few epochs each and continue the one with the best validation accuracy — a small tree's "
                "result depends a lot on its start",
    "restart_epochs": "Epochs each tried start is trained before the best is chosen (≥ 1)",
    "device": "auto: the first CUDA device when there is one, else the CPU",
}


class TrainingPanel(QScrollArea):
    """Signals: ``startRequested(TrainingRequest)``, ``pauseRequested``, ``resumeRequested``,
    ``stopRequested``, ``validityChanged(bool, str)``."""

    startRequested = Signal(object)
    pauseRequested = Signal()
    resumeRequested = Signal()
    stopRequested = Signal()
    validityChanged = Signal(bool, str)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setWidgetResizable(True)
        self.setMinimumWidth(300)
        body = QWidget()
        self.setWidget(body)
        outer = QVBoxLayout(body)
        self.fields: dict[str, QWidget] = {}
        self.state = "idle"
        self._request: TrainingRequest | None = None
        self._error: FormError | None = None

        from ..core.datasets import DATASETS

        # ---- one-click recipes
        self.recipe_combo = QComboBox()
        self.recipe_combo.addItem("recipe…", None)
        for name in RECIPES:
            self.recipe_combo.addItem(name, name)
        self.recipe_combo.setToolTip("Fill the form with a ready-made set of settings; data and teacher stay as they are")
        self.recipe_combo.activated.connect(self._apply_recipe)
        outer.addWidget(self.recipe_combo)

        # ---- data
        data_box, form = self._group("Data", outer)
        combo = QComboBox()
        for spec in DATASETS.values():
            combo.addItem(spec.title, spec.name)
        self._add(form, "dataset", combo, "data set")
        self._add(form, "data_dir", self._with_browse(QLineEdit(), self._browse_data_dir), "data folder")
        self._add(form, "train_limit", QLineEdit(), "training images")

        # ---- teacher
        teacher_box, form = self._group("Teacher (for distillation)", outer)
        self.teacher_buttons = QButtonGroup(self)
        row = QHBoxLayout()
        for i, (key, text) in enumerate((("shipped", "shipped"), ("file", "from file"), ("train", "train new"))):
            b = QRadioButton(text)
            b.setProperty("source", key)
            self.teacher_buttons.addButton(b, i)
            row.addWidget(b)
        holder = QWidget()
        holder.setLayout(row)
        row.setContentsMargins(0, 0, 0, 0)
        form.addRow("teacher", holder)
        self.teacher_buttons.buttonToggled.connect(lambda *_: self._changed())
        self._add(form, "teacher_path", self._with_browse(QLineEdit(), self._browse_teacher), "teacher file")
        self._add(form, "teacher_epochs", QLineEdit(), "teacher epochs")

        # ---- tree
        tree_box, form = self._group("Tree", outer)
        self._add(form, "depth", QLineEdit(), "depth")
        combo = QComboBox()
        combo.addItem("distilled (teacher's soft targets)", "distilled")
        combo.addItem("hard labels", "hard")
        self._add(form, "targets", combo, "targets")
        self._add(form, "temperature", QLineEdit(), "temperature")
        self._add(form, "beta", QLineEdit(), "β")
        self._add(form, "learn_beta", QCheckBox("learned"), "")
        self._add(form, "penalty", QLineEdit(), "λ (penalty)")
        self._add(form, "penalty_decay", QLineEdit(), "penalty decay")
        self._add(form, "ema_window", QLineEdit(), "EMA window")

        # ---- optimisation
        opt_box, form = self._group("Training", outer)
        self._add(form, "lr", QLineEdit(), "learning rate")
        combo = QComboBox()
        combo.addItems(["constant", "cosine"])
        self._add(form, "lr_schedule", combo, "schedule")
        self._add(form, "weight_decay", QLineEdit(), "weight decay")
        self._add(form, "batch_size", QLineEdit(), "batch size")
        self._add(form, "epochs", QLineEdit(), "epochs")
        self._add(form, "snapshot_every", QLineEdit(), "snapshot every (samples)")
        self._add(form, "augment_shift", QLineEdit(), "random shift (px)")
        self._add(form, "seed", QLineEdit(), "seed")
        self._add(form, "restarts", QLineEdit(), "starts to try")
        self._add(form, "restart_epochs", QLineEdit(), "epochs per start")
        combo = QComboBox()
        combo.addItem("auto", "auto")
        combo.addItem("cpu", "cpu")
        self._add(form, "device", combo, "device")

        # ---- status and buttons
        self.error_label = QLabel()
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet("color: #b00020;")
        outer.addWidget(self.error_label)
        buttons = QHBoxLayout()
        self.start_button = QPushButton("Start")
        self.pause_button = QPushButton("Pause")
        self.stop_button = QPushButton("Stop")
        self.start_button.setToolTip("Train a tree with these settings (Ctrl+R)")
        for b in (self.start_button, self.pause_button, self.stop_button):
            buttons.addWidget(b)
        outer.addLayout(buttons)
        defaults = QPushButton("Restore defaults")
        defaults.clicked.connect(lambda: self.set_values(DEFAULTS))
        outer.addWidget(defaults)
        outer.addStretch(1)
        self.start_button.clicked.connect(self._on_start)
        self.pause_button.clicked.connect(self._on_pause)
        self.stop_button.clicked.connect(self.stopRequested)

        self._validate_timer = QTimer(self)
        self._validate_timer.setSingleShot(True)
        self._validate_timer.setInterval(120)
        self._validate_timer.timeout.connect(self.validate)
        self.set_values(DEFAULTS, validate=False)  # checked just after the window appears (imports torch)
        self._validate_timer.start()
        self.set_state("idle")
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        self.setMinimumWidth(body.sizeHint().width() + self.verticalScrollBar().sizeHint().width() + 4)

    # -------------------------------------------------------------- building

    def _group(self, title: str, outer: QVBoxLayout):
        box = QGroupBox(title)
        form = QFormLayout(box)
        form.setFieldGrowthPolicy(QFormLayout.AllNonFixedFieldsGrow)
        outer.addWidget(box)
        return box, form

    def _with_browse(self, edit: QLineEdit, callback) -> QLineEdit:
        button = QToolButton()
        button.setText("…")
        button.clicked.connect(callback)
        edit._browse_button = button  # noqa: SLF001 - kept for the layout below
        return edit

    def _add(self, form: QFormLayout, name: str, widget: QWidget, label: str) -> None:
        self.fields[name] = widget
        widget.setObjectName(f"field_{name}")
        if name in _TIPS:
            widget.setToolTip(_TIPS[name])
        if isinstance(widget, QLineEdit):
            widget.textChanged.connect(self._changed)
        elif isinstance(widget, QComboBox):
            widget.currentIndexChanged.connect(self._changed)
        elif isinstance(widget, QCheckBox):
            widget.toggled.connect(self._changed)
        button = getattr(widget, "_browse_button", None)
        if button is not None:
            row = QHBoxLayout()
            row.setContentsMargins(0, 0, 0, 0)
            row.addWidget(widget, 1)
            row.addWidget(button)
            holder = QWidget()
            holder.setLayout(row)
            form.addRow(label, holder)
        else:
            form.addRow(label, widget)

    # -------------------------------------------------------------- values

    def values(self) -> dict:
        out = {}
        for name, w in self.fields.items():
            if isinstance(w, QLineEdit):
                out[name] = w.text()
            elif isinstance(w, QComboBox):
                out[name] = w.currentData() if w.currentData() is not None else w.currentText()
            elif isinstance(w, QCheckBox):
                out[name] = w.isChecked()
        checked = self.teacher_buttons.checkedButton()
        out["teacher_source"] = checked.property("source") if checked else "shipped"
        return out

    def set_values(self, values: dict, validate: bool = True) -> None:
        for name, value in values.items():
            w = self.fields.get(name)
            if value is None:
                continue  # "not set": keep what the form has
            if isinstance(w, QLineEdit):
                w.setText(str(value))
            elif isinstance(w, QComboBox):
                i = w.findData(value)
                if i < 0:
                    i = w.findText(str(value))
                if i >= 0:
                    w.setCurrentIndex(i)
            elif isinstance(w, QCheckBox):
                w.setChecked(bool(value) and str(value).lower() not in ("false", "0"))
        if "teacher_source" in values:
            for b in self.teacher_buttons.buttons():
                if b.property("source") == values["teacher_source"]:
                    b.setChecked(True)
        if validate:
            self.validate()
        else:
            self._validate_timer.start()

    def set_value(self, name: str, value) -> None:
        self.set_values({name: value})

    def set_devices(self, devices: list[str]) -> None:
        combo: QComboBox = self.fields["device"]
        current = combo.currentData()
        combo.blockSignals(True)
        combo.clear()
        combo.addItem("auto", "auto")
        for d in devices:
            combo.addItem(d, d)
        i = combo.findData(current)
        combo.setCurrentIndex(max(i, 0))
        combo.blockSignals(False)
        self.validate()

    # -------------------------------------------------------------- validation

    def _changed(self, *_) -> None:
        self._validate_timer.start()
        self._update_enabled()

    def validate(self) -> TrainingRequest | None:
        """Check the form now; returns the request, or None (the reason is shown)."""
        self._validate_timer.stop()
        for w in self.fields.values():
            w.setStyleSheet("")
        try:
            self._request, self._error = build_request(self.values()), None
            self.error_label.setText("")
        except FormError as exc:
            self._request, self._error = None, exc
            w = self.fields.get(exc.field)
            if w is not None:
                w.setStyleSheet(_INVALID_STYLE)
            self.error_label.setText(f"Cannot start: {exc}")
        self._update_enabled()
        self.validityChanged.emit(self._request is not None, "" if self._error is None else str(self._error))
        return self._request

    @property
    def error(self) -> FormError | None:
        return self._error

    @property
    def request(self) -> TrainingRequest | None:
        return self._request

    # -------------------------------------------------------------- state

    def set_state(self, state: str) -> None:
        """"idle", "running", "paused" or "stopping"."""
        self.state = state
        self.pause_button.setText("Resume" if state == "paused" else "Pause")
        for name, w in self.fields.items():
            w.setEnabled(state == "idle")
        for b in self.teacher_buttons.buttons():
            b.setEnabled(state == "idle")
        self._update_enabled()

    def _update_enabled(self) -> None:
        idle = self.state == "idle"
        self.start_button.setEnabled(idle and self._request is not None and not self._validate_timer.isActive())
        self.pause_button.setEnabled(self.state in ("running", "paused"))
        self.stop_button.setEnabled(self.state in ("running", "paused"))
        source = self.teacher_buttons.checkedButton()
        source = source.property("source") if source else "shipped"
        distilled = self.fields["targets"].currentData() == "distilled"
        self.fields["teacher_path"].setEnabled(idle and distilled and source == "file")
        self.fields["teacher_path"]._browse_button.setEnabled(idle and distilled and source == "file")
        self.fields["teacher_epochs"].setEnabled(idle and distilled and source == "train")
        self.fields["temperature"].setEnabled(idle and distilled)
        self.fields["restart_epochs"].setEnabled(idle and self.fields["restarts"].text().strip() not in ("", "1"))
        for b in self.teacher_buttons.buttons():
            b.setEnabled(idle and distilled)

    def _on_start(self) -> None:
        request = self.validate()
        if request is not None and self.state == "idle":
            self.startRequested.emit(request)

    def _on_pause(self) -> None:
        if self.state == "paused":
            self.resumeRequested.emit()
        elif self.state == "running":
            self.pauseRequested.emit()

    # -------------------------------------------------------------- browsing

    def _apply_recipe(self, index: int) -> None:
        name = self.recipe_combo.itemData(index)
        if name is None:
            return
        keep = {k: v for k, v in self.values().items() if k in ("dataset", "data_dir", "teacher_source",
                                                                 "teacher_path", "teacher_epochs", "targets",
                                                                 "device", "train_limit", "snapshot_every", "seed")}
        self.set_values({**DEFAULTS, **RECIPES[name], **keep})
        self.recipe_combo.setCurrentIndex(0)

    def _browse_data_dir(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder holding the data set files",
                                                  self.fields["data_dir"].text())
        if folder:
            self.fields["data_dir"].setText(folder)

    def _browse_teacher(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Teacher checkpoint", self.fields["teacher_path"].text(),
                                              "Checkpoints (*.pt);;All files (*)")
        if path:
            self.fields["teacher_path"].setText(path)
