"""SRGNFitter: generator parameters from data seen at detector level, and the DCTR fit."""

from __future__ import annotations

import warnings
from numbers import Integral, Real

import numpy as np
from joblib import Parallel, delayed
from sklearn.base import BaseEstimator, clone
from sklearn.utils import Bunch
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import check_array, check_is_fitted, validate_data

from .._nn import NETWORK_PARAMETER_CONSTRAINTS, derive_seeds, network_options
from .._nn.params import check_hidden_layer_sizes
from .._validation import check_event_weights
from ..reweight._theta import THETA_RANGE_TOLERANCE, theta_for_fit
from ._workers import Problem, run_member

__all__ = ["SRGNFitter"]

# A fit that ends this close to a bound (as a fraction of the bounded range) is taken as a failed
# optimization and left out of the ensemble's mean and spread, the rule of the SRGN paper (its
# Table I caption and text: "all values within 5% of the range of the bounds").
AT_BOUND_FRACTION = 0.05


class SRGNFitter(BaseEstimator):
    r"""Fit generator parameters by reweighting one simulated sample (SRGN), or by the DCTR fit.

    A parametrized reweighting :math:`w_{\theta_0}(x_G, \theta)`, learned at generator level
    (:class:`~skhep_reweight.DCTRReweighter` fitted with ``theta``), morphs the nominal synthetic
    sample into any :math:`\theta` of its range. SRGN [1]_ needs that sample only once with
    detector simulation: for a candidate :math:`\theta'` it weights the simulated events by
    :math:`w_{\theta_0}(x_G, \theta')` and trains a fresh classifier :math:`g_{\theta'}` to
    separate the data from them at detector level with the weighted cross-entropy (eq. 4 of
    [1]_)

    .. math::

        g_{\theta'} = \arg\max_g \sum_{i \in \rm data} \log g(x_{S,i})
            + \sum_{i \in \theta_0} w_{\theta_0}(x_{G,i}, \theta') \log(1 - g(x_{S,i})),

    and the fitted parameters minimize the weighted AUC of that classifier on held-out events
    (eq. 5),

    .. math::

        \theta^*_{\rm SRGN} = \arg\min_{\theta'}
            \Pr\left(g_{\theta'}(x_S^{\rm data}) > g_{\theta'}(x_S^{\rm sim})\right).

    The AUC is 1/2 where the classifier cannot tell the samples apart, and it does not see the
    normalization of the weights. The fit is unbiased when :math:`x_G` holds everything the
    detector response depends on (the *full phase space*: eqs. 7-9 of [1]_); with less, the
    reweighted simulation misses the parameter dependence of the response and the fit is biased.

    Without detector-level features (``X_sim=None``) the same fit runs at generator level.
    ``objective="dctr"`` instead runs the DCTR fit of eq. (3): the reweighter's own classifier
    :math:`f(x, \theta) = w/(1 + w)` stays frozen, :math:`\theta` is the only free variable and
    the cross-entropy between data and nominal sample is minimized by gradient (through the
    network, L-BFGS-B inside the bounds; see :func:`~skhep_reweight.fit.dctr_cross_entropy`).

    Parameters
    ----------
    reweighter : fitted parametrized DCTRReweighter, or callable
        The generator-level reweighting. A :class:`~skhep_reweight.DCTRReweighter` fitted with
        ``theta``, or an unfitted one together with ``reweighter_data`` in :meth:`fit` (then each
        ensemble member fits its own, independently seeded, clone). A callable
        ``w(X_gen, theta) -> weights`` (``theta`` of shape (n_parameters,) or, with the
        parametrized strategy, (n_events, n_parameters)) stands for an exact weight function,
        such as ``weight_function`` of
        :func:`~skhep_reweight.datasets.make_parametrized_gaussian`.
    bounds : array-like of shape (n_parameters, 2), default=None
        ``(low, high)`` of every parameter; the fit stays inside. None takes the reweighter's
        trained range. Bounds beyond that range raise (a reweighter that allows extrapolation
        accepts them); a callable needs explicit bounds.
    objective : {"auc", "dctr"}, default="auc"
        "auc" is SRGN (eq. 5); "dctr" is the DCTR fit (eq. 3, generator level only).
    strategy : {"retrain", "parametrized"}, default="retrain"
        "retrain" trains a fresh classifier at every evaluated theta (the paper's procedure: the
        classifiers are the cost). "parametrized" trains one classifier g(x, theta) once, over
        reweighted simulation and data with points theta drawn uniformly in the bounds attached
        to every event, and reads the AUC at any theta from it.
    optimizer : {"auto", "powell", "grid", "gradient"}, default="auto"
        "powell" is scipy's bounded Powell method, as in the paper. "grid" scans ``grid_points``
        per parameter over the bounds (joblib-parallel over points) and, with ``refine``, runs
        Powell inside the grid cells around the best point. "gradient" (DCTR fit with the
        built-in network only) is L-BFGS-B on the autograd gradient. "auto" is "gradient" for
        the DCTR fit with a built-in-network reweighter and "powell" otherwise.
    grid_points : int, default=21
    refine : bool, default=True
    theta_init : array-like of shape (n_parameters,), default=None
        Starting point of Powell and L-BFGS-B; None is the middle of the bounds.
    xtol, ftol : float, default=1e-4
        Powell's tolerances (the paper's 1e-4): ``xtol`` on the solution, in units of each
        parameter's bounded range (Powell runs on the parameters mapped to [0, 1]); ``ftol``
        relative on the objective. Evaluated points are remembered, so Powell's returns to a
        point cost nothing. Where the AUC's statistical noise exceeds ``ftol`` (small samples),
        Powell keeps probing the noise until ``max_iter``; 1e-3 then saves evaluations.
    max_iter : int, default=100
        Powell's (and L-BFGS-B's) iteration limit (the paper's 100).
    test_fraction : float, default=0.5
        Share of the data and of the simulation held out for the AUC; the classifier trains on
        the rest (the paper's 50/50 split).
    classifier : classifier with ``predict_proba``, default=None
        None trains the built-in network below for g. Any scikit-learn classifier that takes
        ``sample_weight`` (``HistGradientBoostingClassifier``, a Pipeline) is cloned and used
        instead, a much faster choice on a CPU.
    hidden_layer_sizes : tuple of int, default=(128, 128)
        The classifier g (two layers of 128 as in [1]_).
    activation : str, default="relu"
    learning_rate : float, default=1e-3
    batch_size : int, default=1000
    max_epochs : int, default=200
    early_stopping : bool, default=True
        On ``validation_fraction`` of the training events, patience ``n_iter_no_change``.
    validation_fraction : float, default=0.2
    n_iter_no_change : int, default=5
    weight_decay : float, default=0.0
    n_ensemble : int, default=1
        Independent fits, each with its own seeds for the reweighter (when fitted here), the
        held-out split and the classifier. ``theta_`` is their mean and ``theta_std_`` their
        spread, both without the fits that ended at a bound.
    n_jobs : int, default=None
        joblib workers: over ensemble members when ``n_ensemble > 1``, else over the points of
        a grid scan. Powell's evaluations are sequential.
    device : {"auto", "cpu", "cuda"}, default="auto"
    random_state : int, RandomState instance or None, default=None
        Seeds every member's reweighter, split and classifier.
    verbose : int, default=0
        1 shows a progress bar per fit over the evaluated points (with the best point so far);
        2 adds the progress bars of every network's training.

    Attributes
    ----------
    theta_ : ndarray of shape (n_parameters,)
        The fitted parameters (the ensemble mean).
    theta_std_ : ndarray of shape (n_parameters,)
        Standard deviation over the ensemble (ddof=1); NaN with fewer than two members.
    ensemble_theta_ : ndarray of shape (n_ensemble, n_parameters)
        Every member's result.
    ensemble_objective_ : ndarray of shape (n_ensemble,)
        The objective (AUC, or the DCTR cross-entropy) at each member's result.
    at_bound_ : ndarray of bool of shape (n_ensemble,)
        Members that ended within 5% of the bounded range of a bound.
    scan_ : Bunch
        Every evaluated point: ``theta`` (n_evaluations, n_parameters), ``objective``
        (n_evaluations,) and ``member`` (n_evaluations,), in the order evaluated.
    bounds_ : ndarray of shape (n_parameters, 2)
    n_parameters_ : int
    reweighters_ : list
        The members' reweighters (the given one when it was fitted already).
    classifiers_ : list
        ``strategy="parametrized"``: each member's classifier g(x, theta); else empty.
    n_features_in_ : int
        Features of the data.
    feature_names_in_ : ndarray of str
        When X is a DataFrame with string column names.

    Notes
    -----
    *Seeds.* Within one member every theta trains its classifier from the same seed on the same
    training events; only the weights change. The AUC curve is then as smooth as the training
    allows, which a derivative-free optimizer needs (a "fresh" classifier here is one trained
    from scratch at each point, never one carried over).

    *Weights.* ``sample_weight`` (of the nominal events) and ``data_weight`` multiply the
    reweighting; negative weights enter the classifier's loss and the AUC with their sign.

    *Compatibility.* ``fit`` takes three samples (data, and the nominal sample at two levels), so
    scikit-learn's common checks, written for ``fit(X, y)``, do not apply; pickling and parameter
    validation behave as for any estimator. ``clone`` copies every parameter except the
    reweighter, which the copy shares as given (cloning it would unfit it).

    References
    ----------
    .. [1] A. Andreassen, S.-C. Hsu, B. Nachman, N. Suaysom, A. Suresh, "Parameter estimation
           using neural networks in the presence of detector effects", Phys. Rev. D 103, 036001
           (2021), arXiv:2010.03569.
    .. [2] A. Andreassen, B. Nachman, "Neural networks for full phase-space reweighting and
           parameter tuning", Phys. Rev. D 101, 091901 (2020), arXiv:1907.08209.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.ensemble import HistGradientBoostingClassifier
    >>> from skhep_reweight import SRGNFitter
    >>> from skhep_reweight.datasets import make_parametrized_gaussian
    >>> nominal = make_parametrized_gaussian(2000, random_state=0)
    >>> data = make_parametrized_gaussian(2000, target_theta=[1.0], random_state=1)
    >>> sim = nominal.y == 0
    >>> fitter = SRGNFitter(
    ...     nominal.weight_function, bounds=[(-2.0, 2.0)], optimizer="grid", grid_points=9,
    ...     refine=False, classifier=HistGradientBoostingClassifier(max_iter=20), random_state=0)
    >>> fitter = fitter.fit(data.X_sim[data.y == 1], X_sim=nominal.X_sim[sim],
    ...                     X_gen=nominal.X[sim])
    >>> print(fitter.theta_)
    [1.]
    """

    _parameter_constraints: dict = {
        **NETWORK_PARAMETER_CONSTRAINTS,
        "reweighter": [HasMethods(["predict_weights"]), callable],
        "bounds": [None, "array-like"],
        "objective": [StrOptions({"auc", "dctr"})],
        "strategy": [StrOptions({"retrain", "parametrized"})],
        "optimizer": [StrOptions({"auto", "powell", "grid", "gradient"})],
        "grid_points": [Interval(Integral, 2, None, closed="left")],
        "refine": ["boolean"],
        "theta_init": [None, "array-like"],
        "xtol": [Interval(Real, 0, None, closed="neither")],
        "ftol": [Interval(Real, 0, None, closed="neither")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "test_fraction": [Interval(Real, 0, 1, closed="neither")],
        "classifier": [None, HasMethods(["fit", "predict_proba"])],
        "n_ensemble": [Interval(Integral, 1, None, closed="left")],
        "n_jobs": [None, Integral],
    }

    def __init__(
        self,
        reweighter,
        bounds=None,
        *,
        objective: str = "auc",
        strategy: str = "retrain",
        optimizer: str = "auto",
        grid_points: int = 21,
        refine: bool = True,
        theta_init=None,
        xtol: float = 1e-4,
        ftol: float = 1e-4,
        max_iter: int = 100,
        test_fraction: float = 0.5,
        classifier=None,
        hidden_layer_sizes=(128, 128),
        activation: str = "relu",
        learning_rate: float = 1e-3,
        batch_size: int = 1000,
        max_epochs: int = 200,
        early_stopping: bool = True,
        validation_fraction: float = 0.2,
        n_iter_no_change: int = 5,
        weight_decay: float = 0.0,
        n_ensemble: int = 1,
        n_jobs: int | None = None,
        device: str = "auto",
        random_state=None,
        verbose: int = 0,
    ) -> None:
        self.reweighter = reweighter
        self.bounds = bounds
        self.objective = objective
        self.strategy = strategy
        self.optimizer = optimizer
        self.grid_points = grid_points
        self.refine = refine
        self.theta_init = theta_init
        self.xtol = xtol
        self.ftol = ftol
        self.max_iter = max_iter
        self.test_fraction = test_fraction
        self.classifier = classifier
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.weight_decay = weight_decay
        self.n_ensemble = n_ensemble
        self.n_jobs = n_jobs
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------------ fitting
    def fit(
        self,
        X,
        X_sim=None,
        X_gen=None,
        sample_weight=None,
        data_weight=None,
        *,
        reweighter_data=None,
    ) -> SRGNFitter:
        """Fit the parameters of the data.

        Parameters
        ----------
        X : array-like of shape (n_data, n_features)
            The data: at detector level, or at generator level when ``X_sim`` is None.
        X_sim : array-like of shape (n_nominal, n_features), default=None
            The nominal synthetic sample at detector level.
        X_gen : array-like of shape (n_nominal, n_gen_features)
            The same events at generator level (what the reweighter sees), row by row.
        sample_weight : array-like of shape (n_nominal,), default=None
            Weights of the nominal events.
        data_weight : array-like of shape (n_data,), default=None
            Weights of the data events.
        reweighter_data : tuple (X, y, theta) or (X, y, theta, sample_weight), default=None
            Generator-level training samples of the reweighter, as for
            ``DCTRReweighter.fit``; given, every ensemble member fits its own clone of
            ``reweighter`` on them with its own seed.

        Returns
        -------
        self : SRGNFitter
        """
        self._validate_params()
        for stale in ("theta_", "scan_", "classifiers_", "reweighters_"):
            self.__dict__.pop(stale, None)
        problem = self._problem(X, X_sim, X_gen, sample_weight, data_weight, reweighter_data)
        seeds = np.array(derive_seeds(self.random_state, 3 * self.n_ensemble)).reshape(-1, 3)
        if self.n_ensemble > 1 and self.n_jobs not in (None, 1):
            results = Parallel(n_jobs=self.n_jobs)(
                delayed(run_member)(problem, tuple(s)) for s in seeds
            )
        else:
            problem.n_jobs_points = self.n_jobs
            results = [run_member(problem, tuple(s)) for s in seeds]
        self._collect(results, problem)
        return self

    def _collect(self, results, problem: Problem) -> None:
        self.ensemble_theta_ = np.array([r["theta"] for r in results])
        self.ensemble_objective_ = np.array([r["value"] for r in results])
        low, high = problem.bounds[:, 0], problem.bounds[:, 1]
        margin = AT_BOUND_FRACTION * (high - low)
        theta = self.ensemble_theta_
        self.at_bound_ = np.any((theta <= low + margin) | (theta >= high - margin), axis=1)
        kept = theta[~self.at_bound_] if not self.at_bound_.all() else theta
        if self.at_bound_.any():
            warnings.warn(
                f"{int(self.at_bound_.sum())} of {len(theta)} fits ended within "
                f"{AT_BOUND_FRACTION:.0%} of the range of a bound"
                + (
                    "; they are left out of theta_ and theta_std_"
                    if not self.at_bound_.all()
                    else "; the bounds may be too narrow, or the optimizer failed"
                ),
                UserWarning,
                stacklevel=3,
            )
        self.theta_ = kept.mean(axis=0)
        self.theta_std_ = (
            kept.std(axis=0, ddof=1) if len(kept) > 1 else np.full(theta.shape[1], np.nan)
        )
        self.scan_ = Bunch(
            theta=np.vstack([r["trace"][0] for r in results]),
            objective=np.concatenate([r["trace"][1] for r in results]),
            member=np.concatenate([np.full(len(r["trace"][1]), m) for m, r in enumerate(results)]),
        )
        self.reweighters_ = [
            r["reweighter"] if r["reweighter"] is not None else self.reweighter for r in results
        ]
        self.classifiers_ = [r["classifier"] for r in results if r["classifier"] is not None]
        self.bounds_ = problem.bounds
        self.n_parameters_ = problem.bounds.shape[0]

    # ------------------------------------------------------------------ validation
    def _problem(self, X, X_sim, X_gen, sample_weight, data_weight, reweighter_data) -> Problem:
        if X_gen is None:
            raise ValueError(
                "X_gen is required: the nominal sample at generator level, which the "
                "reweighter weights"
            )
        X = validate_data(self, X, dtype=[np.float64, np.float32])
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
        if sim.shape[1] != X.shape[1]:
            which = "X_sim" if X_sim is not None else "X_gen (generator-level fit, X_sim=None)"
            raise ValueError(
                f"X (the data) has {X.shape[1]} features but {which} has {sim.shape[1]}: the "
                f"data and the simulation must have the same {level}-level features"
            )
        if self.objective == "dctr" and X_sim is not None:
            raise ValueError(
                "objective='dctr' is the generator-level DCTR fit (eq. 3); it takes no X_sim. "
                "Use objective='auc' (SRGN) to fit at detector level"
            )
        model = self.reweighter
        reweighter_data = self._check_reweighter(model, gen, reweighter_data)
        # X_gen reaches the reweighter as a DataFrame with its own column names when the
        # reweighter was (or will be) fitted on named columns; it then checks the names itself.
        named = hasattr(model, "feature_names_in_") or (
            reweighter_data is not None and hasattr(reweighter_data[0], "columns")
        )
        if not named:
            gen_columns = None
        bounds = self._check_bounds(model, reweighter_data)
        theta_init = self._check_theta_init(bounds)
        optimizer = self.optimizer
        differentiable = hasattr(model, "predict_weights") and (
            model.classifier is None if hasattr(model, "classifier") else False
        )
        if optimizer == "auto":
            optimizer = "gradient" if self.objective == "dctr" and differentiable else "powell"
        if optimizer == "gradient" and not (self.objective == "dctr" and differentiable):
            raise ValueError(
                "optimizer='gradient' needs objective='dctr' and a DCTRReweighter with its "
                "built-in network (the AUC has no gradient); use 'powell' or 'grid'"
            )
        if self.objective == "dctr" and self.n_ensemble > 1 and reweighter_data is None:
            raise ValueError(
                "n_ensemble > 1 with objective='dctr' needs reweighter_data: the DCTR fit of a "
                "fixed reweighter has nothing random to vary"
            )
        return Problem(
            data=X.astype(np.float64),
            data_weight=check_event_weights(data_weight, X.shape[0], "data_weight"),
            sim=sim,
            gen=gen,
            sim_weight=check_event_weights(sample_weight, gen.shape[0]),
            weight_model=model,
            reweighter_data=reweighter_data,
            gen_columns=gen_columns,
            bounds=bounds,
            theta_init=theta_init,
            objective=self.objective,
            strategy=self.strategy,
            optimizer=optimizer,
            grid_points=self.grid_points,
            refine=self.refine,
            xtol=self.xtol,
            ftol=self.ftol,
            max_iter=self.max_iter,
            test_fraction=self.test_fraction,
            classifier=self.classifier,
            network={
                "hidden_layer_sizes": check_hidden_layer_sizes(self.hidden_layer_sizes),
                "activation": self.activation,
                "options": {**network_options(self), "verbose": max(0, self.verbose - 1)},
            },
            verbose=self.verbose,
        )

    def _check_reweighter(self, model, gen: np.ndarray, reweighter_data):
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
            theta_for_fit(theta_rw, y01)
            n_rw = np.shape(X_rw)[1] if np.ndim(X_rw) == 2 else None
            if n_rw != gen.shape[1]:
                raise ValueError(
                    f"reweighter_data's X has shape {np.shape(X_rw)} but X_gen has "
                    f"{gen.shape[1]} features"
                )
            return (X_rw, y_rw, theta_rw, *rest)
        if not hasattr(model, "predict_weights"):
            return None
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
        return None

    def _check_bounds(self, model, reweighter_data) -> np.ndarray:
        trained = None
        if reweighter_data is not None:
            X_rw, y_rw, theta_rw, *_ = reweighter_data
            t = np.asarray(theta_rw, dtype=np.float64)
            t = t[:, None] if t.ndim == 1 else t
            target = t[np.asarray(y_rw) == np.max(y_rw)]
            trained = np.vstack([target.min(axis=0), target.max(axis=0)])
        elif hasattr(model, "theta_range_"):
            trained = model.theta_range_
        if self.bounds is None:
            if trained is None:
                raise ValueError(
                    "bounds are required with a callable reweighter: [(low, high), ...], one "
                    "pair per parameter"
                )
            return trained.T.copy()
        bounds = np.asarray(self.bounds, dtype=np.float64)
        if bounds.ndim == 1 and bounds.shape == (2,):
            bounds = bounds[None, :]
        if bounds.ndim != 2 or bounds.shape[1] != 2:
            raise ValueError(
                f"bounds must have shape (n_parameters, 2), one (low, high) pair per parameter, "
                f"got shape {np.shape(self.bounds)}"
            )
        if not np.all(np.isfinite(bounds)) or np.any(bounds[:, 0] >= bounds[:, 1]):
            raise ValueError(f"bounds must be finite with low < high, got {bounds.tolist()}")
        if trained is not None:
            if bounds.shape[0] != trained.shape[1]:
                raise ValueError(
                    f"bounds has {bounds.shape[0]} parameters but the reweighter is "
                    f"parametrized in {trained.shape[1]}"
                )
            slack = THETA_RANGE_TOLERANCE * (trained[1] - trained[0])
            outside = (bounds[:, 0] < trained[0] - slack) | (bounds[:, 1] > trained[1] + slack)
            if outside.any() and not getattr(model, "allow_extrapolation", False):
                j = int(np.flatnonzero(outside)[0])
                raise ValueError(
                    f"bounds[{j}] = {tuple(bounds[j])} reaches outside the range the reweighter "
                    f"was trained on [{trained[0, j]:.6g}, {trained[1, j]:.6g}]; the fit must "
                    "stay where the reweighting is valid"
                )
        return bounds

    def _check_theta_init(self, bounds: np.ndarray) -> np.ndarray:
        if self.theta_init is None:
            return bounds.mean(axis=1)
        t = np.asarray(self.theta_init, dtype=np.float64).reshape(-1)
        if t.shape != (bounds.shape[0],):
            raise ValueError(
                f"theta_init must have shape ({bounds.shape[0]},), got {np.shape(self.theta_init)}"
            )
        if np.any(t < bounds[:, 0]) or np.any(t > bounds[:, 1]):
            raise ValueError(f"theta_init {t.tolist()} lies outside the bounds {bounds.tolist()}")
        return t

    def __sklearn_clone__(self):
        """An unfitted copy that shares the reweighter as given.

        scikit-learn's ``clone`` would clone every estimator parameter, and so hand the copy an
        unfitted reweighter; the fitted reweighting is this estimator's input, not something it
        learns, so the copy keeps it (the fitter never modifies it: members that train their own
        reweighters train clones).
        """
        params = self.get_params(deep=False)
        reweighter = params.pop("reweighter")
        return type(self)(reweighter, **{k: clone(v, safe=False) for k, v in params.items()})

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        tags.non_deterministic = False
        return tags
