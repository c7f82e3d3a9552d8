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
        self._items: list[tuple[tuple[int, int], int, TreeSnapshot]] = []  # (order key, sample ordinal, snapshot)
        self._bytes = 0
        self._offered = 0  # sample snapshots offered so far
        self.stride = 1  # keep every stride-th sample snapshot
        self.thinned = 0  # sample snapshots dropped or refused to stay within the budget

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[TreeSnapshot]:
        return (s for _, _, s in self._items)

    def __getitem__(self, index: int) -> TreeSnapshot:
        return self._items[index][2]

    @property
    def nbytes(self) -> int:
        return self._bytes

    @staticmethod
    def _key(s: TreeSnapshot) -> tuple[int, int]:
        # Order by samples seen; at equal counts the epoch snapshot comes after the sample one.
        return (s.samples_seen, 1 if s.kind in ("epoch", "final") else 0)

    def add(self, snapshot: TreeSnapshot) -> bool:
        """Keep ``snapshot`` (False when the thinning stride skips it)."""
        ordinal = -1
        if snapshot.kind == "samples":
            ordinal = self._offered
            self._offered += 1
            if ordinal % self.stride:
                self.thinned += 1
                return False
        insort(self._items, (self._key(snapshot), ordinal, snapshot), key=lambda item: item[0])
        self._bytes += snapshot.nbytes
        while self._bytes > self.budget_bytes and self._thin_once():
            pass
        return True

    def clear(self) -> None:
        self._items.clear()
        self._bytes = 0
        self._offered = 0
        self.stride = 1
        self.thinned = 0

    def _thin_once(self) -> bool:
        """Double the stride until some sample snapshot falls off it, and drop those; False when none is left."""
        ordinals = [ordinal for _, ordinal, _ in self._items if ordinal >= 0]
        if not ordinals:
            return False
        while True:
            self.stride *= 2
            drop = {o for o in ordinals if o % self.stride}
            if drop or self.stride > max(ordinals):
                break
        if not drop:  # only ordinal 0 is left
            drop = set(ordinals)
        kept = []
        for item in self._items:
            if item[1] in drop:
                self._bytes -= item[2].nbytes
                self.thinned += 1
            else:
                kept.append(item)
        self._items = kept
        return True

    def epochs(self) -> list[TreeSnapshot]:
        """The initial snapshot and one per epoch: frames of the epoch-by-epoch animation."""
        return [s for _, _, s in self._items if s.kind != "samples"]

    def samples(self) -> list[TreeSnapshot]:
        """Every snapshot in order of samples seen: frames of the sample-by-sample animation."""
        return [s for _, _, s in self._items]

    def latest(self) -> TreeSnapshot | None:
        return self._items[-1][2] if self._items else None
