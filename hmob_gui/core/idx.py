"""Read IDX files (the MNIST format), gzipped or raw, with numpy only.

Every way a file can be wrong (truncated gzip, bad magic number, dimensions
that do not match the byte count) becomes one :class:`DataError` naming the
file and the fault, instead of a numpy or zlib traceback.
"""
from __future__ import annotations

import gzip
import struct
import zlib
from pathlib import Path

import numpy as np

from .errors import DataError

# The third byte of the magic number encodes the element type.
_IDX_DTYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_GZIP_MAGIC = b"\x1f\x8b"


def read_bytes(path: str | Path) -> bytes:
    """The file's content, decompressed when it is gzip (detected by its magic, not its name)."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if raw[:2] != _GZIP_MAGIC:
        return raw
    try:
        return gzip.decompress(raw)
    except EOFError:
        raise DataError(f"{path}: truncated gzip file (download incomplete?)") from None
    except (OSError, zlib.error) as exc:
        raise DataError(f"{path}: corrupt gzip data ({exc})") from None


def parse_idx(data: bytes, source: str = "<bytes>", expect_ndim: int | None = None) -> np.ndarray:
    """Decode one IDX buffer into an array of its declared shape and type."""
    if len(data) < 4:
        raise DataError(f"{source}: too short to be an IDX file ({len(data)} bytes)")
    zero, type_code, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or type_code not in _IDX_DTYPES or ndim == 0:
        raise DataError(
            f"{source}: not an IDX file (magic number 0x{data[:4].hex()} is not 0x0000TTNN)"
        )
    if expect_ndim is not None and ndim != expect_ndim:
        raise DataError(f"{source}: expected an IDX file of {expect_ndim} dimension(s), found {ndim}")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataError(f"{source}: truncated header ({len(data)} bytes, need {header})")
    dims = struct.unpack(f">{ndim}I", data[4:header])
    dtype = _IDX_DTYPES[type_code]
    expected = header + int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    if len(data) < expected:
        raise DataError(
            f"{source}: truncated: header declares dimensions {dims} "
            f"({expected:,} bytes) but the file has {len(data):,} bytes"
        )
    if len(data) > expected:
        raise DataError(
            f"{source}: {len(data) - expected:,} unexpected bytes after the data "
            f"declared by the header {dims}"
        )
    array = np.frombuffer(data, dtype=dtype, offset=header).reshape(dims)
    return array.astype(dtype.newbyteorder("="))  # a writable copy in native byte order


def read_idx(path: str | Path, expect_ndim: int | None = None) -> np.ndarray:
    """Read and decode one IDX file (gzipped or raw)."""
    return parse_idx(read_bytes(path), str(path), expect_ndim)


def encode_idx(array: np.ndarray) -> bytes:
    """Encode a uint8 array as IDX bytes (used by tests and for writing samples)."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.tobytes()
