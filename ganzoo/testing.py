"""Conformance kit for plugin authors: call these from your plugin's tests.

Each check builds the registered component by name (so it also proves the entry point works), exercises the
contract the shared trainer relies on, and raises AssertionError with a message that says what to fix.

    from ganzoo.testing import check_generator, check_discriminator, check_loss, check_model

    def test_my_plugin():
        check_generator("my-generator")
        check_discriminator("my-discriminator")
        check_loss("my-loss")
        check_model("my-model")

Contract v2 kinds have their own checks: ``check_regularizer``, ``check_augmentation``, ``check_schedule``,
``check_constraint``, ``check_optimizer`` and ``check_logger``. Conditional networks: pass ``num_classes=10``.
"""

from __future__ import annotations

import contextlib
import io
import tempfile
from typing import Any, Optional

import torch
from torch import nn

from ganzoo.contract.extensions import (
    PHASES,
    Augmentation,
    Constraint,
    Regularizer,
    Schedule,
    StepContext,
    split_output,
)
from ganzoo.contract.types import Loss, Recipe, draw_latent, loss_calls
from ganzoo.engine.assemble import build
from ganzoo.engine.precision import autograd_input_grad
from ganzoo.registry import Registry, call_factory, get_registry

IMAGE_SHAPE = (1, 8, 8)


def _registry(registry: Optional[Registry]) -> Registry:
    return registry or get_registry()


def _fail(what: str, message: str) -> None:
    raise AssertionError(f"{what}: {message}")


def _roundtrip(module: nn.Module, make: Any) -> nn.Module:
    buffer = io.BytesIO()
    torch.save(module.state_dict(), buffer)
    buffer.seek(0)
    clone = make()
    clone.load_state_dict(torch.load(buffer, weights_only=True))
    return clone


def _bf16_autocast_available() -> bool:
    try:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            torch.ones(2, 2) @ torch.ones(2, 2)
        return True
    except RuntimeError:
        return False


def check_generator(name: str, shape: tuple[int, ...] = IMAGE_SHAPE, latent_dim: int = 16, *,
                    registry: Optional[Registry] = None, **options: Any) -> nn.Module:
    """Shape, range, dtype under autocast, seeded determinism, gradient flow and state-dict round trip."""
    what = f"generator {name!r}"
    factory = _registry(registry).get("generator", name).obj
    labels = torch.arange(4) % options["num_classes"] if options.get("num_classes") else None

    def make():
        return call_factory("generator", name, factory, shape, latent_dim, **options)

    torch.manual_seed(0)
    g = make()
    if not isinstance(g, nn.Module):
        _fail(what, f"factory returned {type(g).__name__}, expected a torch.nn.Module")
    g.train()
    own = getattr(g, "sample_latent", None)
    z = own(4, generator=None, device=torch.device("cpu")) if own is not None else torch.randn(4, latent_dim)
    x = g(z) if labels is None else g(z, labels)
    if tuple(x.shape) != (4, *shape):
        _fail(what, f"maps (4, {latent_dim}) noise to {tuple(x.shape)}, expected {(4, *shape)}")
    if x.dtype != torch.float32:
        _fail(what, f"returns {x.dtype} in fp32, expected torch.float32")
    if len(shape) == 3 and (x.min() < -1 - 1e-6 or x.max() > 1 + 1e-6):
        _fail(what, "images must be in [-1, 1] (end with tanh)")
    x.float().square().mean().backward()
    dead = [n for n, p in g.named_parameters()
            if p.requires_grad and (p.grad is None or not torch.isfinite(p.grad).all())]
    if dead:
        _fail(what, f"no finite gradient reaches {dead[:3]}")
    _check_seeded_build(what, make)
    _check_roundtrip_and_bf16(what, g, make, z, ((4, *shape),), labels)
    return g


def _check_seeded_build(what: str, make: Any) -> None:
    torch.manual_seed(0)
    first = make().state_dict()
    torch.manual_seed(0)
    second = make().state_dict()
    if any(not torch.equal(first[k], second[k]) for k in first):
        _fail(what, "two builds under the same seed differ; initialise only from torch's global RNG")


def _check_roundtrip_and_bf16(what: str, module: nn.Module, make: Any, probe: torch.Tensor,
                              shapes: tuple[tuple[int, ...], ...], labels: Optional[torch.Tensor] = None) -> None:
    """Eval-mode outputs survive a state_dict save/load; under bf16 autocast they keep their shape, finite."""
    def run(net):
        return split_output(net(probe) if labels is None else net(probe, labels))[0]

    module.eval()
    with torch.no_grad():
        clone = _roundtrip(module, make).eval()
        if not torch.allclose(run(module), run(clone)):
            _fail(what, "outputs differ after a state_dict save/load; register every tensor as a parameter or buffer")
        if _bf16_autocast_available():
            with torch.autocast("cpu", dtype=torch.bfloat16):
                y = run(module)
            if tuple(y.shape) not in shapes or not torch.isfinite(y.float()).all():
                _fail(what, "under bf16 autocast the output has the wrong shape or is not finite")


def check_discriminator(name: str, shape: tuple[int, ...] = IMAGE_SHAPE, *, registry: Optional[Registry] = None,
                        **options: Any) -> nn.Module:
    """Scores of shape (N,) or (N, 1) (or (N/m,) for a discriminator on packs of m, and (scores, aux) with an
    auxiliary head), gradients to input and weights, autocast, determinism, round trip."""
    what = f"discriminator {name!r}"
    factory = _registry(registry).get("discriminator", name).obj
    labels = torch.arange(4) % options["num_classes"] if options.get("num_classes") else None
    pack = int(options.get("pack", 1))
    n_out = 4 // pack

    def make():
        return call_factory("discriminator", name, factory, shape, **options)

    torch.manual_seed(0)
    d = make()
    if not isinstance(d, nn.Module):
        _fail(what, f"factory returned {type(d).__name__}, expected a torch.nn.Module")
    d.train()
    x = (torch.rand(4, *shape) * 2 - 1).requires_grad_(True)
    scores, _aux = split_output(d(x) if labels is None else d(x, labels))
    if tuple(scores.shape) not in ((n_out,), (n_out, 1)):
        _fail(what, f"maps {tuple(x.shape)} samples to {tuple(scores.shape)}, expected ({n_out},) or ({n_out}, 1)")
    (grad_x,) = torch.autograd.grad(scores.sum(), x, create_graph=True)
    if not torch.isfinite(grad_x).all() or grad_x.abs().sum() == 0:
        _fail(what, "no gradient reaches the input samples (the generator could not learn)")
    (scores.sum() + grad_x.square().sum()).backward()  # incl. double backward, as the gradient penalty needs
    dead = [n for n, p in d.named_parameters()
            if p.requires_grad and (p.grad is None or not torch.isfinite(p.grad).all())]
    if dead:
        _fail(what, f"no finite gradient (incl. double backward) reaches {dead[:3]}")
    _check_seeded_build(what, make)
    _check_roundtrip_and_bf16(what, d, make, x.detach(), ((n_out,), (n_out, 1)), labels)
    return d


def check_loss(name: str, *, registry: Optional[Registry] = None, **options: Any) -> Loss:
    """Scalar, finite, differentiable losses that reward the right direction for both players."""
    what = f"loss {name!r}"
    factory = _registry(registry).get("loss", name).obj
    loss = call_factory("loss", name, factory, **options)
    if not isinstance(loss, Loss):
        _fail(what, f"factory returned {type(loss).__name__}, expected a ganzoo.Loss subclass")
    d_call, g_call = loss_calls(loss)  # the engine's one calling convention

    def ctx_for(phase, r, f):
        return StepContext(step=1, total_steps=1, phase=phase, real=torch.zeros(len(r), 1), fake=torch.zeros(len(f), 1),
                           real_scores=r, fake_scores=f)

    def d_loss(r, f):
        return d_call(r, f, ctx_for("D", r, f))

    def g_loss(f, r=None):
        r = torch.full_like(f, 0.25) if r is None else r
        return g_call(f, ctx_for("G", r, f))

    real = torch.tensor([0.5, 1.0, 2.0], requires_grad=True)
    fake = torch.tensor([-0.5, 0.0, -1.0], requires_grad=True)
    d = d_loss(real, fake)
    g = g_loss(fake)
    for label, value in (("discriminator_loss", d), ("generator_loss", g)):
        if not isinstance(value, torch.Tensor) or value.ndim != 0 or not torch.isfinite(value):
            _fail(what, f"{label} must return a finite scalar tensor, got {value!r}")
    (d + g).backward()
    if real.grad is None or fake.grad is None:
        _fail(what, "losses are not differentiable with respect to the scores")
    good_d = d_loss(torch.full((3,), 1.0), torch.full((3,), -1.0))
    bad_d = d_loss(torch.full((3,), -1.0), torch.full((3,), 1.0))
    if not good_d < bad_d:
        _fail(what, "discriminator_loss must be lower when real scores are high and fake scores low")
    if not g_loss(torch.full((3,), 0.5)) < g_loss(torch.full((3,), -0.5)):
        _fail(what, "generator_loss must decrease as the fake scores rise")
    for extreme in (1e4, -1e4):
        big = torch.full((3,), extreme)
        if not (torch.isfinite(d_loss(big, -big)) and torch.isfinite(g_loss(big, -big))):
            _fail(what, f"not finite for scores of {extreme:g}; use softplus/logsigmoid forms")
    weight = getattr(loss, "gradient_penalty_weight", 0.0)
    if not isinstance(weight, (int, float)) or weight < 0:
        _fail(what, f"gradient_penalty_weight must be a non-negative number, got {weight!r}")
    return loss


def check_model(name: str, dataset: str = "digits", steps: int = 3, *, registry: Optional[Registry] = None,
                precisions: tuple[str, ...] = ("fp32", "bf16"), batch_size: int = 16) -> None:
    """The recipe builds, and trains `steps` steps on the shared trainer with finite losses in each precision
    (at `batch_size`: pass a multiple of the pack size for packed discriminators, e.g. 12 for packs of 3)."""
    from ganzoo.run.trainer import Trainer
    from ganzoo.spec.config import TrainConfig

    what = f"model {name!r}"
    registry = _registry(registry)
    recipe = registry.get("model", name).obj
    if not isinstance(recipe, Recipe):
        _fail(what, f"registered a {type(recipe).__name__}, expected a ganzoo.Recipe")
    for precision in precisions:
        if precision == "bf16" and not _bf16_autocast_available():
            continue
        with tempfile.TemporaryDirectory() as out:
            trainer = Trainer(TrainConfig(model=name, dataset=dataset, steps=steps, batch_size=batch_size, device="cpu",
                                          precision=precision, log_every=1, out=out), registry=registry,
                              progress=False)
            before = [p.detach().clone() for p in trainer.gan.generator.parameters()]
            result = trainer.fit()
            m = result.last_metrics
            if not (torch.isfinite(torch.tensor(m["loss_d"])) and torch.isfinite(torch.tensor(m["loss_g"]))):
                _fail(what, f"losses are not finite after {steps} {precision} steps: {m}")
            if all(torch.equal(a, b) for a, b in zip(before, trainer.gan.generator.parameters())):
                _fail(what, f"{precision} training did not change the generator's weights")
            samples = trainer.sample()
            if tuple(samples.shape[1:]) != trainer.dataset.shape:
                _fail(what, f"samples have shape {tuple(samples.shape[1:])}, expected {trainer.dataset.shape}")
    build(name, IMAGE_SHAPE, registry=registry, num_classes=10 if recipe.conditional else None)


def step_context(real: torch.Tensor, fake: torch.Tensor, D: Optional[Any] = None, *, phase: str = "D",
                 real_labels: Optional[torch.Tensor] = None, fake_labels: Optional[torch.Tensor] = None,
                 z: Optional[torch.Tensor] = None, step: int = 1, total_steps: int = 1,
                 num_classes: Optional[int] = None, seed: int = 0, generator: Optional[nn.Module] = None,
                 latent_dim: Optional[int] = None) -> StepContext:
    """A StepContext for unit-testing a loss, regulariser or augmentation without a trainer, as the trainer builds
    one in fp32: with a critic `D`, ``real``/``fake`` are copies that require gradients, their scores are D's
    float32 ``(N,)`` outputs with the graph kept, ``ctx.D``/``ctx.D_with_aux`` call `D`, and
    ``ctx.input_grad(scores, x)`` is d(sum scores)/dx with its graph (so a penalty on it can be differentiated
    again); ``ctx.rand`` draws from a generator seeded with `seed`. Without `D` the scores are None. A `generator`
    (G's module) is ``ctx.generator``; ``ctx.draw_z(n)`` then draws its latents (`latent_dim`, or the size G's
    own ``sample_latent`` gives) from the same seeded generator; ``ctx.autocast()`` is a no-op (fp32)."""
    if phase not in PHASES:
        raise ValueError(f"phase must be 'D' or 'G', got {phase!r}")
    real = real.detach().clone().requires_grad_(True)
    fake = fake.detach().clone().requires_grad_(True)
    noise = torch.Generator().manual_seed(seed)

    def call(x, labels=None):
        out = D(x) if labels is None else D(x, labels)
        scores, aux = split_output(out)
        return scores.float().reshape(-1), aux

    real_scores = real_aux = fake_scores = fake_aux = None
    if D is not None:
        real_scores, real_aux = call(real, real_labels)
        fake_scores, fake_aux = call(fake, fake_labels)
    return StepContext(
        step=step, total_steps=total_steps, phase=phase, real=real, fake=fake, real_scores=real_scores,
        fake_scores=fake_scores, real_labels=real_labels, fake_labels=fake_labels, real_aux=real_aux,
        fake_aux=fake_aux, z=z, num_classes=num_classes, D=lambda x, labels=None: call(x, labels)[0],
        D_with_aux=call, input_grad=lambda scores, x: autograd_input_grad(scores.float().sum(), x).float(),
        rand=lambda n, *shape: torch.rand((n, *shape), generator=noise), generator=generator,
        draw_z=lambda n: draw_latent(generator, n, latent_dim or 0, noise, "cpu"), autocast=contextlib.nullcontext)


# -- contract v2 kinds -------------------------------------------------------------------------------------------------
def _tiny_update(registry: Registry, precision: str = "fp32", shape: tuple[int, ...] = (2,), **recipe_fields: Any):
    """A small MLP GAN on random data as an AdversarialUpdate (no run folder), plus its batch source."""
    from ganzoo.engine.assemble import build_engine
    from ganzoo.spec.resolve import spec_from_recipe

    fields = dict(generator="mlp", discriminator="mlp", loss="ns", latent_dim=4, batch_size=8, steps=4,
                  generator_options={"hidden": (16,)}, discriminator_options={"hidden": (16,)})
    fields.update(recipe_fields)
    spec = spec_from_recipe("check", Recipe(**fields), shape, registry=registry)
    update = build_engine(spec, registry=registry, device="cpu", precision=precision, seed=0)
    data = torch.rand(64, *shape) * 2 - 1
    state = {"i": 0}

    def next_batch():
        state["i"] = (state["i"] + 8) % 64
        return data[state["i"]: state["i"] + 8], None

    return update, next_batch


def _precisions() -> tuple[str, ...]:
    return ("fp32", "bf16") if _bf16_autocast_available() else ("fp32",)


def check_regularizer(name: str, *, registry: Optional[Registry] = None, shape: tuple[int, ...] = (2,),
                      **options: Any) -> Regularizer:
    """Builds with a valid phase; inside a real update its term is finite, logged as reg/NAME, and trains D (or G)."""
    what = f"regularizer {name!r}"
    registry = _registry(registry)
    reg = call_factory("regularizer", name, registry.get("regularizer", name).obj, **options)
    if not isinstance(reg, Regularizer):
        _fail(what, f"factory returned {type(reg).__name__}, expected a ganzoo.Regularizer")
    if getattr(reg, "phase", None) not in PHASES:
        _fail(what, f"phase must be 'D' or 'G', got {getattr(reg, 'phase', None)!r}")
    for precision in _precisions():
        update, batches = _tiny_update(registry, precision, shape, regularizers=({"name": name, **options},))
        net = update.gan.discriminator if reg.phase == "D" else update.gan.generator
        before = [p.detach().clone() for p in net.parameters()]
        for step in (1, 2):
            update.step(step, 2, batches)
        metrics = update.read_metrics()
        value = metrics.get(f"reg/{name}")
        if value is None or not torch.isfinite(torch.tensor(value)):
            _fail(what, f"its term is not finite in {precision} (got {value!r}); return a finite scalar tensor")
        if all(torch.equal(a, b) for a, b in zip(before, net.parameters())):
            _fail(what, f"{precision} steps with it did not change the {reg.phase} network")
    return reg


def check_augmentation(name: str, shape: tuple[int, ...] = (3, 8, 8), *, registry: Optional[Registry] = None,
                       **options: Any) -> Augmentation:
    """Same shape out, finite, differentiable to its input, repeatable under a seed, state_dict round trip."""
    what = f"augmentation {name!r}"
    registry = _registry(registry)
    factory = registry.get("augmentation", name).obj
    aug = call_factory("augmentation", name, factory, shape, **options)
    if not isinstance(aug, Augmentation):
        _fail(what, f"factory returned {type(aug).__name__}, expected a ganzoo.Augmentation (an nn.Module)")
    x = (torch.rand(6, *shape) * 2 - 1).requires_grad_(True)
    torch.manual_seed(1)
    y = aug(x)
    if tuple(y.shape) != tuple(x.shape) or not torch.isfinite(y).all():
        _fail(what, f"maps {tuple(x.shape)} to {tuple(y.shape)} (or non-finite values); keep the shape")
    y.square().sum().backward()
    if x.grad is None or not torch.isfinite(x.grad).all():
        _fail(what, "no gradient flows through it to its input (the generator would stop learning)")
    torch.manual_seed(1)
    if not torch.equal(aug(x.detach()), y.detach()):
        _fail(what, "two calls under the same torch seed differ; draw randomness from torch's global RNG")
    clone = call_factory("augmentation", name, factory, shape, **options)
    clone.load_state_dict(aug.state_dict())
    stats = aug.stats()
    if not isinstance(stats, dict):
        _fail(what, f"stats() must return a dict, got {type(stats).__name__}")
    return aug


def check_schedule(name: str, total_steps: int = 100, *, registry: Optional[Registry] = None,
                   **options: Any) -> Schedule:
    """Finite, non-negative lr and regulariser factors, EMA decay in [0, 1), betas in [0, 1), over a whole run."""
    what = f"schedule {name!r}"
    sched = call_factory("schedule", name, _registry(registry).get("schedule", name).obj, **options)
    if not isinstance(sched, Schedule):
        _fail(what, f"factory returned {type(sched).__name__}, expected a ganzoo.Schedule")
    for step in range(1, total_steps + 1):
        for net in PHASES:
            lr = sched.lr_scale(net, step, total_steps)
            if not isinstance(lr, (int, float)) or not lr >= 0 or lr == float("inf"):
                _fail(what, f"lr_scale({net!r}, {step}, {total_steps}) = {lr!r}; return a finite number >= 0")
            b1, b2 = sched.betas(net, step, total_steps, (0.5, 0.999))
            if not (0 <= b1 < 1 and 0 <= b2 < 1):
                _fail(what, f"betas at step {step} = {(b1, b2)}; each must be in [0, 1)")
        decay = sched.ema_decay(step, total_steps, 0.999)
        if not 0 <= decay < 1:
            _fail(what, f"ema_decay at step {step} = {decay!r}; must be in [0, 1)")
        scale = sched.regularizer_scale("r1", step, total_steps)
        if not scale >= 0 or scale == float("inf"):
            _fail(what, f"regularizer_scale at step {step} = {scale!r}; return a finite number >= 0")
    return sched


def check_constraint(name: str, *, registry: Optional[Registry] = None, **options: Any) -> Constraint:
    """A valid phase; applied in place (same parameter tensors), weights stay finite, applying twice is stable."""
    what = f"constraint {name!r}"
    con = call_factory("constraint", name, _registry(registry).get("constraint", name).obj, **options)
    if not isinstance(con, Constraint):
        _fail(what, f"factory returned {type(con).__name__}, expected a ganzoo.Constraint")
    if getattr(con, "phase", None) not in PHASES:
        _fail(what, f"phase must be 'D' or 'G', got {getattr(con, 'phase', None)!r}")
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))
    with torch.no_grad():
        for p in net.parameters():
            p.mul_(10)
    ids = [id(p) for p in net.parameters()]
    with torch.no_grad():
        con(net)
        once = [p.detach().clone() for p in net.parameters()]
        con(net)
    if ids != [id(p) for p in net.parameters()]:
        _fail(what, "replaced parameter tensors; modify them in place (the optimiser holds references)")
    if not all(torch.isfinite(p).all() for p in net.parameters()):
        _fail(what, "made weights non-finite")
    if not all(torch.allclose(a, b) for a, b in zip(once, net.parameters())):
        _fail(what, "applying it twice changes the weights again; a constraint should be a projection")
    return con


def check_optimizer(name: str, *, registry: Optional[Registry] = None, **options: Any) -> torch.optim.Optimizer:
    """Returns a torch optimiser that lowers a quadratic and survives a state_dict round trip."""
    what = f"optimizer {name!r}"
    factory = _registry(registry).get("optimizer", name).obj
    w = nn.Parameter(torch.tensor([3.0, -2.0]))
    opt = call_factory("optimizer", name, factory, [w], lr=1e-2, betas=(0.5, 0.999), **options)
    if not isinstance(opt, torch.optim.Optimizer):
        _fail(what, f"factory returned {type(opt).__name__}, expected a torch.optim.Optimizer")
    start = float(w.detach().square().sum())
    for _ in range(20):
        opt.zero_grad()
        w.square().sum().backward()
        opt.step()
    if not float(w.detach().square().sum()) < start:
        _fail(what, "20 steps on sum(w^2) did not lower it")
    clone = call_factory("optimizer", name, factory, [nn.Parameter(w.detach().clone())], lr=1e-2, betas=(0.5, 0.999),
                          **options)
    clone.load_state_dict(opt.state_dict())
    return opt


def check_logger(factory: Any, *args: Any, **kwargs: Any) -> Any:
    """See ganzoo.run.loggers.check_logger (re-exported here with the other checks)."""
    from ganzoo.run.loggers import check_logger as _check

    return _check(factory, *args, **kwargs)
