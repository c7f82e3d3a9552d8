"""Finding, downloading, verifying and splitting data sets."""
import dataclasses
import functools
import gzip
import http.server
import io
import threading
import urllib.error
from pathlib import Path

import numpy as np
import pytest

from hmob_gui.core import data as data_mod
from hmob_gui.core.data import load_dataset, locate
from hmob_gui.core.datasets import MNIST, get_dataset
from hmob_gui.core.errors import ChecksumError, ConfigError, DataError, DataNotFoundError
from hmob_gui.core.idx import encode_idx

from .conftest import make_idx_folder

UNCHECKED = dataclasses.replace(MNIST, name="unchecked", files=tuple(
    dataclasses.replace(f, content_sha256=None, gz_sha256=None) for f in MNIST.files))


@pytest.fixture
def isolated_env(tmp_path, monkeypatch):
    """No HMOB_DATA, and a per-user cache inside tmp_path."""
    monkeypatch.delenv("HMOB_DATA", raising=False)
    cache = tmp_path / "cache"
    monkeypatch.setattr(data_mod, "data_cache_dir", lambda: cache)
    return cache


# --------------------------------------------------------------------------- real data


@pytest.mark.realdata
def test_real_splits_match_original_notebook(mnist):
    assert len(mnist.train) == 50_000 and len(mnist.val) == 10_000 and len(mnist.test) == 10_000
    assert mnist.train.images.shape[1:] == (28, 28) and mnist.train.images.dtype == np.uint8
    # Label counts published in the data set's README.
    np.testing.assert_array_equal(np.bincount(mnist.test.labels), [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009])
    train_all = np.concatenate([mnist.train.labels, mnist.val.labels])
    np.testing.assert_array_equal(np.bincount(train_all), [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949])
    x, y = mnist.test.tensors()
    assert x.shape == (10_000, 1, 28, 28) and 0.0 <= float(x.min()) and float(x.max()) == 1.0


@pytest.mark.realdata
def test_real_files_pass_checksums_and_a_damaged_copy_fails(mnist_dir, tmp_path):
    for f in MNIST.files:
        (tmp_path / f.gz_name).write_bytes((mnist_dir / f.gz_name).read_bytes())
    # Re-compress one file: content hash still matches (mirrors recompress).
    p = tmp_path / MNIST.file("test_labels").gz_name
    p.write_bytes(gzip.compress(gzip.decompress(p.read_bytes()), compresslevel=1, mtime=123))
    assert len(load_dataset("mnist", tmp_path, download=False).test) == 10_000
    # Flip one label: structure fine, content hash wrong.
    content = bytearray(gzip.decompress(p.read_bytes()))
    content[100] = (content[100] + 1) % 10
    p.write_bytes(gzip.compress(bytes(content)))
    with pytest.raises(ChecksumError, match="t10k-labels.*damaged or altered file"):
        load_dataset("mnist", tmp_path, download=False)


@pytest.mark.realdata
def test_a_folder_of_another_data_set_is_named_not_called_damaged(mnist_dir):
    """Asking for Fashion-MNIST in MNIST's folder: say which data set is there, never 'delete it'."""
    with pytest.raises(ChecksumError) as info:
        load_dataset("fashion-mnist", mnist_dir, download=False)
    message = str(info.value)
    assert "is MNIST's" in message and "not Fashion-MNIST's" in message and "Delete" not in message


@pytest.mark.realdata
def test_the_test_split_alone_needs_only_the_two_test_files(mnist_dir, tmp_path, isolated_env):
    for f in MNIST.files:
        if f.role.startswith("test"):
            (tmp_path / f.gz_name).write_bytes((mnist_dir / f.gz_name).read_bytes())
    data = load_dataset("mnist", tmp_path, download=False, test_only=True)
    assert len(data.test) == 10_000 and len(data.train) == len(data.val) == 0
    assert data.test.images.shape == (10_000, 28, 28) and data.folder == tmp_path
    with pytest.raises(DataNotFoundError, match="train-images"):  # all four for training
        load_dataset("mnist", tmp_path, download=False)
    (tmp_path / MNIST.file("test_labels").gz_name).unlink()
    with pytest.raises(DataNotFoundError) as info:  # and for the test split, only its two are asked for
        load_dataset("mnist", tmp_path, download=False, test_only=True)
    assert "these two files" in str(info.value) and "train-" not in str(info.value)


# --------------------------------------------------------------------------- where data is found


def test_lookup_order_explicit_then_env_then_cache(tmp_path, isolated_env, monkeypatch):
    explicit = make_idx_folder(tmp_path / "explicit")
    env = make_idx_folder(tmp_path / "env")
    make_idx_folder(isolated_env / "unchecked")
    assert locate(UNCHECKED, explicit)[0] == explicit
    assert locate(UNCHECKED)[0] == isolated_env / "unchecked"
    monkeypatch.setenv("HMOB_DATA", str(env))
    assert locate(UNCHECKED)[0] == env
    assert locate(UNCHECKED, explicit)[0] == explicit


def test_root_may_hold_a_subfolder_per_dataset(tmp_path, isolated_env):
    make_idx_folder(tmp_path / "root" / "unchecked")
    folder, found = locate(UNCHECKED, tmp_path / "root")
    assert folder == tmp_path / "root" / "unchecked" and len(found) == 4


def test_raw_files_are_accepted(tmp_path):
    make_idx_folder(tmp_path, n_train=10_005, n_test=3, gz=False)
    d = load_dataset(UNCHECKED, tmp_path, download=False)
    assert (len(d.train), len(d.val), len(d.test)) == (5, 10_000, 3)


def test_dataset_is_a_parameter():
    assert get_dataset("Fashion_MNIST").name == "fashion-mnist"
    assert get_dataset("kmnist").class_names[0] == "o"
    with pytest.raises(ConfigError, match="unknown data set"):
        get_dataset("cifar")


# --------------------------------------------------------------------------- structural damage


def _folder_with(tmp_path, **overrides):
    make_idx_folder(tmp_path, n_train=10_010, n_test=5)
    for name, arr in overrides.items():
        (tmp_path / f"{name}.gz").write_bytes(gzip.compress(encode_idx(arr)))
    return tmp_path


def test_image_label_count_mismatch(tmp_path):
    _folder_with(tmp_path, **{"t10k-labels-idx1-ubyte": np.zeros(4, dtype=np.uint8)})
    with pytest.raises(DataError, match="5 images but .* 4 labels"):
        load_dataset(UNCHECKED, tmp_path, download=False)


def test_labels_out_of_range(tmp_path):
    _folder_with(tmp_path, **{"t10k-labels-idx1-ubyte": np.full(5, 12, dtype=np.uint8)})
    with pytest.raises(DataError, match="labels must lie in 0…9"):
        load_dataset(UNCHECKED, tmp_path, download=False)


def test_wrong_image_size(tmp_path):
    _folder_with(tmp_path, **{"t10k-images-idx3-ubyte": np.zeros((5, 20, 20), dtype=np.uint8)})
    with pytest.raises(DataError, match=r"\(20, 20\), expected \(28, 28\)"):
        load_dataset(UNCHECKED, tmp_path, download=False)


def test_labels_file_in_place_of_images(tmp_path):
    make_idx_folder(tmp_path, n_train=10_010, n_test=5)
    (tmp_path / "t10k-images-idx3-ubyte.gz").write_bytes((tmp_path / "t10k-labels-idx1-ubyte.gz").read_bytes())
    with pytest.raises(DataError, match="expected an IDX file of 3 dimension"):
        load_dataset(UNCHECKED, tmp_path, download=False)


# --------------------------------------------------------------------------- download


class FakeResponse(io.BytesIO):
    def __init__(self, payload: bytes, declared: int | None = None):
        super().__init__(payload)
        self.headers = {"Content-Length": str(len(payload) if declared is None else declared)}


def _tiny_spec_and_payloads():
    """A data set spec whose checksums are those of tiny fake files, and the .gz payloads."""
    rng = np.random.default_rng(1)
    arrays = {
        "train_images": rng.integers(0, 256, (10_002, 28, 28), dtype=np.uint8),
        "train_labels": rng.integers(0, 10, 10_002, dtype=np.uint8),
        "test_images": rng.integers(0, 256, (3, 28, 28), dtype=np.uint8),
        "test_labels": rng.integers(0, 10, 3, dtype=np.uint8),
    }
    import hashlib

    files, payloads = [], {}
    for f in MNIST.files:
        content = encode_idx(arrays[f.role])
        payloads[f.gz_name] = gzip.compress(content)
        files.append(dataclasses.replace(f, content_sha256=hashlib.sha256(content).hexdigest(), gz_sha256=None))
    spec = dataclasses.replace(MNIST, name="tiny", files=tuple(files), mirrors=("http://mirror.invalid/a/", "http://mirror.invalid/b/"))
    return spec, payloads


def test_download_with_injected_opener_reports_progress_and_falls_back(tmp_path, isolated_env):
    spec, payloads = _tiny_spec_and_payloads()
    calls, progress = [], []

    def opener(url, timeout):
        calls.append(url)
        if "/a/" in url:
            raise urllib.error.URLError("first mirror down")
        return FakeResponse(payloads[url.rsplit("/", 1)[1]])

    d = load_dataset(spec, progress=lambda name, done, total: progress.append((name, done, total)), opener=opener)
    assert (len(d.train), len(d.val), len(d.test)) == (2, 10_000, 3)
    assert d.folder == isolated_env / "tiny"
    assert sorted(p.name for p in d.folder.iterdir()) == sorted(payloads)  # no temp files left
    assert any("/b/" in u for u in calls)
    last = {name: (done, total) for name, done, total in progress}
    assert all(done == total for done, total in last.values()) and len(last) == 4


def test_download_rejects_corrupt_and_truncated_payloads(tmp_path, isolated_env):
    spec, payloads = _tiny_spec_and_payloads()

    def corrupt(url, timeout):
        name = url.rsplit("/", 1)[1]
        return FakeResponse(gzip.compress(b"\x00\x00\x08\x01" + b"\x00\x00\x00\x01" + b"\x07"))

    with pytest.raises(DataNotFoundError, match="SHA-256") as info:
        load_dataset(spec, opener=corrupt)
    assert not any((isolated_env / "tiny").iterdir())  # nothing half-written kept

    def truncated(url, timeout):
        payload = payloads[url.rsplit("/", 1)[1]]
        return FakeResponse(payload[: len(payload) // 2], declared=len(payload))

    with pytest.raises(DataNotFoundError, match="connection closed"):
        load_dataset(spec, opener=truncated)
    assert not any((isolated_env / "tiny").iterdir())


def test_offline_message_names_the_four_files_and_the_folder(isolated_env):
    def offline(url, timeout):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    with pytest.raises(DataNotFoundError) as info:
        load_dataset("mnist", opener=offline)
    message = str(info.value)
    for f in MNIST.files:
        assert f.gz_name in message
    assert str(isolated_env / "mnist") in message and "HMOB_DATA" in message


def test_no_download_when_disallowed(isolated_env):
    with pytest.raises(DataNotFoundError, match="files missing"):
        load_dataset("mnist", download=False)


@pytest.mark.realdata
def test_download_from_a_local_http_server(mnist_dir, tmp_path, isolated_env):
    """The real MNIST files served on 127.0.0.1, downloaded and verified against the real checksums."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(mnist_dir))
    handler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/"
        spec = dataclasses.replace(MNIST, mirrors=(url,))
        seen = []
        d = load_dataset(spec, progress=lambda n, done, total: seen.append((n, done, total)))
    finally:
        server.shutdown()
    assert d.folder == isolated_env / "mnist"
    assert (len(d.train), len(d.val), len(d.test)) == (50_000, 10_000, 10_000)
    assert {n for n, _, _ in seen} == {f.gz_name for f in MNIST.files}
    assert all(total is not None for _, _, total in seen)


def test_a_named_folder_that_is_missing_or_a_file_is_reported_not_created(tmp_path, isolated_env, monkeypatch):
    with pytest.raises(DataNotFoundError, match="does not exist"):
        load_dataset("mnist", tmp_path / "typo")
    assert not (tmp_path / "typo").exists()
    (tmp_path / "a-file").write_text("x")
    monkeypatch.setenv("HMOB_DATA", str(tmp_path / "a-file"))
    with pytest.raises(DataNotFoundError, match="HMOB_DATA .* is not a folder"):
        load_dataset("mnist")
