"""Byte counts as people read them, for the messages of every layer above (one format for every "needs N" line)."""

from __future__ import annotations


def human_bytes(n: float) -> str:
    """1234567 -> '1.23 MB' (decimal units, as `df -H` and disk vendors count)."""
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.2f} {unit}"
        n /= 1000
    return f"{n} B"  # unreachable
