"""What each supported data set is: its files, where to get them, how to check them.

The data set is a parameter everywhere (MNIST, Fashion-MNIST, KMNIST share the
IDX format), so everything dataset-specific lives in this table.

Checksums: for MNIST we know the SHA-256 of each file's *decompressed* content
(mirrors recompress, so the .gz bytes differ between mirrors while the content
does not). For Fashion-MNIST and KMNIST we only know the SHA-256 of the
publishers' own .gz files; a file passes when either hash matches.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class IdxFile:
    """One of the four files of a data set."""

    role: str  # "train_images", "train_labels", "test_images", "test_labels"
    name: str  # file name without ".gz"
    content_sha256: str | None = None
    gz_sha256: str | None = None

    @property
    def gz_name(self) -> str:
        return self.name + ".gz"


@dataclass(frozen=True)
class DatasetSpec:
    """A data set in IDX format: files, mirrors, class names, expected sizes."""

    name: str
    title: str
    files: tuple[IdxFile, ...]
    mirrors: tuple[str, ...]
    class_names: tuple[str, ...]
    n_train: int = 60_000
    n_test: int = 10_000
    image_shape: tuple[int, int] = (28, 28)
    licence: str = ""
    homepage: str = ""
    extra: dict = field(default_factory=dict)

    def file(self, role: str) -> IdxFile:
        for f in self.files:
            if f.role == role:
                return f
        raise KeyError(role)


def _files(hashes: dict[str, tuple[str | None, str | None]]) -> tuple[IdxFile, ...]:
    names = {
        "train_images": "train-images-idx3-ubyte",
        "train_labels": "train-labels-idx1-ubyte",
        "test_images": "t10k-images-idx3-ubyte",
        "test_labels": "t10k-labels-idx1-ubyte",
    }
    return tuple(
        IdxFile(role, names[role], content_sha256=hashes[role][0], gz_sha256=hashes[role][1])
        for role in names
    )


MNIST = DatasetSpec(
    name="mnist",
    title="MNIST",
    files=_files({
        "train_images": ("ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
                         "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609"),
        "train_labels": ("65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
                         "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c"),
        "test_images": ("0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
                        "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6"),
        "test_labels": ("ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
                        "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"),
    }),
    mirrors=(
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
        "http://yann.lecun.com/exdb/mnist/",
    ),
    class_names=tuple(str(i) for i in range(10)),
    licence="CC BY-SA 3.0 (Y. LeCun, C. Cortes, C. J. C. Burges)",
    homepage="http://yann.lecun.com/exdb/mnist/",
)

FASHION_MNIST = DatasetSpec(
    name="fashion-mnist",
    title="Fashion-MNIST",
    files=_files({
        "train_images": (None, "08dc20ab1689590a0bcd66e874647b6ee8464e2d501b5a3f1f78831db19a3fdc"),
        "train_labels": (None, "b0197879cbda89f3dc7b894f9fd52b858e68ea4182b6947c9d8c2b67e5f18dcc"),
        "test_images": (None, "78dcbbfb5a27efaf1b6c1d616caca68560be8766c5bffcb2791df9273a534229"),
        "test_labels": (None, "42bd18137a62d5998cdeae52bf3a0676ac6b706f5cf8439b47bb5b151ae3dccf"),
    }),
    mirrors=("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
    class_names=("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                 "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
    licence="MIT (Zalando Research)",
    homepage="https://github.com/zalandoresearch/fashion-mnist",
)

KMNIST = DatasetSpec(
    name="kmnist",
    title="Kuzushiji-MNIST",
    files=_files({
        "train_images": (None, "51467d22d8cc72929e2a028a0428f2086b092bb31cfb79c69cc0a90ce135fde4"),
        "train_labels": (None, "e38f9ebcd0f3ebcdec7fc8eabdcdaef93bb0df8ea12bee65224341c8183d8e17"),
        "test_images": (None, "edd7a857845ad6bb1d0ba43fe7e794d164fe2dce499a1694695a792adfac43c5"),
        "test_labels": (None, "20bb9a0ef54c7db3efc55a92eef5582c109615df22683c380526788f98e42a1c"),
    }),
    mirrors=("http://codh.rois.ac.jp/kmnist/dataset/kmnist/",),
    class_names=("o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo"),
    licence="CC BY-SA 4.0 (ROIS-DS CODH)",
    homepage="https://github.com/rois-codh/kmnist",
)

DATASETS: dict[str, DatasetSpec] = {d.name: d for d in (MNIST, FASHION_MNIST, KMNIST)}


def get_dataset(name: str | DatasetSpec) -> DatasetSpec:
    """Look a data set up by name ("mnist", "fashion-mnist", "kmnist")."""
    if isinstance(name, DatasetSpec):
        return name
    key = name.strip().lower().replace("_", "-")
    if key in ("fashion", "fashionmnist"):
        key = "fashion-mnist"
    try:
        return DATASETS[key]
    except KeyError:
        from .errors import ConfigError

        raise ConfigError(
            f"unknown data set {name!r}; choose one of: {', '.join(DATASETS)}"
        ) from None
