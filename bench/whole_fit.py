"""Whole-fit rows of the benchmark (issue 15): ``fit`` timed end to end with each library's
default options, emkit against the workload's peer on the same data.

Unlike the per-iteration rows (run.py), nothing is shared: each library initialises itself
(its default init, ``n_init`` restarts and seeding, with ``random_state=0``), iterates until its
own default tolerance or iteration limit stops it, and computes what its ``fit`` computes by
default (emkit's LatentClass: standard errors and fit statistics). Only the arguments that
define the model are given (number of components / states / classes, covariance type, mixture
components per state, number of categories), plus ``random_state`` and, for StepMix,
``progress_bar=0`` (display only). Reported: seconds per fit, the iterations each ran, whether
it converged, and the log-likelihood of the data at each library's final parameters.

The log-likelihood is each library's own total log-likelihood of the full data: ``score(X) * n``
for scikit-learn, StepMix and emkit's GaussianMixture and LatentClass (their ``score`` is the
mean per row), ``score(X, lengths)`` for hmmlearn and emkit's HMMs (the total). The
per-iteration rows check that the two libraries' values agree to 1e-6 (relative) at the same
parameters, so the two numbers are the same quantity, computed after the timed fit.
"""

from __future__ import annotations

import warnings
from typing import Any, Dict, List, Optional

import _common as C
import workloads as W

#: random_state of every whole fit, emkit's and the peer's.
SEED = 0
#: Key prefix of the whole-fit configurations among a workload's results.
PREFIX = "whole-"


# --------------------------------------------------------------------------- fitting
def default_model(w: W.Workload, library: str, n_threads: Optional[int] = None) -> Any:
    """The library's estimator for the workload with its default options: only the model's
    definition, the seed and (emkit) ``n_threads`` (None: emkit's default, all cores)."""
    s = w.size
    if library == "emkit":
        import emkit

        common = dict(random_state=SEED, n_threads=n_threads)
        if w.kind == "gmm":
            return emkit.GaussianMixture(s["k"], covariance_type=s["cov"], **common)
        if w.kind == "lca":
            return emkit.LatentClass(s["classes"], n_categories=[s["categories"]] * s["items"],
                                     **common)
        if s.get("M"):
            return emkit.GMMHMM(s["K"], s["M"], covariance_type=s["cov"], **common)
        if s["cov"] is None:
            return emkit.CategoricalHMM(s["K"], n_categories=[s["d"]], **common)
        return emkit.GaussianHMM(s["K"], covariance_type=s["cov"], **common)
    if library == "sklearn":
        from sklearn.mixture import GaussianMixture

        return GaussianMixture(s["k"], covariance_type=s["cov"], random_state=SEED)
    if library == "stepmix":
        from stepmix.stepmix import StepMix

        return StepMix(n_components=s["classes"], measurement="categorical",
                       random_state=SEED, progress_bar=0)
    from hmmlearn import hmm

    if s.get("M"):
        return hmm.GMMHMM(s["K"], n_mix=s["M"], covariance_type=s["cov"], random_state=SEED)
    if s["cov"] is None:
        return hmm.CategoricalHMM(s["K"], n_features=s["d"], random_state=SEED)
    return hmm.GaussianHMM(s["K"], covariance_type=s["cov"], random_state=SEED)


def fit_default(w: W.Workload, library: str, a: Dict[str, Any],
                n_threads: Optional[int] = None) -> Any:
    """``default_model(...).fit`` on the workload's data (HMMs with their sequence lengths)."""
    model = default_model(w, library, n_threads)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "did not converge" and the like
        if w.kind == "hmm":
            return model.fit(a["X"], a["lengths"])
        return model.fit(a["X"])


def total_loglik(w: W.Workload, model: Any, a: Dict[str, Any]) -> float:
    """The library's own total log-likelihood of the data at the model's parameters."""
    if w.kind == "hmm":
        return float(model.score(a["X"], a["lengths"]))
    return float(model.score(a["X"])) * a["X"].shape[0]


def converged(model: Any) -> Optional[bool]:
    """Whether the fit stopped on its tolerance. hmmlearn's monitor also calls a fit that reached
    ``n_iter`` converged: its last change of the log-likelihood is compared with ``tol`` here."""
    monitor = getattr(model, "monitor_", None)
    if monitor is not None:
        h = monitor.history
        return len(h) >= 2 and h[-1] - h[-2] < monitor.tol
    return bool(model.converged_) if hasattr(model, "converged_") else None


def measure(w: W.Workload, library: str, data: Dict[str, Any], n_threads: Optional[int],
            check: bool) -> Dict[str, Any]:
    """One whole-fit measurement, inside a worker process whose library is imported, data
    loaded and thread limits set (run.worker): an untimed default fit of a small slice
    (warm-up), then the timed default fit of the data; the log-likelihood if ``check``."""
    base = C.peak_rss_mb()
    fit_default(w, library, W.warmup_slice(w, data), n_threads)
    seconds, model = C.timed(lambda: fit_default(w, library, data, n_threads))
    peak = C.peak_rss_mb()
    record = {"seconds": seconds, "n_iter": W.n_iter(model), "converged": converged(model),
              "peak_rss_mb": peak, "above_data_mb": peak - base, "threadpools": C.threadpools()}
    if check:
        record["loglik"] = total_loglik(w, model, data)
    return record


# --------------------------------------------------------------------------- the runner's side
def configurations(w: W.Workload, peer: bool) -> List[Dict[str, Any]]:
    """The whole-fit configurations of a workload: emkit with 1 thread and with its default (all
    cores); the peer as installed and with every BLAS/OpenMP pool limited to 1 thread."""
    common = dict(task="whole", dtype="float64", iters=None, isa=None)
    configs = [dict(key=PREFIX + "emkit-1", library="emkit", threads=1, **common),
               dict(key=PREFIX + "emkit-all", library="emkit", threads="all", **common)]
    if peer:
        configs += [dict(key=PREFIX + "peer-default", library=w.peer, threads="all", **common),
                    dict(key=PREFIX + "peer-1", library=w.peer, threads=1, **common)]
    return configs


def n_rows(w: W.Workload) -> int:
    """Rows (mixtures, latent class) or time steps (HMMs) of the workload's data."""
    s = w.size
    return s["n_seq"] * s["length"] if w.kind == "hmm" else s["n"]


def _first(results: Dict[str, Dict], keys: List[str], field: str) -> Any:
    """``field`` of the first of the configurations ``keys`` that has it."""
    for k in keys:
        value = results.get(PREFIX + k, {}).get(field)
        if value is not None:
            return value
    return None


def summarize(w: W.Workload, results: Dict[str, Dict]) -> Dict[str, Any]:
    """Ratios, iterations and log-likelihoods of a workload's whole fits (``results``: the
    whole-fit configurations, each with ``seconds`` the median over the repeats)."""
    s = {k[len(PREFIX):]: r["seconds"] for k, r in results.items()}

    def ratio(x, y):
        return x / y if x is not None and y is not None and x > 0 and y > 0 else None

    peers = [s[k] for k in ("peer-default", "peer-1") if s.get(k)]
    peer_best = min(peers) if peers else None
    emkit_keys, peer_keys = ["emkit-all", "emkit-1"], ["peer-default", "peer-1"]
    out: Dict[str, Any] = {
        "peer_best": peer_best,
        "speedup_best": ratio(peer_best, s.get("emkit-all")),
        "speedup_1": ratio(s.get("peer-1"), s.get("emkit-1")),
        "n_iter_emkit": _first(results, emkit_keys, "n_iter"),
        "n_iter_peer": _first(results, peer_keys, "n_iter"),
        "converged_emkit": _first(results, emkit_keys, "converged"),
        "converged_peer": _first(results, peer_keys, "converged"),
        "loglik_emkit": _first(results, emkit_keys, "loglik"),
        "loglik_peer": _first(results, peer_keys, "loglik"),
        "n_rows": n_rows(w),
    }
    # Seconds per iteration within the fits (initialisation and final statistics included).
    it_e, it_p = out["n_iter_emkit"], out["n_iter_peer"]
    out["speedup_per_fit_iter"] = ratio(
        peer_best / it_p if peer_best and it_p else None,
        s["emkit-all"] / it_e if s.get("emkit-all") and it_e else None)
    le, lp = out["loglik_emkit"], out["loglik_peer"]
    out["loglik_diff_per_row"] = None if le is None or lp is None else (le - lp) / out["n_rows"]
    return out


# --------------------------------------------------------------------------- report
def _iter_cell(n_iter: Optional[int], conv: Optional[bool]) -> str:
    return "-" if n_iter is None else f"{n_iter}{'+' if conv is False else ''}"


def report(rows: List[Dict], n_threads: int, blas_threads: str) -> List[str]:
    """The whole-fit table and its notes (rows without whole fits are left out)."""
    rows = [row for row in rows if row.get("whole_fit")]
    if not rows:
        return []
    N = n_threads

    def line(row):
        res, sm = row["whole_fit"]["results"], row["whole_fit"]["summary"]
        per_row = [None if sm[k] is None else sm[k] / sm["n_rows"]
                   for k in ("loglik_emkit", "loglik_peer")]
        times = [C.time_cell(res.get(PREFIX + k))
                 for k in ("peer-default", "peer-1", "emkit-1", "emkit-all")]
        return [
            row["workload"], row["peer_label"], *times,
            C.fmt(sm["speedup_best"]), C.fmt(sm["speedup_1"]),
            " / ".join([_iter_cell(sm["n_iter_emkit"], sm["converged_emkit"]),
                        _iter_cell(sm["n_iter_peer"], sm["converged_peer"])]),
            C.fmt(sm["speedup_per_fit_iter"]),
            " / ".join(C.fmt(v, ".4f") or "-" for v in per_row),
            C.fmt(sm["loglik_diff_per_row"], ".2g"),
        ]

    table = C.markdown_table(
        ["workload", "peer", f"peer {blas_threads}T", "peer 1T", "emkit 1T", f"emkit {N}T",
         f"peer best / emkit {N}T", "peer 1T / emkit 1T", "iterations emkit / peer",
         "per fit iteration", "loglik per row emkit / peer", "emkit - peer"],
        [line(row) for row in rows],
    )
    return [
        "", "## Whole fit", "",
        "`fit` end to end with each library's default options (initialisation, default n_init, "
        "default tolerance and iteration limit, emkit's standard errors and fit statistics), "
        f"random_state={SEED}: seconds per fit, median of the repeats, each in a fresh process. "
        "Only the model's definition is given (bench/whole_fit.py).",
        "",
        table,
        "",
        f"peer best / emkit {N}T and peer 1T / emkit 1T: the whole-fit ratios (as in the "
        "per-iteration table). iterations: EM iterations each fit ran (+ = stopped by its "
        "iteration limit, not converged). per fit iteration: the ratio of seconds per fit "
        "divided by the iterations each ran (initialisation and final statistics included). "
        "loglik per row: each library's own total log-likelihood of the data at its final "
        "parameters (scikit-learn, StepMix, emkit's mixtures: score(X) * n; hmmlearn, emkit's "
        "HMMs: score(X, lengths)), divided by the rows (HMMs: time steps); emkit - peer: their "
        "difference (> 0: emkit's optimum is higher).",
    ]
