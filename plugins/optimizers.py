"""Built-in optimisers a recipe can choose per network: Adam (fused where available), RMSprop, SGD."""

from __future__ import annotations

import torch

import ganzoo


def adam(params, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
    """Adam (Kingma & Ba 2015): fused (one kernel for all parameters) where this torch build has it, else foreach."""
    params = list(params)
    try:
        return torch.optim.Adam(params, lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay, fused=True)
    except (RuntimeError, TypeError, ValueError):
        return torch.optim.Adam(params, lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay, foreach=True)


def rmsprop(params, lr, betas=None, alpha=0.99, eps=1e-8, momentum=0.0):
    """RMSprop (Tieleman & Hinton 2012), as the original WGAN used; `betas` does not apply and is ignored."""
    return torch.optim.RMSprop(list(params), lr=lr, alpha=alpha, eps=eps, momentum=momentum, foreach=True)


def sgd(params, lr, betas=None, momentum=0.0, nesterov=False):
    """Plain or momentum SGD (Goodfellow et al. 2014 used momentum); `betas` does not apply and is ignored."""
    return torch.optim.SGD(list(params), lr=lr, momentum=momentum, nesterov=nesterov, foreach=True)


@ganzoo.hookimpl
def register_optimizers(register):
    register("adam", adam, "Adam, fused where available (Kingma & Ba 2015)")
    register("rmsprop", rmsprop, "RMSprop (the original WGAN's optimiser)")
    register("sgd", sgd, "SGD with optional (Nesterov) momentum")
