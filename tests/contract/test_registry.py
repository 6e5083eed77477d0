"""The plugin system: built-ins through entry points, third-party distributions, and broken plugins."""

from __future__ import annotations

import importlib.metadata
import re
from pathlib import Path

import pytest
from conftest import LSGAN_PLUGIN

import ganzoo
from ganzoo.cli.commands import main
from ganzoo.errors import UnknownNameError
from ganzoo.registry import get_registry, reset_registry

CORE = Path(ganzoo.__file__).parent
BUILTIN_MODELS = {"vanilla", "minimax", "dcgan", "wgan-gp"}


def test_builtins_arrive_through_the_entry_point_group():
    eps = {ep.name: ep for ep in importlib.metadata.entry_points(group="ganzoo")}
    assert {"vanilla", "dcgan", "wgan_gp", "datasets"} <= set(eps)
    registry = get_registry()
    assert BUILTIN_MODELS <= set(registry.names("model"))
    for name in BUILTIN_MODELS:
        entry = registry.get("model", name)
        assert entry.distribution == "ganzoo"
        assert entry.plugin in eps, "each model is attributed to the entry point that registered it"
    assert {"digits", "ring8", "grid25", "mnist", "fashion-mnist", "cifar10", "folder"} <= set(registry.names("dataset"))


def test_core_never_imports_or_names_a_builtin_model():
    for path in CORE.rglob("*.py"):
        text = path.read_text()
        assert "ganzoo_plugins" not in text, f"{path} imports a built-in plugin"
        for word in ("vanilla", "dcgan", "wgan"):
            assert not re.search(rf"\b{word}\b", text, re.I), f"{path} names the model {word!r}"


def test_registry_is_loaded_lazily_not_at_import():
    reset_registry()
    import ganzoo.registry as registry_module

    assert registry_module._registry is None
    get_registry()
    assert registry_module._registry is not None


def test_third_party_distribution_adds_a_model_that_trains(plugin_dist, tmp_path):
    plugin_dist("ganzoo-tinyls", "ganzoo_tinyls", LSGAN_PLUGIN)
    registry = get_registry()
    entry = registry.get("model", "tinyls")
    assert entry.distribution == "ganzoo-tinyls" and entry.version == "0.1.0"
    assert registry.get("loss", "least-squares-tiny").distribution == "ganzoo-tinyls"
    out = tmp_path / "run"
    assert main(["run", "tinyls", "--out", str(out), "--quiet", "--precision", "fp32"]) == 0
    records = [line for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert records, "the third-party model was trained and logged"
    config = (out / "config.json").read_text()
    assert '"ganzoo-tinyls": "0.1.0"' in config, "config.json records the plugin distribution and version"


def test_components_mix_across_plugins(plugin_dist):
    plugin_dist("ganzoo-tinyls", "ganzoo_tinyls", LSGAN_PLUGIN)
    gan = ganzoo.build(generator="tiny", discriminator="dcgan", loss="wgan-gp", image_shape=(1, 8, 8))
    assert gan.components == {"generator": "tiny", "discriminator": "dcgan", "loss": "wgan-gp"}
    assert gan.loss.gradient_penalty_weight == 10.0


def test_plugin_that_fails_to_import_is_reported_and_the_rest_work(plugin_dist, capsys):
    plugin_dist("ganzoo-broken", "ganzoo_broken", "raise RuntimeError('boom at import')\n")
    registry = get_registry()
    problems = registry.problems()
    assert any("ganzoo-broken" in p and "boom at import" in p for p in problems)
    assert "vanilla" in registry.names("model")
    assert main(["plugins"]) == 0
    out = capsys.readouterr().out
    assert "ganzoo-broken" in out and "boom at import" in out
    assert main(["list", "models"]) == 0
    captured = capsys.readouterr()
    assert "vanilla" in captured.out and "ganzoo-broken" in captured.err


def test_duplicate_name_is_refused_and_reported(plugin_dist):
    plugin_dist("ganzoo-dupe", "ganzoo_dupe", '''
        import ganzoo
        from torch import nn

        @ganzoo.hookimpl
        def register_losses(register):
            register("ns", object, "an impostor")
            register("fresh", object, "a new name")
    ''')
    registry = get_registry()
    assert registry.get("loss", "ns").distribution == "ganzoo", "the first registration wins"
    assert registry.get("loss", "fresh").distribution == "ganzoo-dupe", "the plugin's other names still register"
    assert any("ganzoo-dupe" in p and "'ns'" in p and "already registered" in p for p in registry.problems())


def test_hook_that_raises_and_misspelled_hook_are_reported(plugin_dist):
    plugin_dist("ganzoo-raises", "ganzoo_raises", '''
        import ganzoo

        @ganzoo.hookimpl
        def register_models(register):
            raise ValueError("bad recipe")
    ''')
    plugin_dist("ganzoo-typo", "ganzoo_typo", '''
        import ganzoo

        @ganzoo.hookimpl
        def register_modles(register):
            pass
    ''')
    problems = get_registry().problems()
    assert any("ganzoo-raises" in p and "bad recipe" in p for p in problems)
    assert any("ganzoo-typo" in p and "register_modles" in p for p in problems)
    assert "dcgan" in get_registry().names("model")


def test_env_var_selects_plugins(plugin_dist, monkeypatch):
    plugin_dist("ganzoo-tinyls", "ganzoo_tinyls", LSGAN_PLUGIN)
    monkeypatch.setenv("GANZOO_PLUGINS", "")
    reset_registry()
    assert get_registry().names("model") == []
    monkeypatch.setenv("GANZOO_PLUGINS", "vanilla, ganzoo-tinyls")
    reset_registry()
    assert get_registry().names("model") == ["minimax", "tinyls", "vanilla"]
    assert set(get_registry().distributions()) == {"ganzoo", "ganzoo-tinyls"}


def test_unknown_names_suggest_close_matches():
    with pytest.raises(UnknownNameError, match=r"unknown model 'vanila'; did you mean 'vanilla'"):
        ganzoo.build("vanila")
    with pytest.raises(UnknownNameError, match=r"unknown loss 'wgan'.*wgan-gp"):
        ganzoo.build("dcgan", loss="wgan")


def test_list_models_public_api():
    assert BUILTIN_MODELS <= set(ganzoo.list_models())
