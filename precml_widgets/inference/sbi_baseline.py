"""The baseline: ``sbi``'s neural likelihood estimation on the same simulations.

``sbi`` (A. Tejero-Cantero et al., JOSS 5 (2020) 2505; NLE after G. Papamakarios et al.,
arXiv:1805.07226) trains its own conditional flow with its own defaults (a neural spline flow,
z-scoring, a 10 % validation split and early stopping). It sees the same pairs as
:func:`~precml_widgets.inference.nle.train_nle`, with the same map of the cosine to the real
line, so the two differ only in the estimator and its training. Nothing of ``sbi`` is
re-implemented here: this module only feeds it and reads its density.
"""

from __future__ import annotations

import contextlib
import io
import time
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from precml_widgets._checks import require_int, require_seed
from precml_widgets._optional import require
from precml_widgets.inference.density import require_events
from precml_widgets.inference.measurement import mass_frame
from precml_widgets.inference.nle import flow_inputs, require_pairs, require_smeared
from precml_widgets.inference.problem import EFTProblem

__all__ = ["SbiLikelihood", "train_sbi_nle"]

Array = npt.NDArray[np.float64]
# (events x coefficient vectors) per call of sbi's estimator.
_CHUNK = 200_000


class _NoTracking:
    """sbi's tracker protocol, keeping nothing: by default sbi writes TensorBoard logs to
    ``./sbi-logs``, and precml writes no file the user did not ask for."""

    log_dir = None

    def log_metric(self, name: str, value: float, step: int | None = None) -> None:
        """Drop the metric."""

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        """Drop the metrics."""

    def log_params(self, params: dict[str, object]) -> None:
        """Drop the parameters."""

    def add_figure(self, name: str, figure: object, step: int | None = None) -> None:
        """Drop the figure."""

    def flush(self) -> None:
        """Nothing to flush."""


@dataclass(frozen=True, eq=False)
class SbiLikelihood:
    """``sbi``'s trained likelihood estimator, read like :class:`NeuralLikelihood`.

    Attributes:
        problem: the :class:`EFTProblem` (its box is the prior).
        estimator: sbi's conditional density estimator (eval mode).
        mass_frame: (shift, scale) of the mass in GeV, as for our flow.
        n_simulations: training pairs.
        train_seconds: wall time of sbi's training, s.
        epochs: epochs sbi ran before its early stopping.
    """

    problem: EFTProblem
    estimator: object
    mass_frame: tuple[float, float]
    n_simulations: int
    train_seconds: float
    epochs: int

    def log_prob(self, features: npt.ArrayLike, free_values: npt.ArrayLike) -> Array:
        """Per-event log densities ``log p(x_j | C_i)`` per unit (m, cos theta): (m, n)."""
        torch = require("torch", "inference", "the sbi baseline")
        x = require_events(self.problem.measurement, features)
        free = np.atleast_2d(np.asarray(free_values, dtype=np.float64))
        self.problem.full(free)
        inputs, log_jac = flow_inputs(self.problem, self.mass_frame, x)
        xt = torch.as_tensor(inputs, dtype=torch.float32)
        out = np.empty((len(free), len(x)))
        per = max(1, _CHUNK // max(len(x), 1))
        with torch.no_grad():
            for start in range(0, len(free), per):
                theta = torch.as_tensor(free[start : start + per], dtype=torch.float32)
                b = theta.shape[0]
                lp = self.estimator.log_prob(  # type: ignore[attr-defined]
                    xt[:, None, :].expand(len(x), b, 2), condition=theta
                )
                out[start : start + b] = lp.double().numpy().T
        return out + log_jac


def train_sbi_nle(
    problem: EFTProblem, theta: Array, features: Array, *, seed: int = 0, max_epochs: int = 200
) -> SbiLikelihood:
    """Train ``sbi.inference.NLE`` (defaults: neural spline flow) on ``(theta, features)``.

    Args:
        problem: the :class:`EFTProblem`; its box becomes sbi's ``BoxUniform`` prior.
        theta: free coefficients (n, dim).
        features: one event per row of ``theta`` (n, 2).
        seed: seeds torch before sbi builds and trains its estimator.
        max_epochs: sbi's ``max_num_epochs`` (its loop runs epochs 0 to ``max_epochs``
            inclusive, so at most ``max_epochs + 1``; it stops earlier on its validation loss).
    """
    torch = require("torch", "inference", "the sbi baseline")
    sbi_inference = require("sbi.inference", "inference", "the sbi baseline")
    sbi_utils = require("sbi.utils", "inference", "the sbi baseline")
    require_smeared(problem, "train_sbi_nle")
    free, x = require_pairs(problem, theta, features)
    torch.manual_seed(require_seed("seed", seed))
    frame = mass_frame(problem.measurement)
    inputs, _ = flow_inputs(problem, frame, x)
    prior = sbi_utils.BoxUniform(
        low=torch.as_tensor(problem.lower, dtype=torch.float32),
        high=torch.as_tensor(problem.upper, dtype=torch.float32),
    )
    start = time.perf_counter()
    inference = sbi_inference.NLE(
        prior=prior, density_estimator="nsf", show_progress_bars=False, tracker=_NoTracking()
    )
    inference.append_simulations(
        torch.as_tensor(free, dtype=torch.float32), torch.as_tensor(inputs, dtype=torch.float32)
    )
    with contextlib.redirect_stdout(io.StringIO()):  # sbi prints its convergence line
        estimator = inference.train(max_num_epochs=require_int("max_epochs", max_epochs, low=1))
    estimator.eval()
    seconds = time.perf_counter() - start
    epochs = int(inference.epoch)  # epochs sbi ran, as its own counter says
    return SbiLikelihood(problem, estimator, frame, len(x), seconds, epochs)
