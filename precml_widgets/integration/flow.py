"""A zuko normalizing flow whose support is exactly the unit hypercube ``[0, 1]^dim``."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING

from precml_widgets._checks import require_int
from precml_widgets._optional import require
from precml_widgets.errors import InvalidInputError

if TYPE_CHECKING:
    import torch

__all__ = ["FLOW_SIZES", "FlowConfig", "build_cube_flow"]

#: Half-width of the spline domain: the flow works on ``[-B, B]^dim`` and shifts by ``B``.
_BOUND = 0.5


@dataclass(frozen=True)
class FlowConfig:
    """Architecture of the cube flow (rational-quadratic splines, Durkan et al. arXiv:1906.04032).

    Attributes:
        transforms: number of spline transformations.
        bins: spline bins per transformation and dimension.
        hidden: widths of the hidden layers of each conditioner network.
        coupling: ``True`` for coupling layers (half the dimensions condition the other half;
            sampling and density cost one network pass each), ``False`` for fully
            autoregressive layers (more expressive; sampling costs ``dim`` passes).
        identity_init: start from the identity map (zero output layers), so that training
            starts from the uniform density (or from the VEGAS map with ``premap``), as
            MadNIS does; ``False`` keeps zuko's random initialisation.

    Example:
        >>> FlowConfig(transforms=2, bins=8, hidden=(16,)).validate().bins
        8
    """

    transforms: int = 4
    bins: int = 16
    hidden: tuple[int, ...] = (64, 64)
    coupling: bool = True
    identity_init: bool = True

    def validate(self) -> FlowConfig:
        """Return ``self`` or raise :class:`InvalidInputError` naming the bad field."""
        require_int("FlowConfig.transforms", self.transforms, low=1)
        require_int("FlowConfig.bins", self.bins, low=2)
        if not isinstance(self.hidden, tuple | list) or not self.hidden:
            raise InvalidInputError(
                "FlowConfig.hidden must be a non-empty tuple of positive layer widths, "
                f"e.g. (64, 64); got {self.hidden!r}."
            )
        for width in self.hidden:
            require_int("each width in FlowConfig.hidden", width, low=1, hint="e.g. (64, 64).")
        return self


#: Named flow architectures (the explorer's, notebook 01's and the benchmark's sizes); "medium"
#: is ``FlowConfig()``.
FLOW_SIZES: dict[str, FlowConfig] = {
    "small": FlowConfig(transforms=3, bins=8, hidden=(32, 32)),
    "medium": FlowConfig(transforms=4, bins=16, hidden=(64, 64)),
    "large": FlowConfig(transforms=6, bins=16, hidden=(128, 128)),
}


def build_cube_flow(
    dim: int, config: FlowConfig | None = None, *, seed: int = 0
) -> torch.nn.Module:
    """Build a zuko flow with density ``q(x) > 0`` on ``[0, 1]^dim`` and exactly zero outside.

    The base distribution is uniform on ``[-B, B]^dim`` and every transformation is a monotonic
    rational-quadratic spline that maps ``[-B, B]`` onto itself, followed by a shift by ``B``:
    the support is the cube by construction. Nothing is clipped (an unbounded Gaussian base
    with clipping would leak probability outside the cube and bias the weights). This is the
    set-up of i-flow (Gao et al., arXiv:2001.05486) and of Bothmann et al. (arXiv:2001.05478).

    Args:
        dim: dimension of the cube (>= 1).
        config: architecture; defaults to :class:`FlowConfig()`.
        seed: seeds the weights and the (random) variable orderings between layers.

    Returns:
        A ``zuko.flows.Flow``: ``flow()`` is a distribution with ``rsample_and_log_prob`` and
        ``log_prob`` on ``(N, dim)`` points in the cube.

    Example:
        >>> import torch
        >>> flow = build_cube_flow(3, FlowConfig(transforms=2, bins=4, hidden=(8,)), seed=1)
        >>> with torch.no_grad():
        ...     x, log_q = flow().rsample_and_log_prob((1000,))
        >>> bool(x.min() >= 0 and x.max() <= 1), tuple(log_q.shape)
        (True, (1000,))
    """
    torch = require("torch", "flows", "normalizing flows")
    zuko = require("zuko", "flows", "normalizing flows")
    dim = require_int("dim", dim, low=1, hint="pass the number of dimensions, e.g. 4.")
    config = (config or FlowConfig()).validate()
    generator_state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        splines = zuko.flows.MAF(
            dim,
            transforms=config.transforms,
            randperm=dim > 2,
            passes=2 if config.coupling and dim > 1 else None,
            univariate=partial(zuko.transforms.MonotonicRQSTransform, bound=_BOUND),
            shapes=[(config.bins,), (config.bins,), (config.bins - 1,)],
            hidden_features=config.hidden,
        )
    finally:
        torch.random.set_rng_state(generator_state)
    if config.identity_init:
        # Zero output layers make every spline the identity (equal bins, unit slopes): the
        # untrained flow is the uniform density, or exactly the VEGAS map behind it.
        with torch.no_grad():
            for transform in splines.transform.transforms:
                last = transform.hyper[-1]
                last.weight.zero_()
                last.bias.zero_()
    # zuko's transforms run x -> z: shift the cube onto the spline domain first.
    shift = zuko.flows.UnconditionalTransform(
        zuko.transforms.MonotonicAffineTransform,
        torch.full((dim,), -_BOUND),
        torch.zeros(dim),
        buffer=True,
    )
    base = zuko.flows.UnconditionalDistribution(
        zuko.distributions.BoxUniform,
        torch.full((dim,), -_BOUND),
        torch.full((dim,), _BOUND),
        buffer=True,
    )
    return zuko.flows.Flow([shift, *splines.transform.transforms], base)
