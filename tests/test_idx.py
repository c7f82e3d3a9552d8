"""IDX parsing: valid files decode, every kind of damage gives one clear DataError naming the file."""
import gzip

import numpy as np
import pytest

from hmob_gui.core.errors import DataError
from hmob_gui.core.idx import encode_idx, parse_idx, read_idx


def test_round_trip_raw_and_gzip(tmp_path):
    arr = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    raw = tmp_path / "a-idx3-ubyte"
    raw.write_bytes(encode_idx(arr))
    gz = tmp_path / "b.gz"
    gz.write_bytes(gzip.compress(encode_idx(arr)))
    for path in (raw, gz):
        out = read_idx(path)
        assert out.dtype == np.uint8 and out.shape == (2, 3, 4)
        np.testing.assert_array_equal(out, arr)
        out[0, 0, 0] = 99  # the result is a writable array of its own


def test_gzip_detected_by_content_not_name(tmp_path):
    arr = np.ones((3,), dtype=np.uint8)
    p = tmp_path / "labels-without-suffix"
    p.write_bytes(gzip.compress(encode_idx(arr)))
    np.testing.assert_array_equal(read_idx(p), arr)


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda b: b"\x01\x02" + b[2:], "not an IDX file"),
        (lambda b: b[:2] + b"\x07" + b[3:], "not an IDX file"),  # unknown element type
        (lambda b: b[:6], "truncated header"),
        (lambda b: b[:-5], "truncated"),
        (lambda b: b + b"\x00\x00", "unexpected bytes"),
        (lambda b: b[:3], "too short"),
    ],
)
def test_damaged_buffers_raise_clear_errors(mutate, message):
    good = encode_idx(np.zeros((4, 5, 5), dtype=np.uint8))
    with pytest.raises(DataError, match=message) as info:
        parse_idx(mutate(good), "some-file")
    assert "some-file" in str(info.value)


def test_wrong_number_of_dimensions():
    with pytest.raises(DataError, match="expected an IDX file of 1 dimension"):
        parse_idx(encode_idx(np.zeros((2, 2), dtype=np.uint8)), "labels", expect_ndim=1)


def test_truncated_gzip_names_file(tmp_path):
    p = tmp_path / "train-images-idx3-ubyte.gz"
    p.write_bytes(gzip.compress(encode_idx(np.zeros((50, 28, 28), dtype=np.uint8)))[:-40])
    with pytest.raises(DataError, match="truncated gzip") as info:
        read_idx(p)
    assert str(p) in str(info.value)


def test_corrupt_gzip(tmp_path):
    data = bytearray(gzip.compress(encode_idx(np.arange(1000, dtype=np.uint8) % 7)))
    data[20:30] = b"\xff" * 10
    p = tmp_path / "x.gz"
    p.write_bytes(bytes(data))
    with pytest.raises(DataError, match="corrupt gzip|truncated"):
        read_idx(p)


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match="not found"):
        read_idx(tmp_path / "nope")
