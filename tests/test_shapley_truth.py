"""The enumeration of ``tests/shapley_truth.py`` against Shapley values known in closed form."""

from __future__ import annotations

import numpy as np
import pytest
from shapley_truth import coalition_values, exact_shapley


def test_exact_shapley_of_a_product_plus_a_linear_term():
    # f = x0 x1 + 2 x2, feature 3 unused. With background rows b (means over the rows):
    # v({}) = E[b0 b1] + 2 E[b2], v({0}) = x0 E[b1] + ..., v({0, 1}) = x0 x1 + ..., so
    # phi_0 = [(x0 E[b1] - E[b0 b1]) + (x0 x1 - E[b0] x1)] / 2, phi_1 symmetric,
    # phi_2 = 2 (x2 - E[b2]), phi_3 = 0 (dummy).
    rng = np.random.default_rng(3)
    bg = rng.normal(size=(7, 4))
    x = rng.normal(size=(3, 4))

    def f(z):
        return z[:, 0] * z[:, 1] + 2 * z[:, 2]

    e0, e1, e2 = bg[:, :3].mean(axis=0)
    e01 = (bg[:, 0] * bg[:, 1]).mean()
    x0, x1, x2 = x[:, 0], x[:, 1], x[:, 2]
    want = np.column_stack(
        [
            ((x0 * e1 - e01) + (x0 * x1 - e0 * x1)) / 2,
            ((e0 * x1 - e01) + (x0 * x1 - x0 * e1)) / 2,
            2 * (x2 - e2),
            np.zeros(3),
        ]
    )
    for chunk in (16, 5):  # one call of f per event, and coalitions split over calls
        phi = exact_shapley(f, x, bg, chunk=chunk)
        assert phi == pytest.approx(want, abs=1e-12)
    # efficiency: v(empty) + sum phi = f(x), and v(empty) is the background's mean score
    v = coalition_values(f, x[0], bg)
    assert v[0] == pytest.approx(f(bg).mean(), abs=1e-12)
    assert v[-1] == pytest.approx(f(x[:1])[0], abs=1e-12)
    assert v[0] + phi[0].sum() == pytest.approx(f(x[:1])[0], abs=1e-12)


def test_exact_shapley_of_a_linear_model_is_w_times_the_offset():
    # f = w . x: phi_i = w_i (x_i - E[b_i]) (Lundberg & Lee, arXiv:1705.07874, linear case)
    rng = np.random.default_rng(4)
    w = np.array([1.5, -2.0, 0.0, 0.25, 3.0])
    bg, x = rng.normal(size=(10, 5)), rng.normal(size=(2, 5))
    phi = exact_shapley(lambda z: z @ w, x, bg)
    assert phi == pytest.approx(w * (x - bg.mean(axis=0)), abs=1e-12)
    assert exact_shapley(lambda z: z @ w, x[0], bg) == pytest.approx(phi[:1], abs=1e-12)
