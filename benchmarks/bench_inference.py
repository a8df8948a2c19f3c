"""SMEFT inference: quadratic vs plain parametrized classifier; our NLE vs sbi's NLE.

Classifiers (issue 14's first comparison): both kinds on the same weighted training set of
``default_problem()`` (LEP-2-like, C_ll^(1122) and C_le^(1122) in [-0.3, 0.3]), at equal
training events (the same set) and at equal training time (the faster one gets more epochs
until its wall time matches the slower one's). Scored on 20 000 held-out Standard-Model events
at 256 points of the exact expected 95 % contour: median and 95th percentile of
|r_learned - r_exact| / |r_exact - 1|, and each learned region's area over the exact one.
Targets: median <= 5 %, area within 10 %.

Likelihood-free (the second): our ensemble of conditional zuko flows (``train_nle``) and sbi's
NLE (``train_sbi_nle``, its defaults) on the same 1e5 simulated pairs of ``nle_problem()``.
For ``--toys`` data sets of ``NLE_EVENTS`` events at coefficients drawn from the prior: the
C2ST accuracy of each learned posterior against the exact one (target <= 0.55) and the HPD
area ratios; then coverage of the 68 %/95 % regions over ``--coverage-toys`` prior draws for
ours and the exact posterior (target: inside the 0.1-99.9 % binomial band), and training times.
sbi's coverage is measured on the same toys (same truths, same events, through the same Dask
``calibrate`` call) when ``--sbi-coverage`` is given (slow).

Run: ``python benchmarks/bench_inference.py [--quick]`` (writes benchmarks/results/inference.json).
Medians over the toys are quoted; all per-toy values are kept in the JSON.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np
from _common import write

from precml_widgets.inference import (
    NLE_EVENTS,
    calibrate,
    classifier_study,
    default_problem,
    make_training_set,
    nle_problem,
    posterior_study,
    simulate_training_pairs,
    train_nle,
    train_ratio,
    train_sbi_nle,
)


def classifiers(quick: bool) -> dict:
    problem = default_problem()
    n_per_point = 20_000 if quick else 200_000
    epochs = 2 if quick else 10
    data = make_training_set(problem, n_per_point=n_per_point, seed=0)
    models = {
        k: train_ratio(problem, data, kind=k, epochs=epochs, progress=False)
        for k in ("quadratic", "plain")
    }
    equal_events = classifier_study(problem, models, seed=1)
    # equal time: give the faster kind more epochs until it has used the slower one's time
    fast, slow = sorted(models, key=lambda k: models[k].train_seconds)
    per_epoch = models[fast].train_seconds / epochs
    more = max(epochs, round(models[slow].train_seconds / per_epoch))
    timed = {
        slow: models[slow],
        fast: train_ratio(problem, data, kind=fast, epochs=more, progress=False),
    }
    equal_time = classifier_study(problem, timed, seed=1)

    def summary(study, trained) -> dict:
        return {
            k: {
                "median": study.accuracy[k].median,
                "p95": study.accuracy[k].p95,
                "area_ratio": study.area_ratio[k],
                "train_seconds": trained[k].train_seconds,
                "n_train_events": trained[k].n_train_events,
            }
            for k in trained
        } | {"binned_area_ratio": study.area_ratio["binned"]}

    return {
        "n_per_point": n_per_point,
        "epochs": epochs,
        "equal_events": summary(equal_events, models),
        "equal_time": {"epochs": {fast: more, slow: epochs}, **summary(equal_time, timed)},
        "targets": {"median": 0.05, "area_ratio_within": 0.10},
    }


def likelihood_free(quick: bool, toys: int, coverage_toys: int, sbi_coverage: bool) -> dict:
    problem = nle_problem()
    n_sims = 20_000 if quick else 100_000
    theta, x = simulate_training_pairs(problem, n_sims, seed=1)
    ours = train_nle(problem, theta, x, progress=False)
    sbi = train_sbi_nle(problem, theta, x, max_epochs=5 if quick else 200)
    rng = np.random.default_rng(11)
    per_toy = []
    for k in range(toys):
        truth = problem.lower + (problem.upper - problem.lower) * rng.random(problem.dim)
        study = posterior_study(
            problem,
            {"ours": ours.log_prob, "sbi": sbi.log_prob},
            truth,
            n_events=NLE_EVENTS,
            seed=100 + k,
        )
        per_toy.append(
            {
                "truth": truth.tolist(),
                **{
                    label: {
                        "c2st": c.c2st_accuracy,
                        "area_ratio_68": c.volumes_learned[0] / c.volumes_exact[0],
                        "area_ratio_95": c.volumes_learned[1] / c.volumes_exact[1],
                    }
                    for label, c in study.comparisons.items()
                },
            }
        )
    out = {
        "n_simulations": n_sims,
        "n_events": NLE_EVENTS,
        "train_seconds": {"ours": ours.train_seconds, "sbi": sbi.train_seconds},
        "sbi_epochs": sbi.epochs,
        "median_c2st": {
            label: statistics.median(t[label]["c2st"] for t in per_toy) for label in ("ours", "sbi")
        },
        "per_toy": per_toy,
        "targets": {"c2st": 0.55, "coverage": "inside the 0.1-99.9 % binomial band"},
    }
    # Coverage and SBC: ours (and sbi's, with --sbi-coverage) scored on the same toys (seeds
    # 0 .. coverage_toys - 1: the same truths and events for every method), through Dask.
    learned = {"ours": ours.log_prob} | ({"sbi": sbi.log_prob} if sbi_coverage else {})
    t0 = time.perf_counter()
    cal = calibrate(
        learned, problem=problem, n_toys=coverage_toys, n_events=NLE_EVENTS, progress=False
    )
    out["coverage"] = {
        "n_toys": coverage_toys,
        "seconds": time.perf_counter() - t0,
        "band": {str(a): b for a, b in cal.band.items()},
        **{
            label: {str(a): v for a, v in cal.coverage[label].items()}
            for label in ("exact", *learned)
        },
        "within_band": {label: cal.within_band(label) for label in ("exact", *learned)},
        "sbc_p": {k: list(v) for k, v in cal.sbc_p_values.items()},
    }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small budgets (a smoke run)")
    parser.add_argument("--toys", type=int, default=10, help="data sets of the C2ST comparison")
    parser.add_argument("--coverage-toys", type=int, default=200)
    parser.add_argument("--sbi-coverage", action="store_true")
    args = parser.parse_args()
    results = {
        "load_before": os.getloadavg(),
        "classifiers": classifiers(args.quick),
        "likelihood_free": likelihood_free(
            args.quick, args.toys, args.coverage_toys, args.sbi_coverage
        ),
        "load_after": os.getloadavg(),
    }
    write("inference" + ("_quick" if args.quick else ""), results)


if __name__ == "__main__":
    main()
