"""pytest-benchmark suites: `pytest benchmarks/ --benchmark-only` (add --benchmark-json=FILE to keep results).

img/s and MFU ride in each benchmark's extra_info; `python benchmarks/table.py FILE` prints them, since
pytest-benchmark's own table does not show extra_info.
"""

from __future__ import annotations

import pytest
import torch

from ganzoo.tools.bench import measure_peak_flops


@pytest.fixture(scope="session")
def peak_flops():
    """Matrix-product peak per precision, measured once per session on this machine."""
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    cache = {}

    def get(precision: str) -> float:
        if precision not in cache:
            cache[precision] = measure_peak_flops(device, precision)
        return cache[precision]

    return get


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("GANZOO_CACHE", str(tmp_path_factory.getbasetemp() / "ganzoo-cache"))
