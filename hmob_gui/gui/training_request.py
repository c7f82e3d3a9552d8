"""The training form's values → core jobs, or the reason they are refused (no Qt here).

The form holds text; this module parses it and lets the core's own config
classes (``TreeConfig``, ``TrainConfig``, ``TreeJob``) judge every value, so
the GUI refuses exactly what the CLI refuses, with the same message. Each
value is checked on its own first, so a refusal names the field to fix.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

TEACHER_SOURCES = ("shipped", "file", "train")

#: the form's fields and their defaults (the CLI's defaults, except where noted)
DEFAULTS: dict = {
    "dataset": "mnist",
    "data_dir": "",  # empty: $HMOB_DATA, else the per-user cache
    "teacher_source": "shipped",
    "teacher_path": "",
    "teacher_epochs": "3",  # the CLI trains 15; a GUI user usually wants to see it sooner
    "depth": "4",
    "targets": "distilled",
    "temperature": "1.0",
    "beta": "1.0",
    "learn_beta": False,
    "penalty": "0.1",
    "penalty_decay": "0.5",
    "ema_window": "1.0",
    "lr": "0.01",
    "lr_schedule": "constant",
    "weight_decay": "0.0",
    "augment_shift": "0",
    "batch_size": "128",
    "epochs": "40",
    "snapshot_every": "1000",
    "seed": "0",
    "restarts": "1",
    "restart_epochs": "2",
    "device": "auto",
    "train_limit": "0",  # 0: all training images; N: only the first N (quick looks)
}

#: one-click settings: the form's defaults changed by these (the shipped models' own recipes, see checkpoints/make.sh)
RECIPES: dict[str, dict] = {
    "defaults: a quick look (depth 4, about 20 s per 40 epochs)": {},
    "shipped depth-4 recipe: best of 10 starts (92.0% distilled; about 6 min)": {
        "depth": "4", "batch_size": "16", "lr": "0.01", "lr_schedule": "cosine", "penalty": "0.003",
        "epochs": "40", "augment_shift": "0", "restarts": "10", "restart_epochs": "5",
    },
    "shipped depth-8 recipe (96.9% distilled; 120 epochs)": {
        "depth": "8", "batch_size": "64", "lr": "0.002", "lr_schedule": "cosine", "penalty": "0.03",
        "epochs": "120", "augment_shift": "1",
    },
}

LABELS: dict = {
    "dataset": "data set", "data_dir": "data folder", "teacher_source": "teacher",
    "teacher_path": "teacher file", "teacher_epochs": "teacher epochs", "depth": "tree depth",
    "targets": "targets", "temperature": "temperature", "beta": "β", "learn_beta": "learn β",
    "penalty": "λ", "penalty_decay": "penalty decay", "ema_window": "EMA window",
    "lr": "learning rate", "lr_schedule": "schedule", "weight_decay": "weight decay",
    "augment_shift": "random shift", "batch_size": "batch size", "epochs": "epochs",
    "snapshot_every": "snapshot every", "seed": "seed", "restarts": "starts to try",
    "restart_epochs": "epochs per start", "device": "device",
    "train_limit": "training images",
}


#: a CLI run's nested config names → the form's field names
_CONFIG_FIELDS = {
    "tree": {"depth": "depth", "beta": "beta", "learn_beta": "learn_beta", "penalty_strength": "penalty",
             "penalty_decay": "penalty_decay", "ema_window": "ema_window"},
    "train": {"lr": "lr", "lr_schedule": "lr_schedule", "weight_decay": "weight_decay",
              "augment_shift": "augment_shift", "batch_size": "batch_size", "epochs": "epochs",
              "snapshot_every": "snapshot_every", "seed": "seed", "device": "device"},
}


def form_values_from_run(settings: dict) -> dict:
    """A saved run's settings → the form's values.

    The window saves its own form (flat names); ``hmob train-tree --save-run`` saves
    the core's configs (``{"tree": {...}, "train": {...}, ...}``). Both open into the
    form; unknown names and empty values (a run that used the default data folder
    saves ``None``) are left out, so the form keeps what it had there.
    """
    out = {}
    for name, value in settings.items():
        if name in _CONFIG_FIELDS and isinstance(value, dict):
            for key, form_name in _CONFIG_FIELDS[name].items():
                if value.get(key) is not None:
                    out[form_name] = value[key]
        elif name in DEFAULTS and value is not None:
            out[name] = value
    if any(name in settings for name in _CONFIG_FIELDS):
        out.setdefault("train_limit", "0")  # the CLI always trains on every image
    out.setdefault("restarts", "1")  # runs from before "starts to try" existed had one start
    out.setdefault("restart_epochs", DEFAULTS["restart_epochs"])
    return out


class FormError(ValueError):
    """A refused form value: ``field`` names it, ``str()`` says why."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class TrainingRequest:
    """Everything the worker needs to run one training from the window."""

    tree_job: object  # core.jobs.TreeJob
    teacher_source: str  # "shipped", "file" or "train"
    teacher_path: str | None  # the checkpoint to distil from (shipped or file)
    teacher_job: object | None  # core.jobs.TeacherJob when a new teacher is trained first
    train_limit: int = 0
    settings: dict = field(default_factory=dict)  # the form's values, saved with runs

    @property
    def needs_teacher(self) -> bool:
        return self.tree_job.targets == "distilled"


def _int(values: dict, name: str) -> int:
    text = str(values.get(name, DEFAULTS[name])).strip().replace(",", "").replace("_", "")
    try:
        return int(text)
    except ValueError:
        raise FormError(name, f"{LABELS[name]} must be a whole number, not {text!r}") from None


def _float(values: dict, name: str) -> float:
    text = str(values.get(name, DEFAULTS[name])).strip()
    try:
        value = float(text)
    except ValueError:
        raise FormError(name, f"{LABELS[name]} must be a number, not {text!r}") from None
    if not math.isfinite(value):
        raise FormError(name, f"{LABELS[name]} must be a finite number, not {text!r}")
    return value


def _judge(name: str, build):
    """Run a core constructor; a ConfigError becomes a FormError naming the field."""
    from ..core.errors import ConfigError

    try:
        return build()
    except ConfigError as exc:
        raise FormError(name, str(exc)) from None


def build_request(values: dict) -> TrainingRequest:
    """Parse and check the form; raise :class:`FormError` for the first refused value."""
    from ..core.datasets import get_dataset
    from ..core.devices import resolve_device
    from ..core.jobs import TeacherJob, TreeJob
    from ..core.paths import SHIPPED_TEACHER, shipped_checkpoint
    from ..core.training import TrainConfig
    from ..core.tree import TreeConfig

    v = {**DEFAULTS, **values}
    dataset = _judge("dataset", lambda: get_dataset(str(v["dataset"]))).name
    data_dir = str(v["data_dir"]).strip() or None

    tree_values = {
        "depth": _int(v, "depth"), "beta": _float(v, "beta"), "learn_beta": bool(v["learn_beta"]),
        "penalty_strength": _float(v, "penalty"), "penalty_decay": _float(v, "penalty_decay"),
        "ema_window": _float(v, "ema_window"),
    }
    form_name = {"penalty_strength": "penalty"}
    for key, value in tree_values.items():
        _judge(form_name.get(key, key), lambda: TreeConfig(**{key: value}))
    tree = _judge("depth", lambda: TreeConfig(**tree_values))

    train_values = {
        "epochs": _int(v, "epochs"), "batch_size": _int(v, "batch_size"), "lr": _float(v, "lr"),
        "lr_schedule": str(v["lr_schedule"]), "weight_decay": _float(v, "weight_decay"),
        "seed": _int(v, "seed"), "snapshot_every": _int(v, "snapshot_every"),
        "augment_shift": _int(v, "augment_shift"), "device": str(v["device"]).strip() or "auto",
    }
    for key, value in train_values.items():
        _judge(key, lambda: TrainConfig(**{key: value}))
    _judge("device", lambda: resolve_device(train_values["device"]))
    train = _judge("epochs", lambda: TrainConfig(**train_values))

    train_limit = _int(v, "train_limit")
    if train_limit < 0 or 0 < train_limit < 100:
        raise FormError("train_limit", "training images must be 0 (all of them) or at least 100")

    targets = str(v["targets"])
    temperature = _float(v, "temperature")
    _judge("targets", lambda: TreeJob(targets=targets))
    _judge("temperature", lambda: TreeJob(temperature=temperature))
    source = str(v["teacher_source"])
    if source not in TEACHER_SOURCES:
        raise FormError("teacher_source", f"teacher must be one of {', '.join(TEACHER_SOURCES)}, not {source!r}")
    teacher_path, teacher_job = None, None
    if targets == "distilled":
        if source == "shipped":
            teacher_path = str(shipped_checkpoint(SHIPPED_TEACHER))
        elif source == "file":
            teacher_path = str(v["teacher_path"]).strip()
            if not teacher_path:
                raise FormError("teacher_path", "choose a teacher checkpoint file (or another teacher option)")
        else:
            teacher_epochs = _int(v, "teacher_epochs")
            teacher_train = _judge("teacher_epochs", lambda: TrainConfig(
                epochs=teacher_epochs, batch_size=train.batch_size, lr=1e-3, augment_shift=2,
                seed=train.seed, snapshot_every=0, device=train.device))
            teacher_job = TeacherJob(train=teacher_train, dataset=dataset, data_dir=data_dir)
    restarts = _int(v, "restarts")
    _judge("restarts", lambda: TreeJob(restarts=restarts, train=train))
    # with one start the (disabled) epochs-per-start field means nothing, so it cannot block the form
    restart_epochs = _int(v, "restart_epochs") if restarts > 1 else int(DEFAULTS["restart_epochs"])
    _judge("restart_epochs", lambda: TreeJob(restart_epochs=restart_epochs))
    job = _judge("targets", lambda: TreeJob(tree=tree, train=train, targets=targets, temperature=temperature,
                                            teacher_path=teacher_path, dataset=dataset, data_dir=data_dir,
                                            restarts=restarts, restart_epochs=restart_epochs))
    settings = {k: v[k] for k in DEFAULTS}
    return TrainingRequest(job, source, teacher_path, teacher_job, train_limit, settings)
