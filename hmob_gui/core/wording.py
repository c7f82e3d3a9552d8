"""Counts in messages: "1 snapshot", "154 snapshots", "50,000 images" (one place, so no "1 epochs")."""


def count(n: int, noun: str, plural: str | None = None) -> str:
    return f"{n:,} {noun if n == 1 else plural or noun + 's'}"
