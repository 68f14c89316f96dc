"""Halving and Bayesian search against grid, random and scikit-learn itself (issue 9's benchmark).

    make bench-searches                          # = python -m bench.searches
    .venv/bin/python -m bench.searches --quick   # small sizes: checks the wiring in about 1 min
    .venv/bin/python -m bench.searches --cv 5 --seeds 5 --no-product-bayes

digits x SVC, C and gamma on log scales, accuracy, a fixed seed.

1. C = logspace(-2, 3, 10) x gamma = logspace(-5, -1, 10): grid and halving runs submitted through
   the service layer to a worker of a process per core (bench/fanout.py's throwaway stack), timed
   from `submit_run` to SUCCESS after a one-candidate warm-up; GridSearchCV and
   HalvingGridSearchCV on the same pipeline and cv with n_jobs = the worker's processes, after a
   warm-up of their own. The halving run's best must equal HalvingGridSearchCV's.
2. The same space as ranges (loguniform C 1e-2..1e3, gamma 1e-5..1e-1): Bayesian (TPE) vs random
   search, best score after 10, 20 and 40 candidates averaged over seeds. Run at the library
   level: each search sequential (`propose` + `evaluate_candidate`; ParameterSampler over
   scipy.stats.loguniform), the seeds spread over a pool of a process per core. Then one seed
   of the Bayesian search through the product on a single-process worker, which must propose and
   score exactly the library loop's candidates.
"""

import argparse
import concurrent.futures
import multiprocessing
import os
import signal
import sys
import time

import numpy as np
from scipy import stats
from sklearn.experimental import enable_halving_search_cv  # noqa: F401
from sklearn.model_selection import GridSearchCV, HalvingGridSearchCV, ParameterSampler
from sklearn.model_selection._search import BaseSearchCV

from bench.fanout import _interrupt, same_best, stack, time_run, warm_up
from tuning.db import session_scope
from tuning.ml.bayes import Observed, Space, propose
from tuning.ml.datasets import load_bundled
from tuning.ml.ranges import Range
from tuning.ml.scoring import make_run_scorer
from tuning.ml.search import build_pipeline, evaluate_candidate, make_splits, pipeline_params
from tuning.schemas import HalvingOptions, TuningRunCreate
from tuning.service import list_trials

SEED = 0
N_CANDIDATES = 40
CHECKPOINTS = (10, 20, 40)
GRID = {
    "C": [float(c) for c in np.logspace(-2, 3, 10)],
    "gamma": [float(g) for g in np.logspace(-5, -1, 10)],
}
RANGES = {"C": (1e-2, 1e3), "gamma": (1e-5, 1e-1)}


def grid_run(cv: int, grid: dict[str, list[float]] = GRID) -> TuningRunCreate:
    return TuningRunCreate(
        dataset="digits",
        estimator="SVC",
        param_grid=grid,
        cv=cv,
        scoring="accuracy",
        random_state=SEED,
    )


def time_sklearn(search: BaseSearchCV, cv: int, n_jobs: int) -> tuple[float, BaseSearchCV]:
    """Seconds of `search.fit` on digits, after a one-candidate GridSearchCV warm-up."""
    table = load_bundled("digits")
    pipeline = build_pipeline("SVC", random_state=SEED)
    first = pipeline_params(warm_up(grid_run(cv)).param_grid)
    GridSearchCV(pipeline, first, cv=cv, scoring="accuracy", n_jobs=n_jobs).fit(table.X, table.y)
    began = time.perf_counter()
    search.fit(table.X, table.y)
    return time.perf_counter() - began, search


def _score_and_params(result: object) -> tuple[float, dict]:
    """A product run's result or a fitted scikit-learn search: its best score and parameters."""
    if isinstance(result, BaseSearchCV):
        return result.best_score_, result.best_params_
    return result.best_score, result.best_params  # type: ignore[attr-defined]


def part_1(args: argparse.Namespace) -> list[str]:
    cores = os.cpu_count() or 1
    # Like with like: the product scores the training folds unless told not to, and scikit-learn
    # only when told to; both ways are timed.
    grid = grid_run(args.cv, args.grid)
    halving = grid.model_copy(update={"search": "halving", "halving": HalvingOptions()})
    lean_grid = grid.model_copy(update={"return_train_score": False})
    lean_halving = halving.model_copy(update={"return_train_score": False})
    with stack(args, [(None, cores)]) as (runtime, owner, _):
        time_run(runtime, owner, warm_up(grid))
        grid_s, grid_result, _ = time_run(runtime, owner, grid)
        halving_s, halving_result, _ = time_run(runtime, owner, halving)
        lean_grid_s, lean_grid_result, _ = time_run(runtime, owner, lean_grid)
        lean_halving_s, lean_halving_result, _ = time_run(runtime, owner, lean_halving)
    pipeline = build_pipeline("SVC", random_state=SEED)
    params = pipeline_params(args.grid)
    common = {"cv": args.cv, "scoring": "accuracy", "n_jobs": cores}
    train = {**common, "return_train_score": True}
    sk_grid_s, sk_grid = time_sklearn(GridSearchCV(pipeline, params, **train), args.cv, cores)
    sk_halving_s, sk_halving = time_sklearn(
        HalvingGridSearchCV(pipeline, params, random_state=SEED, **train), args.cv, cores
    )
    lean_sk_grid_s, lean_sk_grid = time_sklearn(
        GridSearchCV(pipeline, params, **common), args.cv, cores
    )
    lean_sk_halving_s, lean_sk_halving = time_sklearn(
        HalvingGridSearchCV(pipeline, params, random_state=SEED, **common), args.cv, cores
    )
    n_grid = len(sk_grid.cv_results_["params"])
    n_halving = sum(sk_halving.n_candidates_)
    results = [
        ("grid, product, train scores", grid_s, grid_result, n_grid),
        ("GridSearchCV, return_train_score=True", sk_grid_s, sk_grid, n_grid),
        ("grid, product, no train scores", lean_grid_s, lean_grid_result, n_grid),
        ("GridSearchCV (default)", lean_sk_grid_s, lean_sk_grid, n_grid),
        ("halving, product, train scores", halving_s, halving_result, n_halving),
        ("HalvingGridSearchCV, return_train_score=True", sk_halving_s, sk_halving, n_halving),
        ("halving, product, no train scores", lean_halving_s, lean_halving_result, n_halving),
        ("HalvingGridSearchCV (default)", lean_sk_halving_s, lean_sk_halving, n_halving),
    ]
    rows = [(what, seconds, *_score_and_params(result), n) for what, seconds, result, n in results]
    lines = [
        f"### 1. digits x SVC, {n_grid} candidates, cv={args.cv}, seed {SEED}: "
        f"worker of {cores} processes, sklearn n_jobs={cores}",
        "",
        "| search | wall s | best score | best C | best gamma | candidates evaluated |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for what, seconds, score, best, n in rows:
        best = {name.removeprefix("model__"): value for name, value in best.items()}
        lines.append(
            f"| {what} | {seconds:.1f} | {score:.4f} | {best['C']:.4g} | {best['gamma']:.4g} "
            f"| {n} |"
        )
    halving_same = same_best(halving_result, sk_halving) and same_best(
        lean_halving_result, lean_sk_halving
    )
    grid_same = same_best(grid_result, sk_grid) and same_best(lean_grid_result, lean_sk_grid)
    lines += [
        "",
        f"halving run's best params and score == HalvingGridSearchCV's: {halving_same}",
        f"grid run's best params and score == GridSearchCV's: {grid_same}",
        f"halving rungs (candidates / samples): {sk_halving.n_candidates_} / "
        f"{sk_halving.n_resources_}",
        f"product / scikit-learn, same work: grid {grid_s / sk_grid_s:.2f}x and "
        f"{lean_grid_s / lean_sk_grid_s:.2f}x, halving {halving_s / sk_halving_s:.2f}x and "
        f"{lean_halving_s / lean_sk_halving_s:.2f}x (with and without train scores)",
    ]
    args.ok = args.ok and halving_same and grid_same
    return lines


def space() -> Space:
    return {name: Range(low, high, log=True) for name, (low, high) in RANGES.items()}


def library_scores(method: str, seed: int, cv: int, n_candidates: int) -> list[tuple[dict, float]]:
    """Each candidate's params and mean CV score, one after another, as a one-process run."""
    table = load_bundled("digits")
    pipeline = build_pipeline("SVC", random_state=seed)
    splits = make_splits(cv, table, pipeline)
    accuracy = make_run_scorer("accuracy")
    if method == "random":
        ranges = {name: stats.loguniform(low, high) for name, (low, high) in RANGES.items()}
        sampled = ParameterSampler(ranges, n_candidates, random_state=seed)
        candidates = [{name: float(v) for name, v in params.items()} for params in sampled]
    observed: list[Observed] = []
    for index in range(n_candidates):
        if method == "bayes":
            params = propose(space(), observed=observed, in_flight=[], seed=seed, index=index)
        else:
            params = candidates[index]
        score = evaluate_candidate(pipeline, params, table, splits, accuracy).mean_test_score
        observed.append(Observed(params=params, score=score))
    return [(candidate.params, float(candidate.score)) for candidate in observed]  # type: ignore[arg-type]


def best_after(scores: list[float], checkpoints: tuple[int, ...]) -> list[float]:
    return [max(scores[:k]) for k in checkpoints]


def part_2(args: argparse.Namespace) -> tuple[list[str], list[tuple[dict, float]]]:
    jobs = [(method, seed) for method in ("bayes", "random") for seed in range(args.seeds)]
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(os.cpu_count(), mp_context=context) as pool:
        futures = {
            job: pool.submit(library_scores, *job, args.cv, args.n_candidates) for job in jobs
        }
        results = {job: future.result() for job, future in futures.items()}
    checkpoints = tuple(k for k in CHECKPOINTS if k <= args.n_candidates)
    header = " | ".join(f"best after {k}" for k in checkpoints)
    lines = [
        f"### 2. the same space as ranges: mean (std) over seeds 0..{args.seeds - 1}, "
        f"cv={args.cv}; library level, each search sequential",
        "",
        f"| search | {header} |",
        "|---|" + "---:|" * len(checkpoints),
    ]
    for method in ("bayes", "random"):
        table = np.array(
            [
                best_after([score for _, score in results[method, seed]], checkpoints)
                for seed in range(args.seeds)
            ]
        )
        spread = zip(table.mean(0), table.std(0), strict=True)
        cells = " | ".join(f"{mean:.4f} ({std:.4f})" for mean, std in spread)
        lines.append(f"| {method} | {cells} |")
    lines.append("")
    for method in ("bayes", "random"):
        per_seed = [
            f"{max(score for _, score in results[method, seed]):.4f}" for seed in range(args.seeds)
        ]
        lines.append(f"{method}, best after {args.n_candidates} per seed: {', '.join(per_seed)}")
    return lines, results["bayes", 0]


def product_bayes(args: argparse.Namespace, library: list[tuple[dict, float]]) -> list[str]:
    """Seed 0's Bayesian search through the product on a single-process worker."""
    ranges = {name: {"low": low, "high": high, "log": True} for name, (low, high) in RANGES.items()}
    bayes = grid_run(args.cv).model_copy(
        update={"param_grid": ranges, "search": "bayes", "n_iter": args.n_candidates}
    )
    with stack(args, [(None, 1)]) as (runtime, owner, _):
        time_run(runtime, owner, warm_up(grid_run(args.cv)))
        seconds, result, run_id = time_run(runtime, owner, bayes)
        with session_scope(runtime.engine) as session:
            trials = list_trials(session=session, run_id=run_id)
    ours = [(trial.params, trial.mean_test_score) for trial in trials]
    same = ours == library
    args.ok = args.ok and same
    return [
        f"product check, Bayesian seed 0 on a 1-process worker: {seconds:.1f} s, best "
        f"{result.best_score:.4f}; every candidate's params and score == the library loop's: "
        f"{same}"
    ]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cv", type=int, default=3, help="CV folds [3; the issue asks 5]")
    parser.add_argument("--seeds", type=int, default=5, help="seeds of part 2 [5]")
    parser.add_argument("--quick", action="store_true", help="small sizes, to check the wiring")
    parser.add_argument(
        "--no-product-bayes", action="store_true", help="skip part 2's check through the product"
    )
    parser.add_argument("--part", type=int, choices=(1, 2), help="run only this part [both]")
    parser.add_argument("--database-url", help="a PostgreSQL server URL [SQLite under /tmp]")
    parser.add_argument("--redis-url", help="e.g. redis://127.0.0.1:6379/14, flushed [embedded]")
    args = parser.parse_args(argv)
    args.grid, args.n_candidates = GRID, N_CANDIDATES
    if args.quick:
        args.grid = {name: values[::3] for name, values in GRID.items()}
        args.n_candidates, args.seeds = 12, 2
    args.ok = True
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):  # so that the stack stops
        signal.signal(signum, _interrupt)
    print(f"{os.cpu_count()} CPUs; {'PostgreSQL' if args.database_url else 'SQLite'}")
    print("load average before: {:.2f} {:.2f} {:.2f}\n".format(*os.getloadavg()), flush=True)
    try:
        if args.part in (None, 1):
            print("\n".join(part_1(args)), end="\n\n", flush=True)
        if args.part in (None, 2):
            lines, bayes_seed_0 = part_2(args)
            print("\n".join(lines), end="\n\n", flush=True)
            if not args.no_product_bayes:
                print("\n".join(product_bayes(args, bayes_seed_0)), flush=True)
    except KeyboardInterrupt:
        print("\ninterrupted: stopped the workers and removed the temp dirs", file=sys.stderr)
        return 130
    print("\nload average after: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    return 0 if args.ok else 1


if __name__ == "__main__":
    sys.exit(main())
