"""A worked example for active subspaces: a network fitted to a ridge function, directions known.

The target is ``y = sin(aᵀu) + 0.1 (bᵀu)² + noise`` in d = 12 standardised features
``u ~ N(0, I)`` with orthonormal ``a``, ``b``; the features the network sees are ``x_i = s_i u_i``
with scales ``s_i`` from 0.5 to 50 (physics units differ by a factor 100). Because ``aᵀu`` and
``bᵀu`` are independent standard normals, ``C = E[∇f ∇fᵀ]`` (in ``u``) is exactly
``E[cos²(aᵀu)] a aᵀ + 0.04 E[(bᵀu)²] b bᵀ``: ``λ1 = (1 + e^-2) / 2 ≈ 0.568`` along ``a``,
``λ2 = 0.04`` along ``b``, all others 0. A network fitted to noisy samples (not the analytic
function, which would make the check trivial) must recover ``a`` and ``b``.

References:
    P. Constantine, *Active Subspaces*, SIAM 2015; Constantine & Diaz, arXiv:1510.04361.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from precml_widgets._checks import require_int, require_seed
from precml_widgets._optional import require
from precml_widgets.interpret.active_subspace import ActiveSubspace, active_subspace
from precml_widgets.interpret.adapter import ScoredModel

__all__ = [
    "RIDGE_DIM",
    "RIDGE_EIGENVALUES",
    "RIDGE_NOISE",
    "RIDGE_SCALES",
    "RidgeExample",
    "ridge_directions",
    "ridge_example",
    "ridge_target",
]

#: Number of features d.
RIDGE_DIM = 12
#: Standard deviation of the Gaussian noise added to the target (score units).
RIDGE_NOISE = 0.05
#: Per-feature scales s_i (GeV): x_i = s_i u_i.
RIDGE_SCALES = np.geomspace(0.5, 50.0, RIDGE_DIM)
#: The exact λ1, λ2 of the target in standardised features: (1 + e^-2) / 2 and 0.04.
RIDGE_EIGENVALUES = ((1.0 + np.exp(-2.0)) / 2.0, 0.04)


def ridge_directions() -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """The orthonormal directions (a, b), each (12,), in standardised features (fixed, seed 12345).

    Example:
        >>> a, b = ridge_directions()
        >>> round(float(a @ a), 12), round(float(a @ b), 12)
        (1.0, 0.0)
    """
    q, _ = np.linalg.qr(np.random.default_rng(12345).normal(size=(RIDGE_DIM, 2)))
    return q[:, 0], q[:, 1]


def ridge_target(u: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """``sin(aᵀu) + 0.1 (bᵀu)²`` for standardised features ``u`` (n, 12): (n,), no noise."""
    a, b = ridge_directions()
    return np.sin(u @ a) + 0.1 * (u @ b) ** 2


@dataclass(frozen=True)
class RidgeExample:
    """The fitted ridge network, its sample and its active subspace, with the exact answer.

    Attributes:
        model: the fitted network as a :class:`ScoredModel` of 12 features in GeV.
        x: the training sample in GeV, shape (n, 12) (the subspace is taken over it).
        subspace: the network's active subspace over ``x``.
        a, b: the exact first and second directions in standardised features, (12,) each.
        exact_eigenvalues: the exact ``(λ1, λ2)`` (standardised units; all others are 0).
    """

    model: ScoredModel
    x: npt.NDArray[np.float64]
    subspace: ActiveSubspace
    a: npt.NDArray[np.float64]
    b: npt.NDArray[np.float64]
    exact_eigenvalues: tuple[float, float]

    def direction_cosines(self) -> tuple[float, float]:
        """``|cos|`` of the first two active directions with ``a`` and ``b``."""
        w = self.subspace.eigenvectors
        return float(abs(w[:, 0] @ self.a)), float(abs(w[:, 1] @ self.b))


def _fit(x: npt.NDArray[np.float64], y: npt.NDArray[np.float64], epochs: int, seed: int) -> object:
    """A 12-64-64-1 SiLU MLP behind a fixed division by the scales, fitted with MSE (Adam,
    cosine schedule, batches of 128) on CPU; it takes features in GeV."""
    torch = require("torch", "interpret", "the ridge example")

    class Divide(torch.nn.Module):
        def __init__(self, scale: object) -> None:
            super().__init__()
            self.register_buffer("scale", scale)

        def forward(self, v: object) -> object:
            return v / self.scale

    n = len(x)
    torch.manual_seed(seed)
    net = torch.nn.Sequential(
        Divide(torch.tensor(RIDGE_SCALES, dtype=torch.float32)),
        torch.nn.Linear(RIDGE_DIM, 64),
        torch.nn.SiLU(),
        torch.nn.Linear(64, 64),
        torch.nn.SiLU(),
        torch.nn.Linear(64, 1),
    )
    xt = torch.tensor(x, dtype=torch.float32)
    yt = torch.tensor(y, dtype=torch.float32)[:, None]
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(1, epochs * (n // 128)))
    gen = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        for idx in torch.randperm(n, generator=gen).split(128):
            opt.zero_grad()
            torch.nn.functional.mse_loss(net(xt[idx]), yt[idx]).backward()
            opt.step()
            sched.step()
    return net.eval()


def ridge_example(
    *, n_events: int = 10_000, epochs: int = 4, n_bootstrap: int = 200, seed: int = 0
) -> RidgeExample:
    """Fit a network to ``n_events`` noisy ridge samples and take its active subspace.

    Args:
        n_events: training events (the issue's ground truth uses 10 000), >= 1000.
        epochs: passes over them, >= 1.
        n_bootstrap: bootstrap resamples of the subspace (>= 200).
        seed: seeds the sample, the noise, the fit and the bootstrap.

    Returns:
        a :class:`RidgeExample`.

    Example:
        >>> ex = ridge_example(n_events=2000, epochs=2)
        >>> cos_a, cos_b = ex.direction_cosines()
        >>> cos_a > 0.95, ex.subspace.eigenvalues.shape
        (True, (12,))
    """
    n_events = require_int("n_events", n_events, low=1000, hint="e.g. 10000.")
    epochs = require_int("epochs", epochs, low=1, hint="e.g. 4.")
    seed = require_seed("seed", seed)
    rng = np.random.default_rng(seed)
    u = rng.normal(size=(n_events, RIDGE_DIM))
    x = u * RIDGE_SCALES
    y = ridge_target(u) + RIDGE_NOISE * rng.normal(size=n_events)
    names = tuple(f"x{i + 1}" for i in range(RIDGE_DIM))
    model = ScoredModel(
        _fit(x, y, epochs, seed), names, units=("GeV",) * RIDGE_DIM, name="ridge net"
    )
    subspace = active_subspace(model, x, n_bootstrap=n_bootstrap, seed=seed)
    a, b = ridge_directions()
    return RidgeExample(model, x, subspace, a, b, RIDGE_EIGENVALUES)
