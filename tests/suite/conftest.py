"""Suite fixtures: one digits classifier per test session (a suite trains it once and caches it), a tiny suite file
and its uninterrupted results, which the resume, kill and executor tests compare against."""

import os

import pytest
from suite_runs import measurements, run_cli, write_suite


@pytest.fixture(scope="session")
def suite_cache(tmp_path_factory):
    cache = tmp_path_factory.mktemp("suite-cache")
    old = os.environ.get("GANZOO_CACHE")
    os.environ["GANZOO_CACHE"] = str(cache)
    try:
        import torch

        import ganzoo
        from ganzoo.suite.protocol import extractor_for

        extractor_for(ganzoo.load_dataset("digits"), "classifier")
        assert any(cache.rglob("*.pt")) or torch.__version__  # trained and cached once for the session
    finally:
        if old is None:
            os.environ.pop("GANZOO_CACHE", None)
        else:
            os.environ["GANZOO_CACHE"] = old
    return cache


@pytest.fixture
def shared_cache(suite_cache, monkeypatch):
    monkeypatch.setenv("GANZOO_CACHE", str(suite_cache))
    return suite_cache


@pytest.fixture(scope="session")
def tiny_reference(suite_cache, tmp_path_factory):
    """The tiny suite run once, uninterrupted, with two local workers."""
    root = tmp_path_factory.mktemp("tiny-reference")
    file = write_suite(root / "tiny.toml")
    result = run_cli("suite", "run", file, "--out", root / "out", "--quiet", cache=suite_cache)
    assert result.returncode == 0, result.stderr
    return file, root / "out", measurements(root / "out")
