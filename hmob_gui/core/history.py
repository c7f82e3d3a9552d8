"""The snapshots of one training run, in a bounded amount of memory.

Every epoch snapshot is kept. Snapshots taken every N samples are thinned when
the byte budget would be exceeded: every other one is dropped (the oldest
first), so those kept stay evenly spaced in time and the animation stays
smooth, only coarser. A depth-8 snapshot takes about 410 kB and a depth-4 one
about 24 kB, so the default 256 MiB budget holds roughly 650 and 11,000 of
them before thinning starts.
"""
from __future__ import annotations

from bisect import insort
from typing import Iterator

from .snapshot import TreeSnapshot

DEFAULT_BUDGET_BYTES = 256 * 1024 * 1024


class SnapshotHistory:
    def __init__(self, budget_bytes: int = DEFAULT_BUDGET_BYTES):
        self.budget_bytes = int(budget_bytes)
        self._items: list[tuple[tuple[int, int], TreeSnapshot]] = []
        self._bytes = 0
        self.thinned = 0  # how many sample snapshots were dropped to stay within the budget

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[TreeSnapshot]:
        return (s for _, s in self._items)

    def __getitem__(self, index: int) -> TreeSnapshot:
        return self._items[index][1]

    @property
    def nbytes(self) -> int:
        return self._bytes

    @staticmethod
    def _key(s: TreeSnapshot) -> tuple[int, int]:
        # Order by samples seen; at equal counts the epoch snapshot comes after the sample one.
        return (s.samples_seen, 1 if s.kind in ("epoch", "final") else 0)

    def add(self, snapshot: TreeSnapshot) -> None:
        insort(self._items, (self._key(snapshot), snapshot), key=lambda item: item[0])
        self._bytes += snapshot.nbytes
        while self._bytes > self.budget_bytes and self._thin_once():
            pass

    def clear(self) -> None:
        self._items.clear()
        self._bytes = 0
        self.thinned = 0

    def _thin_once(self) -> bool:
        """Drop every other sample snapshot; False when nothing is left to drop."""
        sample_positions = [i for i, (_, s) in enumerate(self._items) if s.kind == "samples"]
        drop = set(sample_positions[1::2]) if len(sample_positions) > 1 else set(sample_positions)
        if not drop:
            return False
        kept = []
        for i, item in enumerate(self._items):
            if i in drop:
                self._bytes -= item[1].nbytes
                self.thinned += 1
            else:
                kept.append(item)
        self._items = kept
        return True

    def epochs(self) -> list[TreeSnapshot]:
        """The initial snapshot and one per epoch: frames of the epoch-by-epoch animation."""
        return [s for _, s in self._items if s.kind != "samples"]

    def samples(self) -> list[TreeSnapshot]:
        """Every snapshot in order of samples seen: frames of the sample-by-sample animation."""
        return [s for _, s in self._items]

    def latest(self) -> TreeSnapshot | None:
        return self._items[-1][1] if self._items else None
