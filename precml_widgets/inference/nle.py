"""Neural likelihood estimation: a conditional ``zuko`` flow ``p(x | C)`` of single events.

The flow is trained on pairs ``(C_i, x_i)``: ``C_i`` uniform in the problem's box (the prior),
``x_i`` one simulated event at ``C_i`` (:func:`~precml_widgets.inference.events.simulate_one_each`).
It learns the normalised per-event density, so the log-likelihood of a data set of ``N``
events is the sum of its per-event log densities (the shape of the data; ``N`` itself is not
used). The cosine is mapped to the real line by ``u = atanh(cos / cos_max)`` before the flow,
and the Jacobian is added back, so the density is per unit ``m`` and ``cos theta`` like the
exact one (G. Papamakarios, D. Sterratt, I. Murray, arXiv:1805.07226; flows from ``zuko``).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from precml_widgets._checks import require_int, require_real, require_seed
from precml_widgets._optional import require
from precml_widgets.device import default_device
from precml_widgets.errors import InvalidInputError
from precml_widgets.inference.density import require_events
from precml_widgets.inference.events import simulate_one_each
from precml_widgets.inference.measurement import mass_frame
from precml_widgets.inference.problem import EFTProblem

__all__ = [
    "NeuralLikelihood",
    "build_flow",
    "flow_inputs",
    "require_pairs",
    "require_smeared",
    "simulate_training_pairs",
    "train_nle",
]

Array = npt.NDArray[np.float64]
# Events x coefficient vectors evaluated per flow call.
_CHUNK = 200_000
# Share of the pairs held out to pick the best epoch, and epochs without improvement before
# stopping (as sbi does).
_VALIDATION_FRACTION = 0.1
_PATIENCE = 5


def require_smeared(problem: EFTProblem, caller: str) -> None:
    """Refuse an unsmeared measurement for a flow: its mass takes only the discrete energies,
    which a continuous density cannot describe.

    Raises:
        InvalidInputError: ``problem.measurement.smearing is None``, naming ``caller``.
    """
    if problem.measurement.smearing is None:
        raise InvalidInputError(
            f"{caller}: the measurement {problem.measurement.label!r} has no smearing, so its "
            "mass takes only the discrete energies and has no continuous density; NLE needs "
            "the smeared configuration, e.g. nle_problem()."
        )


def simulate_training_pairs(
    problem: EFTProblem, n_simulations: int, *, seed: int = 0
) -> tuple[Array, Array]:
    """``n_simulations`` pairs: free coefficients uniform in the box (n, dim) and one event
    each (n, 2)."""
    n = require_int("n_simulations", n_simulations, low=100, hint="e.g. 100000.")
    rng = np.random.default_rng(require_seed("seed", seed))
    theta = problem.lower + (problem.upper - problem.lower) * rng.random((n, problem.dim))
    return theta, simulate_one_each(problem.measurement, problem.full(theta), rng)


def require_pairs(
    problem: EFTProblem, theta: npt.ArrayLike, features: npt.ArrayLike
) -> tuple[Array, Array]:
    """Training pairs checked: free coefficients (n, dim) inside the box and events (n, 2) in
    the measurement's support, row by row.

    Raises:
        InvalidInputError: for coefficients outside the box, events outside the support, or
            different row counts.
    """
    x = require_events(problem.measurement, features)
    free = np.atleast_2d(np.asarray(theta, dtype=np.float64))
    problem.full(free)
    if len(free) != len(x):
        raise InvalidInputError(
            f"theta and features must pair up row by row, got {len(free)} and {len(x)} rows."
        )
    return free, x


def flow_inputs(
    problem: EFTProblem, mass_frame: tuple[float, float], features: Array
) -> tuple[Array, Array]:
    """The flow's inputs for events (n, 2): ``((m - shift) / scale, atanh(cos / cos_max))``,
    and ``log |d inputs / d x|`` (n,), which turns a density in the inputs into one per unit
    (m, cos theta)."""
    a = problem.measurement.cos_max
    z = np.clip(features[:, 1] / a, -1.0 + 1e-12, 1.0 - 1e-12)
    inputs = np.column_stack([(features[:, 0] - mass_frame[0]) / mass_frame[1], np.arctanh(z)])
    return inputs, -np.log(a * (1.0 - z * z)) - np.log(mass_frame[1])


@dataclass(frozen=True, eq=False)
class NeuralLikelihood:
    """A trained conditional flow read as a per-event likelihood.

    Attributes:
        problem: the :class:`EFTProblem` (its box is the prior the flow was trained on).
        flows: the ensemble's ``zuko`` conditional flows (eval mode, CPU); the density is
            their equal-weight mixture.
        mass_frame: (shift, scale) of the mass in GeV before the flow.
        n_simulations: training pairs.
        train_seconds: wall time of the training, s.
    """

    problem: EFTProblem
    flows: tuple[object, ...]
    mass_frame: tuple[float, float]
    n_simulations: int
    train_seconds: float

    def context(self, free: Array) -> Array:
        """The flow's context: free coefficients (m, dim) mapped from the box to [-1, 1]."""
        mid = 0.5 * (self.problem.lower + self.problem.upper)
        half = 0.5 * (self.problem.upper - self.problem.lower)
        return (free - mid) / half

    def log_prob(self, features: npt.ArrayLike, free_values: npt.ArrayLike) -> Array:
        """Per-event log densities ``log p(x_j | C_i)`` per unit (m, cos theta): (m, n).

        Args:
            features: events (n, 2) in the measurement's support.
            free_values: free coefficients (m, dim) inside the box (refused outside: the flow
                was never trained there).
        """
        torch = require("torch", "inference", "neural likelihood estimation")
        x = require_events(self.problem.measurement, features)
        free = np.atleast_2d(np.asarray(free_values, dtype=np.float64))
        self.problem.full(free)  # checks the shape and the box
        inputs, log_jac = flow_inputs(self.problem, self.mass_frame, x)
        context = self.context(free)
        out = np.empty((len(free), len(x)))
        per = max(1, _CHUNK // max(len(x), 1))
        xt = torch.as_tensor(inputs, dtype=torch.float32)
        with torch.no_grad():
            for start in range(0, len(free), per):
                block = torch.as_tensor(context[start : start + per], dtype=torch.float32)
                b = block.shape[0]
                ctx = (
                    block[:, None, :].expand(b, len(x), block.shape[1]).reshape(-1, block.shape[1])
                )
                xx = xt[None].expand(b, *xt.shape).reshape(-1, 2)
                lp = torch.stack([f(ctx).log_prob(xx) for f in self.flows])  # type: ignore[operator]
                mixture = torch.logsumexp(lp.double(), dim=0) - math.log(len(self.flows))
                out[start : start + b] = mixture.numpy().reshape(b, len(x))
        return out + log_jac


def _fit_member(
    flow: object,
    xt: object,
    ct: object,
    *,
    epochs: int,
    batch: int,
    lr: float,
    seed: int,
    progress: bool,
    label: str,
) -> None:
    """Maximum-likelihood fit of one flow, keeping the epoch with the best held-out loss."""
    torch = require("torch", "inference", "neural likelihood estimation")
    from tqdm.auto import tqdm

    gen = torch.Generator().manual_seed(seed)  # batch order drawn on the CPU
    order = torch.randperm(len(xt), generator=gen).to(xt.device)  # type: ignore[arg-type,attr-defined]
    n_val = max(int(_VALIDATION_FRACTION * len(order)), 1)
    val, train = order[:n_val], order[n_val:]
    opt = torch.optim.Adam(flow.parameters(), lr=lr)  # type: ignore[attr-defined]
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs * -(-len(train) // batch))
    best, best_state, stale = math.inf, None, 0
    for _ in tqdm(range(epochs), desc=label, disable=not progress):
        flow.train()  # type: ignore[attr-defined]
        shuffle = torch.randperm(len(train), generator=gen).to(train.device)
        for idx in train[shuffle].split(batch):
            loss = -flow(ct[idx]).log_prob(xt[idx]).mean()  # type: ignore[index,operator]
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
        flow.eval()  # type: ignore[attr-defined]
        with torch.no_grad():
            val_loss = float(-flow(ct[val]).log_prob(xt[val]).mean())  # type: ignore[index,operator]
        if val_loss < best:
            best, stale = val_loss, 0
            best_state = {k: v.detach().clone() for k, v in flow.state_dict().items()}  # type: ignore[attr-defined]
        else:
            stale += 1
            if stale >= _PATIENCE:
                break
    if best_state is None:
        raise InvalidInputError(
            f"{label}: no epoch gave a finite validation loss (the fit diverged at learning "
            f"rate {lr:g}); lower learning_rate (e.g. by a factor 10) and train again."
        )
    flow.load_state_dict(best_state)  # type: ignore[attr-defined]
    flow.eval()  # type: ignore[attr-defined]


def build_flow(dim: int, *, transforms: int, hidden: int) -> object:
    """A conditional neural spline flow on 2 features with ``dim`` context variables
    (``zuko.flows.NSF``; C. Durkan et al., arXiv:1906.04032)."""
    zuko = require("zuko", "inference", "neural likelihood estimation")
    return zuko.flows.NSF(
        features=2,
        context=dim,
        transforms=require_int("transforms", transforms, low=1, high=16),
        hidden_features=(require_int("hidden", hidden, low=4, high=1024),) * 2,
    )


def train_nle(
    problem: EFTProblem,
    theta: Array,
    features: Array,
    *,
    n_members: int = 5,
    epochs: int = 40,
    batch_size: int = 512,
    transforms: int = 2,
    hidden: int = 32,
    learning_rate: float = 1e-3,
    seed: int = 0,
    progress: bool = True,
    device: str | None = None,
) -> NeuralLikelihood:
    """Fit an ensemble of conditional spline flows to the same pairs ``(theta, features)``.

    Every member draws from the same pairs (the simulation budget is the one given): each
    holds out its own 10 % of them for validation and trains on the other 90 %, and the
    members differ in their initialisation, batch order and validation split; their
    equal-weight mixture is the estimate. Errors of a learned per-event likelihood add up
    over the events of a data set, and averaging independent fits removes the part that is
    noise (deep ensembles: B. Lakshminarayanan et al., arXiv:1612.01474; for
    simulation-based inference: J. Hermans et al., arXiv:2110.06581).

    Args:
        problem: the :class:`EFTProblem` the pairs were simulated for.
        theta: free coefficients (n, dim), inside the box.
        features: one event per row of ``theta`` (n, 2).
        n_members: flows in the ensemble.
        epochs: most passes over the pairs per member (Adam, cosine schedule, maximum
            likelihood); 10 % of the pairs are held out, the epoch with the best held-out loss
            is kept, and training stops after 5 epochs without improvement.
        batch_size: pairs per step.
        transforms: spline transforms per flow.
        hidden: units of each of the two hidden layers of its conditioners.
        learning_rate: Adam's initial step.
        seed: member ``k`` is seeded with ``seed + k``.
        progress: show a tqdm bar over epochs.
        device: torch device of the training; default CUDA when present, else the CPU
            (:func:`precml_widgets.device.default_device`). The flows are returned on the CPU.
    """
    torch = require("torch", "inference", "neural likelihood estimation")
    require_smeared(problem, "train_nle")
    on = default_device(device)
    free, x = require_pairs(problem, theta, features)
    members = require_int("n_members", n_members, low=1, high=64)
    n_epochs = require_int("epochs", epochs, low=1)
    batch = require_int("batch_size", batch_size, low=16)
    lr = require_real("learning_rate", learning_rate, low=0.0, low_open=True)
    first = require_seed("seed", seed)
    start = time.perf_counter()
    frame = mass_frame(problem.measurement)
    inputs, _ = flow_inputs(problem, frame, x)
    xt = torch.as_tensor(inputs, dtype=torch.float32, device=on)
    flows = []
    for k in range(members):
        torch.manual_seed(first + k)
        flow = build_flow(problem.dim, transforms=transforms, hidden=hidden)
        model = NeuralLikelihood(problem, (flow,), frame, len(x), 0.0)
        ct = torch.as_tensor(model.context(free), dtype=torch.float32, device=on)
        flow.to(on)  # type: ignore[attr-defined]
        _fit_member(
            flow,
            xt,
            ct,
            epochs=n_epochs,
            batch=batch,
            lr=lr,
            seed=first + k,
            progress=progress,
            label=f"likelihood flow {k + 1}/{members}",
        )
        flows.append(flow.to("cpu"))  # type: ignore[attr-defined]
    return NeuralLikelihood(problem, tuple(flows), frame, len(x), time.perf_counter() - start)
