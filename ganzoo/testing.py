"""Conformance kit for plugin authors: call these from your plugin's tests.

Each check builds the registered component by name (so it also proves the entry point works), exercises the
contract the shared trainer relies on, and raises AssertionError with a message that says what to fix.

    from ganzoo.testing import check_generator, check_discriminator, check_loss, check_model

    def test_my_plugin():
        check_generator("my-generator")
        check_discriminator("my-discriminator")
        check_loss("my-loss")
        check_model("my-model")
"""

from __future__ import annotations

import io
import tempfile
from typing import Any, Optional

import torch
from torch import nn

from .build import _call_factory, build
from .components import Loss, Recipe
from .registry import Registry, get_registry

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

    def make():
        return _call_factory("generator", name, factory, shape, latent_dim, **options)

    torch.manual_seed(0)
    g = make()
    if not isinstance(g, nn.Module):
        _fail(what, f"factory returned {type(g).__name__}, expected a torch.nn.Module")
    g.train()
    z = torch.randn(4, latent_dim)
    x = g(z)
    if tuple(x.shape) != (4, *shape):
        _fail(what, f"maps (4, {latent_dim}) noise to {tuple(x.shape)}, expected {(4, *shape)}")
    if x.dtype != torch.float32:
        _fail(what, f"returns {x.dtype} in fp32, expected torch.float32")
    if len(shape) == 3 and (x.min() < -1 - 1e-6 or x.max() > 1 + 1e-6):
        _fail(what, "images must be in [-1, 1] (end with tanh)")
    x.float().square().mean().backward()
    dead = [n for n, p in g.named_parameters() if p.requires_grad and (p.grad is None or not torch.isfinite(p.grad).all())]
    if dead:
        _fail(what, f"no finite gradient reaches {dead[:3]}")
    _check_seeded_build(what, make)
    _check_roundtrip_and_bf16(what, g, make, z, ((4, *shape),))
    return g


def _check_seeded_build(what: str, make: Any) -> None:
    torch.manual_seed(0)
    first = make().state_dict()
    torch.manual_seed(0)
    second = make().state_dict()
    if any(not torch.equal(first[k], second[k]) for k in first):
        _fail(what, "two builds under the same seed differ; initialise only from torch's global RNG")


def _check_roundtrip_and_bf16(what: str, module: nn.Module, make: Any, probe: torch.Tensor,
                              shapes: tuple[tuple[int, ...], ...]) -> None:
    """Eval-mode outputs survive a state_dict save/load; under bf16 autocast they keep their shape, finite."""
    module.eval()
    with torch.no_grad():
        clone = _roundtrip(module, make).eval()
        if not torch.allclose(module(probe), clone(probe)):
            _fail(what, "outputs differ after a state_dict save/load; register every tensor as a parameter or buffer")
        if _bf16_autocast_available():
            with torch.autocast("cpu", dtype=torch.bfloat16):
                y = module(probe)
            if tuple(y.shape) not in shapes or not torch.isfinite(y.float()).all():
                _fail(what, "under bf16 autocast the output has the wrong shape or is not finite")


def check_discriminator(name: str, shape: tuple[int, ...] = IMAGE_SHAPE, *, registry: Optional[Registry] = None,
                        **options: Any) -> nn.Module:
    """Scores of shape (N,) or (N, 1), gradients to input and weights, autocast, determinism, round trip."""
    what = f"discriminator {name!r}"
    factory = _registry(registry).get("discriminator", name).obj

    def make():
        return _call_factory("discriminator", name, factory, shape, **options)

    torch.manual_seed(0)
    d = make()
    if not isinstance(d, nn.Module):
        _fail(what, f"factory returned {type(d).__name__}, expected a torch.nn.Module")
    d.train()
    x = (torch.rand(4, *shape) * 2 - 1).requires_grad_(True)
    scores = d(x)
    if tuple(scores.shape) not in ((4,), (4, 1)):
        _fail(what, f"maps {tuple(x.shape)} samples to {tuple(scores.shape)}, expected (4,) or (4, 1)")
    (grad_x,) = torch.autograd.grad(scores.sum(), x, create_graph=True)
    if not torch.isfinite(grad_x).all() or grad_x.abs().sum() == 0:
        _fail(what, "no gradient reaches the input samples (the generator could not learn)")
    (scores.sum() + grad_x.square().sum()).backward()  # incl. double backward, as the gradient penalty needs
    dead = [n for n, p in d.named_parameters() if p.requires_grad and (p.grad is None or not torch.isfinite(p.grad).all())]
    if dead:
        _fail(what, f"no finite gradient (incl. double backward) reaches {dead[:3]}")
    _check_seeded_build(what, make)
    _check_roundtrip_and_bf16(what, d, make, x.detach(), ((4,), (4, 1)))
    return d


def check_loss(name: str, *, registry: Optional[Registry] = None, **options: Any) -> Loss:
    """Scalar, finite, differentiable losses that reward the right direction for both players."""
    what = f"loss {name!r}"
    factory = _registry(registry).get("loss", name).obj
    loss = _call_factory("loss", name, factory, **options)
    if not isinstance(loss, Loss):
        _fail(what, f"factory returned {type(loss).__name__}, expected a ganzoo.Loss subclass")
    real = torch.tensor([0.5, 1.0, 2.0], requires_grad=True)
    fake = torch.tensor([-0.5, 0.0, -1.0], requires_grad=True)
    d = loss.discriminator_loss(real, fake)
    g = loss.generator_loss(fake)
    for label, value in (("discriminator_loss", d), ("generator_loss", g)):
        if not isinstance(value, torch.Tensor) or value.ndim != 0 or not torch.isfinite(value):
            _fail(what, f"{label} must return a finite scalar tensor, got {value!r}")
    (d + g).backward()
    if real.grad is None or fake.grad is None:
        _fail(what, "losses are not differentiable with respect to the scores")
    good_d = loss.discriminator_loss(torch.full((3,), 1.0), torch.full((3,), -1.0))
    bad_d = loss.discriminator_loss(torch.full((3,), -1.0), torch.full((3,), 1.0))
    if not good_d < bad_d:
        _fail(what, "discriminator_loss must be lower when real scores are high and fake scores low")
    if not loss.generator_loss(torch.full((3,), 0.5)) < loss.generator_loss(torch.full((3,), -0.5)):
        _fail(what, "generator_loss must decrease as the fake scores rise")
    for extreme in (1e4, -1e4):
        big = torch.full((3,), extreme)
        if not (torch.isfinite(loss.discriminator_loss(big, -big)) and torch.isfinite(loss.generator_loss(big))):
            _fail(what, f"not finite for scores of {extreme:g}; use softplus/logsigmoid forms")
    weight = getattr(loss, "gradient_penalty_weight", 0.0)
    if not isinstance(weight, (int, float)) or weight < 0:
        _fail(what, f"gradient_penalty_weight must be a non-negative number, got {weight!r}")
    return loss


def check_model(name: str, dataset: str = "digits", steps: int = 3, *, registry: Optional[Registry] = None,
                precisions: tuple[str, ...] = ("fp32", "bf16")) -> None:
    """The recipe builds, and trains `steps` steps on the shared trainer with finite losses in each precision."""
    from .config import TrainConfig
    from .trainer import Trainer

    what = f"model {name!r}"
    registry = _registry(registry)
    recipe = registry.get("model", name).obj
    if not isinstance(recipe, Recipe):
        _fail(what, f"registered a {type(recipe).__name__}, expected a ganzoo.Recipe")
    for precision in precisions:
        if precision == "bf16" and not _bf16_autocast_available():
            continue
        with tempfile.TemporaryDirectory() as out:
            trainer = Trainer(TrainConfig(model=name, dataset=dataset, steps=steps, batch_size=16, device="cpu",
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
    build(name, IMAGE_SHAPE, registry=registry)
