"""Property: any value for any `ganzoo run` option either trains or fails with one clean line, never a traceback."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from ganzoo.cli.commands import main

junk = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=8)
ints = lambda lo, hi: st.integers(lo, hi).map(str)
floats = st.floats(allow_nan=True, allow_infinity=True, width=32).map(repr)

OPTIONS = {
    "--steps": st.one_of(ints(-3, 3), junk),
    "--batch-size": st.one_of(ints(-2, 40), floats, junk),
    "--lr": st.one_of(floats, junk, st.just("1e-3")),
    "--seed": st.one_of(ints(-2, 2**64), junk),
    "--latent-dim": st.one_of(ints(-1, 9), junk),
    "--n-critic": st.one_of(ints(-1, 3), junk),
    "--image-size": st.one_of(ints(-1, 20), junk),
    "--ema": st.one_of(st.sampled_from(["0", "0.5", "1", "-0.1", "2"]), junk),
    "--precision": st.sampled_from(["auto", "fp32", "bf16", "fp16", "fp8", ""]),
    "--dataset": st.sampled_from(["digits", "ring8", "grid25", "nope", "", "folder:", "folder:/nonexistent"]),
    "--log-every": st.one_of(ints(-1, 3), junk),
}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(model=st.sampled_from(["vanilla", "dcgan", "wgan-gp", "vanila"]),
       chosen=st.dictionaries(st.sampled_from(sorted(OPTIONS)), st.none(), max_size=5),
       data=st.data())
def test_random_run_arguments_run_or_fail_cleanly(model, chosen, data, capsys):
    argv = ["run", model]
    for option in chosen:
        argv += [option, data.draw(OPTIONS[option], label=option)]
    if "--steps" not in chosen:
        argv += ["--steps", "2"]
    with tempfile.TemporaryDirectory() as tmp:
        code = main(argv + ["--out", str(Path(tmp) / "run"), "--quiet"])
    err = capsys.readouterr().err
    event(f"exit code {code}")
    assert code in (0, 2), (argv, code, err)
    assert "Traceback" not in err and "internal error" not in err, (argv, err)
    if code == 2:
        assert len(err.strip().splitlines()) == 1, (argv, err)
