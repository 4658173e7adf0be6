"""SRGNFitter's inputs: the weights read under their old and new names, the samples, the
reweighter, the bounds and the start point checked and packed into a
:class:`~skhep_reweight.fit._workers.Problem`."""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike
from sklearn.utils.validation import check_array, check_is_fitted

from .._nn.params import network_spec
from .._validation import check_event_weights
from ..reweight._theta import outside_range, theta_for_fit, trained_range
from ._workers import Problem

if TYPE_CHECKING:
    from ._srgn import SRGNFitter

__all__ = ["build_problem"]

# The default of fit's deprecated ``data_weight``: tells "not passed" from an explicit None.
DEPRECATED = "deprecated"
# Frames between a warning raised in _split_weights and the user's call of fit: _split_weights,
# build_problem, fit and the fit_method wrapper.
_FIT_STACKLEVEL = 5


def _split_weights(
    sample_weight: ArrayLike | None,
    sim_weight: ArrayLike | None,
    data_weight: ArrayLike | None | str,
    n_data: int,
    n_sim: int,
) -> tuple[np.ndarray, np.ndarray]:
    """The data's and the simulation's weights from ``fit``'s arguments, through the 0.2 rename.

    Before 0.2 ``sample_weight`` weighted the simulation and ``data_weight`` the data; since
    then ``sample_weight`` weights the data and ``sim_weight`` the simulation. The rules that
    keep an old call's meaning are listed in :meth:`SRGNFitter.fit` (Notes).

    Returns
    -------
    data_weight : ndarray of shape (n_data,)
    sim_weight : ndarray of shape (n_sim,)
    """
    data_name, sim_name = "sample_weight", "sim_weight"
    renamed = (
        "Since 0.2 sample_weight weights the data (the rows of X) and sim_weight the nominal "
        "simulation; fit(X, X_sim, X_gen, sample_weight=<data weights>, "
        "sim_weight=<simulation weights>)"
    )
    if not (isinstance(data_weight, str) and data_weight == DEPRECATED):
        if sample_weight is not None and sim_weight is not None:
            raise TypeError(
                "data_weight, sample_weight and sim_weight were all given: data_weight is the "
                "name before 0.2 of what sample_weight is now, the data's weights; pass "
                "sample_weight and sim_weight only"
            )
        message = "data_weight is deprecated since 0.2 and will be removed in 0.4. " + renamed
        if sample_weight is not None:
            # the 0.1 call fit(X, X_sim, X_gen, sample_weight=w_sim, data_weight=w_data)
            message += (
                "; with data_weight given, sample_weight is read as the simulation's weights, "
                "as before 0.2"
            )
            sim_weight = sample_weight
            sim_name = "sample_weight (the simulation's weights, data_weight being given)"
        warnings.warn(message, FutureWarning, stacklevel=_FIT_STACKLEVEL)
        sample_weight, data_name = data_weight, "data_weight"
    elif sample_weight is not None and sim_weight is None:
        n = np.shape(sample_weight)[0] if np.ndim(sample_weight) >= 1 else None
        if n == n_sim and n != n_data:
            warnings.warn(
                f"sample_weight has {n} entries, as many as the simulation (X_gen) and not as "
                f"the data (X has {n_data} rows): it is read as the simulation's weights, its "
                "meaning before 0.2; pass them as sim_weight. " + renamed + ". This reading "
                "will be removed in 0.4.",
                FutureWarning,
                stacklevel=_FIT_STACKLEVEL,
            )
            sample_weight, sim_weight = None, sample_weight
            sim_name = "sample_weight"
        elif n is None or n == n_sim:
            warnings.warn(
                "sample_weight is read as the weights of the data (the rows of X); before 0.2 "
                "it weighted the simulation, and with as many data as simulated events the "
                "two cannot be told apart. " + renamed + ". Giving sim_weight (np.ones for "
                "unit weights) silences this warning.",
                FutureWarning,
                stacklevel=_FIT_STACKLEVEL,
            )
        elif n != n_data:
            raise ValueError(
                f"sample_weight has {n} entries but X (the data) has {n_data} rows; the "
                f"simulation's weights ({n_sim} nominal events) are sim_weight"
            )
    if sim_weight is not None and np.ndim(sim_weight) == 1 and len(sim_weight) != n_sim:
        raise ValueError(
            f"{sim_name} has {len(sim_weight)} entries but X_gen has {n_sim} rows (the nominal "
            "events)"
        )
    data_weight = check_event_weights(sample_weight, n_data, data_name)
    sim_weight = check_event_weights(sim_weight, n_sim, sim_name)
    for weight, name in ((data_weight, data_name), (sim_weight, sim_name)):
        total = weight.sum()
        if not total > 0:
            raise ValueError(
                f"{name} sums to {'zero' if total == 0 else f'{total:.6g}'}; the weights of the "
                "data and of the simulation must each sum to a positive number"
            )
    return data_weight, sim_weight


def build_problem(
    fitter: SRGNFitter,
    X: ArrayLike,
    X_sim: ArrayLike | None,
    X_gen: ArrayLike | None,
    weights: tuple,
    reweighter_data: tuple | None,
    *,
    n_jobs_points: int | None,
) -> Problem:
    """Validate the inputs and pack them with the settings; ``weights`` are fit's
    ``(sample_weight, sim_weight, data_weight)``."""
    if X_gen is None:
        raise ValueError(
            "X_gen is required: the nominal sample at generator level, which the reweighter weights"
        )
    X = fitter._validate_input(X, reset=True).astype(np.float64)
    gen_columns = None
    if hasattr(X_gen, "columns"):
        gen_columns = np.asarray(X_gen.columns, dtype=object)
    gen = check_array(X_gen, dtype=np.float64, input_name="X_gen")
    if X_sim is None:
        sim, level = gen, "generator"
    else:
        sim = check_array(X_sim, dtype=np.float64, input_name="X_sim")
        level = "detector"
        if sim.shape[0] != gen.shape[0]:
            raise ValueError(
                f"X_sim has {sim.shape[0]} rows but X_gen has {gen.shape[0]}: they must be "
                "the same nominal events at detector and at generator level, row by row"
            )
    data_weight, sim_weight = _split_weights(*weights, X.shape[0], gen.shape[0])
    if sim.shape[1] != X.shape[1]:
        which = "X_sim" if X_sim is not None else "X_gen (generator-level fit, X_sim=None)"
        raise ValueError(
            f"X (the data) has {X.shape[1]} features but {which} has {sim.shape[1]}: the "
            f"data and the simulation must have the same {level}-level features"
        )
    if fitter.objective == "dctr" and X_sim is not None:
        raise ValueError(
            "objective='dctr' is the generator-level DCTR fit (eq. 3); it takes no X_sim. "
            "Use objective='auc' (SRGN) to fit at detector level"
        )
    model = fitter.reweighter
    reweighter_data, trained = _check_reweighter(model, gen, reweighter_data)
    # X_gen reaches the reweighter as a DataFrame with its own column names when the
    # reweighter was (or will be) fitted on named columns; it then checks the names itself.
    named = hasattr(model, "feature_names_in_") or (
        reweighter_data is not None and hasattr(reweighter_data[0], "columns")
    )
    if not named:
        gen_columns = None
    bounds = _check_bounds(fitter, model, trained)
    theta_init = _check_theta_init(fitter, bounds)
    optimizer = fitter.optimizer
    differentiable = hasattr(model, "predict_weights") and (
        model.classifier is None if hasattr(model, "classifier") else False
    )
    if optimizer == "auto":
        optimizer = "gradient" if fitter.objective == "dctr" and differentiable else "powell"
    if optimizer == "gradient" and not (fitter.objective == "dctr" and differentiable):
        raise ValueError(
            "optimizer='gradient' needs objective='dctr' and a DCTRReweighter with its "
            "built-in network (the AUC has no gradient); use 'powell' or 'grid'"
        )
    if fitter.objective == "dctr" and fitter.n_ensemble > 1 and reweighter_data is None:
        raise ValueError(
            "n_ensemble > 1 with objective='dctr' needs reweighter_data: the DCTR fit of a "
            "fixed reweighter has nothing random to vary"
        )
    return Problem(
        data=X,
        data_weight=data_weight,
        sim=sim,
        gen=gen,
        sim_weight=sim_weight,
        weight_model=model,
        reweighter_data=reweighter_data,
        gen_columns=gen_columns,
        bounds=bounds,
        theta_init=theta_init,
        objective=fitter.objective,
        strategy=fitter.strategy,
        optimizer=optimizer,
        grid_points=fitter.grid_points,
        refine=fitter.refine,
        xtol=fitter.xtol,
        ftol=fitter.ftol,
        max_iter=fitter.max_iter,
        test_fraction=fitter.test_fraction,
        classifier=fitter.classifier,
        auc_objective=fitter.auc_objective,
        local_width=fitter.local_width,
        network=network_spec(fitter, verbose=max(0, fitter.verbose - 1)),
        n_jobs_points=n_jobs_points,
        verbose=fitter.verbose,
    )


def _check_reweighter(
    model: Any, gen: np.ndarray, reweighter_data: tuple | None
) -> tuple[tuple | None, np.ndarray | None]:
    """``reweighter_data`` checked, and the theta range the reweighting is valid in
    (shape (2, n_parameters); None for a callable)."""
    if reweighter_data is not None:
        if not hasattr(model, "predict_weights"):
            raise TypeError(
                "reweighter_data was given but the reweighter is a callable; pass a "
                "DCTRReweighter to be fitted"
            )
        try:
            X_rw, y_rw, theta_rw, *rest = reweighter_data
        except (TypeError, ValueError):
            raise ValueError(
                "reweighter_data must be a tuple (X, y, theta) or (X, y, theta, sample_weight)"
            ) from None
        if len(rest) > 1:
            raise ValueError("reweighter_data has more than four entries")
        y01 = (np.asarray(y_rw) == np.max(y_rw)).astype(np.int64)
        trained = trained_range(theta_for_fit(theta_rw, y01), y01)
        n_rw = np.shape(X_rw)[1] if np.ndim(X_rw) == 2 else None
        if n_rw != gen.shape[1]:
            raise ValueError(
                f"reweighter_data's X has shape {np.shape(X_rw)} but X_gen has "
                f"{gen.shape[1]} features"
            )
        return (X_rw, y_rw, theta_rw, *rest), trained
    if not hasattr(model, "predict_weights"):
        return None, None
    check_is_fitted(
        model,
        msg="the reweighter is not fitted: fit it with theta first, or pass "
        "reweighter_data=(X, y, theta) to fit",
    )
    if getattr(model, "n_parameters_", 0) == 0:
        raise ValueError(
            "the reweighter was fitted without theta; SRGN needs a parametrized reweighter "
            "(DCTRReweighter.fit(X, y, theta=...))"
        )
    if model.n_features_in_ != gen.shape[1]:
        raise ValueError(
            f"X_gen has {gen.shape[1]} features but the reweighter was fitted on "
            f"{model.n_features_in_}"
        )
    return None, model.theta_range_


def _check_bounds(fitter: SRGNFitter, model: Any, trained: np.ndarray | None) -> np.ndarray:
    if fitter.bounds is None:
        if trained is None:
            raise ValueError(
                "bounds are required with a callable reweighter: [(low, high), ...], one "
                "pair per parameter"
            )
        return trained.T.copy()
    bounds = np.asarray(fitter.bounds, dtype=np.float64)
    if bounds.ndim == 1 and bounds.shape == (2,):
        bounds = bounds[None, :]
    if bounds.ndim != 2 or bounds.shape[1] != 2:
        raise ValueError(
            f"bounds must have shape (n_parameters, 2), one (low, high) pair per parameter, "
            f"got shape {np.shape(fitter.bounds)}"
        )
    if not np.all(np.isfinite(bounds)) or np.any(bounds[:, 0] >= bounds[:, 1]):
        raise ValueError(f"bounds must be finite with low < high, got {bounds.tolist()}")
    if trained is not None:
        if bounds.shape[0] != trained.shape[1]:
            raise ValueError(
                f"bounds has {bounds.shape[0]} parameters but the reweighter is "
                f"parametrized in {trained.shape[1]}"
            )
        outside = outside_range(bounds.T, trained[0], trained[1]).any(axis=0)
        if outside.any() and not getattr(model, "allow_extrapolation", False):
            j = int(np.flatnonzero(outside)[0])
            raise ValueError(
                f"bounds[{j}] = {tuple(bounds[j])} reaches outside the range the reweighter "
                f"was trained on [{trained[0, j]:.6g}, {trained[1, j]:.6g}]; the fit must "
                "stay where the reweighting is valid"
            )
    return bounds


def _check_theta_init(fitter: SRGNFitter, bounds: np.ndarray) -> np.ndarray:
    if fitter.theta_init is None:
        return bounds.mean(axis=1)
    t = np.asarray(fitter.theta_init, dtype=np.float64).reshape(-1)
    if t.shape != (bounds.shape[0],):
        raise ValueError(
            f"theta_init must have shape ({bounds.shape[0]},), got {np.shape(fitter.theta_init)}"
        )
    if np.any(t < bounds[:, 0]) or np.any(t > bounds[:, 1]):
        raise ValueError(f"theta_init {t.tolist()} lies outside the bounds {bounds.tolist()}")
    return t
