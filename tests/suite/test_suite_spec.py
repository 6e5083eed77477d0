"""Suites as data: expansion, stable run ids, and one-line errors for bad suite files."""

import pytest

import ganzoo
from ganzoo.errors import GanzooError
from ganzoo.suite.runner import resolve_suite
from ganzoo.suite.spec import expand, run_id

MODELS = ["vanilla", "dcgan", "wgan-gp"]


def suite(**changes):
    data = {"name": "s", "kind": "quality", "seeds": 2, "defaults": {"dataset": "digits", "steps": 10},
            "runs": [{"models": ["vanilla", "dcgan"]}], "evaluate": {"samples": 100}}
    data.update(changes)
    return data


def test_a_suite_expands_models_datasets_grid_and_seeds():
    s = expand(suite(runs=[{"models": ["dcgan"], "datasets": ["digits", "ring8"],
                            "settings": {"lr": [1e-4, 2e-4], "batch_size": 16}}]), models=MODELS)
    assert len(s.runs) == 2 * 2 * 2  # datasets x lr grid x seeds
    labels = {r.label for r in s.runs}
    assert labels == {"lr=0.0001", "lr=0.0002"}
    assert all(r.settings["batch_size"] == 16 and r.settings["steps"] == 10 for r in s.runs)
    assert {(r.dataset, r.seed) for r in s.runs} == {("digits", 0), ("digits", 1), ("ring8", 0), ("ring8", 1)}
    assert s.groups() == ["dcgan [lr=0.0001]", "dcgan [lr=0.0002]"]


def test_list_valued_settings_are_one_value_unless_given_a_list_of_lists():
    one = expand(suite(runs=[{"models": ["dcgan"], "settings": {"betas": [0.5, 0.9], "regularizers": ["r1:gamma=1"],
                                                                 "generator_options": ["hidden=8"]}}]),
                 models=MODELS)
    assert len(one.runs) == 2 and {r.label for r in one.runs} == {""}
    assert all(r.settings["betas"] == [0.5, 0.9] and r.settings["regularizers"] == ["r1:gamma=1"]
               and r.settings["generator_options"] == ["hidden=8"] for r in one.runs)
    grid = expand(suite(runs=[{"models": ["dcgan"], "settings": {"betas": [[0.5, 0.9], [0.0, 0.99]]}}]),
                  models=MODELS)
    assert sorted({tuple(r.settings["betas"]) for r in grid.runs}) == [(0.0, 0.99), (0.5, 0.9)]
    assert len(grid.runs) == 4 and len({r.run_id for r in grid.runs}) == 4


def test_star_means_every_registered_model():
    s = expand(suite(runs=[{"models": "*"}], seeds=[5]), models=MODELS)
    assert [r.model for r in s.runs] == MODELS and all(r.seed == 5 for r in s.runs)


def test_run_ids_depend_on_the_math_and_the_protocol_only():
    base = {"model": "dcgan", "dataset": "digits", "seed": 0, "steps": 10}
    ev = {"samples": 100}
    assert run_id(base, ev) == run_id(dict(base), dict(ev))
    assert run_id({**base, "log_every": 7, "sample_every": 3}, ev) == run_id(base, ev)  # when to log: same run
    assert run_id({**base, "lr": 1e-4}, ev) != run_id(base, ev)
    assert run_id({**base, "seed": 1}, ev) != run_id(base, ev)
    assert run_id(base, {"samples": 200}) != run_id(base, ev)


@pytest.mark.parametrize("changes, message", [
    ({"bogus": 1}, "unknown key 'bogus'"),
    ({"kind": "speedy"}, "kind = 'speedy'"),
    ({"seeds": 0}, "at least 1"),
    ({"seeds": [1, 1]}, "repeat a seed"),
    ({"runs": []}, "at least one"),
    ({"runs": [{"models": ["nosuch"]}]}, "unknown model 'nosuch'"),
    ({"defaults": {"learning_rate": 1}}, "unknown setting 'learning_rate'"),
    ({"defaults": {"out": "x"}}, "set by the suite itself"),
    ({"evaluate": {"samples": 5}}, "at least 20"),
    ({"evaluate": {"fid": True}}, "evaluate.fid"),
    ({"defaults": {"steps": -3}}, "steps"),
    ({"runs": [{"models": ["dcgan"]}, {"models": ["dcgan"]}]}, "the same run"),
])
def test_bad_suites_are_one_line_errors(changes, message):
    with pytest.raises(GanzooError, match=message) as info:
        expand(suite(**changes), models=MODELS)
    assert "\n" not in str(info.value)


def test_the_built_in_suites_are_registered_and_expand():
    names = ganzoo.get_registry().names("suite")
    assert {"digits-quality", "pacgan-2d", "zoo-speed"} <= set(names)
    digits = resolve_suite("digits-quality")
    assert digits.kind == "quality" and {r.seed for r in digits.runs} == {0, 1, 2}
    assert {r.model for r in digits.runs} == set(ganzoo.list_models())
    pac = resolve_suite("pacgan-2d")
    assert {(r.model, r.dataset) for r in pac.runs} >= {("vanilla", "ring8"), ("pacgan", "grid25")}
    assert {r.settings["steps"] for r in pac.runs if r.model == "wgan-gp"} == {25000}
    assert any(p["model"] == "pacgan" and p["modes"] == 24.8 for p in pac.table["published"])


def test_hook_register_suites(tmp_path):
    """A plugin package can register a suite (here a parsed dict; the built-ins register TOML paths)."""
    class Plugin:
        @ganzoo.hookimpl
        def register_suites(self, register):
            register("mine", suite(name="mine"), description="a plugin's own suite")

    registry = ganzoo.get_registry()
    registry.add_plugin(Plugin(), "my-suites")
    try:
        s = resolve_suite("mine", registry)
        assert s.name == "mine" and len(s.runs) == 4 and registry.get("suite", "mine").description
    finally:
        ganzoo.reset_registry()


def test_a_suite_file_by_path_and_a_missing_one(tmp_path):
    path = tmp_path / "x.toml"
    path.write_text('name = "x"\nseeds = 1\n[[runs]]\nmodels = ["vanilla"]\n')
    assert len(resolve_suite(str(path)).runs) == 1
    with pytest.raises(GanzooError, match="no suite file"):
        resolve_suite(str(tmp_path / "missing.toml"))
    path.write_text("name = [")
    with pytest.raises(GanzooError, match="not valid TOML"):
        resolve_suite(str(path))
