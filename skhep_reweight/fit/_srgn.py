"""SRGNFitter: generator parameters from data seen at detector level, and the DCTR fit."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from numbers import Integral, Real
from types import MappingProxyType
from typing import Any

import numpy as np
from joblib import Parallel, delayed
from numpy.typing import ArrayLike
from sklearn.base import BaseEstimator, clone
from sklearn.utils import Bunch
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions

from .._base import EstimatorMixin, fit_method
from .._nn import NETWORK_PARAMETER_CONSTRAINTS, derive_seeds
from ._inputs import DEPRECATED, build_problem
from ._workers import Problem, run_member

__all__ = ["REWEIGHTER_PARAMS", "SRGNFitter"]

# A fit that ends this close to a bound (as a fraction of the bounded range) is taken as a failed
# optimization and left out of the ensemble's mean and spread, the rule of the SRGN paper (its
# Table I caption and text: "all values within 5% of the range of the bounds").
AT_BOUND_FRACTION = 0.05

#: The parametrized reweighter's settings that reproduce Table II of the SRGN paper (see
#: :class:`SRGNFitter`'s Notes): ``DCTRReweighter(**REWEIGHTER_PARAMS).fit(X, y, theta=theta)``,
#: with 10^5 or more events per class. What decides is the number of gradient steps, so the
#: epochs are fixed (no early stopping) and the batch small; every parameter is written out, so
#: that a change of the estimator's defaults does not change them. Read-only.
REWEIGHTER_PARAMS = MappingProxyType(
    {
        "hidden_layer_sizes": (64, 64),
        "activation": "silu",
        "learning_rate": 1e-3,
        "batch_size": 512,
        "max_epochs": 60,
        "early_stopping": False,
        "weight_decay": 0.0,
    }
)


class SRGNFitter(EstimatorMixin, BaseEstimator):
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
        classifiers are the cost). "parametrized" trains one classifier g(x, theta) once and
        reads the AUC at any theta from it: every simulated training event gets a point theta
        drawn uniformly in the bounds and the weight w(x_G, theta) there, divided by the
        simulation's mean weight at that point (so that the reweighted simulation and the data
        carry equal totals at every theta); every data event gets a point drawn from the same
        points. With ``local_width`` a second g is then trained in a window around the first
        result and the fit repeated there.
    auc_objective : {"auto", "auc", "abs"}, default="auto"
        What the fit minimizes with ``objective="auc"``: the held-out AUC itself ("auc", eq. 5)
        or its distance from 1/2 ("abs"). "auto" is "auc" with ``strategy="retrain"`` and "abs"
        with ``strategy="parametrized"``. A classifier retrained at theta learns the direction of
        the difference there, so its expected held-out AUC is at least 1/2 and values below are
        noise; folding them up ("abs") only flattens the minimum (on the 1-D Gaussian fit at
        5x10^4 events: a spread of 0.008 instead of 0.005, and half as many evaluations
        again). A parametrized g(x, theta) interpolates in theta: between the
        point where it truly stops separating and its neighbours it can rank the wrong way round,
        an AUC below 1/2 that is separation, not noise, and the minimum of the signed AUC lands
        there (0.974 where retraining finds 1.02 on the same events); its zero crossing, the
        minimum of :math:`|\mathrm{AUC} - 1/2|`, is the estimate.
    local_width : float in (0, 0.5] or None, default=0.1
        ``strategy="parametrized"`` only: half-width, as a share of each bounded range, of the
        window around the first result in which a second g(x, theta) is trained (theta drawn
        in the window only, so all training events inform the neighbourhood of the minimum) and
        the fit is repeated by Powell inside it. None stops after the first stage.
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
        a grid scan. Powell's evaluations are sequential. None means one, unless inside a
        ``joblib.parallel_backend`` context such as ``parallel_backend("dask")``, which then
        decides.
    device : {"auto", "cpu", "cuda", "cuda:N"}, default="auto"
        Where the built-in classifier trains; "auto" takes the GPU when there is one.
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
        The objective (AUC, :math:`|\mathrm{AUC} - 1/2|`, or the DCTR cross-entropy) at each
        member's result.
    at_bound_ : ndarray of bool of shape (n_ensemble,)
        Members that ended within 5% of the bounded range of a bound.
    scan_ : Bunch
        Every evaluated point: ``theta`` (n_evaluations, n_parameters), ``objective``
        (n_evaluations,) and ``member`` (n_evaluations,), in the order evaluated. This is the
        fit's training history: the objective per evaluation (there is no loss per epoch).
    n_iter_ : int
        Objective evaluations over the whole fit, all ensemble members together
        (``len(scan_.objective)``). With ``strategy="retrain"`` each is one classifier
        trained; a point Powell comes back to is looked up, not evaluated or counted again.
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
    *The learned reweighter.* The fit is only as good as :math:`w(x_G, \theta)` near the data's
    parameters, and SRGN is sensitive to its errors there at the level of the fit's precision. For
    the Gaussian fits of [1]_ (one parameter, or (mu, sigma) over [-2, 2] x [0.25, 4]) the
    settings below reproduce Table II's sigma; what decides is the number of gradient steps (a
    (64, 64) network, batch 4096 and 20 epochs on 2x10^4 events, 200 steps, gave sigma 0.25-0.47
    against 0.75) and then the events (2x10^4 per class leave the reweighted mean off by a few
    hundredths; 10^5 or more recommended). Early stopping on a noisy validation loss stopped one
    such fit at epoch 64 with sigma 0.58, so the epochs are fixed (:data:`REWEIGHTER_PARAMS`)::

        DCTRReweighter(hidden_layer_sizes=(64, 64), batch_size=512, max_epochs=60,
                       early_stopping=False).fit(X, y, theta=theta)  # >= 10^5 events per class
        DCTRReweighter(**REWEIGHTER_PARAMS).fit(X, y, theta=theta)  # the same, spelled out

    With them (10^5 events a sample and a class, 5 seeds) Table II gives sigma 0.775 +- 0.02
    against the paper's 0.747 +- 0.017, but mu scatters by 0.04 (exact weights: 0.004), and on
    10^6 events Table I scatters by 0.05 (paper 0.013-0.017): the seed-to-seed error of the
    learned weights, not the fit, limits the precision, and 3x10^5 events a class at the same
    number of steps did not reduce it. Check the reweighter before fitting: at a few theta, the
    weighted mean and width of the nominal sample under :math:`w` against the exact weights or
    a directly simulated sample; and read the AUC at the fitted point (``ensemble_objective_``):
    well above 1/2 with many events, no theta makes the reweighted simulation match the data.

    *Seeds.* Within one member every theta trains its classifier from the same seed on the same
    training events; only the weights change. The AUC curve is then as smooth as the training
    allows, which a derivative-free optimizer needs (a "fresh" classifier here is one trained
    from scratch at each point, never one carried over).

    *Weights.* ``sim_weight`` (of the nominal events) multiplies the reweighting;
    ``sample_weight`` weights the data. Negative weights enter the classifier's loss and the
    AUC with their sign.

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
        "auc_objective": [StrOptions({"auto", "auc", "abs"})],
        "local_width": [None, Interval(Real, 0, 0.5, closed="right")],
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
        reweighter: Any,
        bounds: ArrayLike | None = None,
        *,
        objective: str = "auc",
        strategy: str = "retrain",
        auc_objective: str = "auto",
        local_width: float | None = 0.1,
        optimizer: str = "auto",
        grid_points: int = 21,
        refine: bool = True,
        theta_init: ArrayLike | None = None,
        xtol: float = 1e-4,
        ftol: float = 1e-4,
        max_iter: int = 100,
        test_fraction: float = 0.5,
        classifier: Any = None,
        hidden_layer_sizes: int | Sequence[int] = (128, 128),
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
        random_state: int | np.random.RandomState | None = None,
        verbose: int = 0,
    ) -> None:
        self._set_params_from_init(locals())

    # ------------------------------------------------------------------ fitting
    @fit_method
    def fit(
        self,
        X: ArrayLike,
        X_sim: ArrayLike | None = None,
        X_gen: ArrayLike | None = None,
        sample_weight: ArrayLike | None = None,
        *,
        sim_weight: ArrayLike | None = None,
        reweighter_data: tuple | None = None,
        data_weight: ArrayLike | None | str = DEPRECATED,
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
        sample_weight : array-like of shape (n_data,), default=None
            Weights of the data events (the rows of X), unit weights when None.
        sim_weight : array-like of shape (n_nominal,), default=None
            Weights of the nominal events, unit weights when None; the reweighting multiplies
            them.
        reweighter_data : tuple (X, y, theta) or (X, y, theta, sample_weight), default=None
            Generator-level training samples of the reweighter, as for
            ``DCTRReweighter.fit``; given, every ensemble member fits its own clone of
            ``reweighter`` on them with its own seed.
        data_weight : array-like of shape (n_data,)
            The data's weights under their name before 0.2.

            .. deprecated:: 0.2
                Use ``sample_weight``; ``data_weight`` will be removed in 0.4.

        Returns
        -------
        self : SRGNFitter

        Notes
        -----
        .. versionchanged:: 0.2
            ``sample_weight`` weights the data (the rows of X), as in every scikit-learn
            ``fit``; it used to weight the nominal simulation, whose weights are now
            ``sim_weight``, and the data's were ``data_weight``. A call written for 0.1 keeps
            its meaning and warns (FutureWarning) during the deprecation:

            - with ``data_weight`` given, ``sample_weight`` is read as the simulation's
              weights, as before (with ``sim_weight`` given as well the call is contradictory
              and raises a TypeError);
            - without ``sim_weight``, a ``sample_weight`` with as many entries as the
              simulation but not as the data is read as the simulation's weights;
            - when the data and the simulation have as many events each, the two readings
              cannot be told apart: ``sample_weight`` weights the data (the new meaning) and a
              FutureWarning says so unless ``sim_weight`` is given too (unit simulation
              weights, ``np.ones(n_nominal)``, silence it);
            - a ``sample_weight`` of the data's length alone, or with ``sim_weight`` given, is
              read with the new meaning without warning.
        """
        # joblib runs the ensemble members in parallel, or else the points of a grid scan; both
        # go through joblib even with n_jobs=None, so that a parallel_backend("dask") takes them
        parallel_members = self.n_ensemble > 1
        problem = build_problem(
            self,
            X,
            X_sim,
            X_gen,
            (sample_weight, sim_weight, data_weight),
            reweighter_data,
            n_jobs_points=None if parallel_members else self.n_jobs,
        )
        seeds = np.array(derive_seeds(self.random_state, 3 * self.n_ensemble)).reshape(-1, 3)
        if parallel_members:
            results = Parallel(n_jobs=self.n_jobs)(
                delayed(run_member)(problem, tuple(s)) for s in seeds
            )
        else:
            results = [run_member(problem, tuple(s)) for s in seeds]
        self._collect(results, problem)
        return self

    def _collect(self, results: list[dict], problem: Problem) -> None:
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
                stacklevel=4,  # _collect, fit, the fit_method wrapper, the caller
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
        self.n_iter_ = len(self.scan_.objective)

    # ------------------------------------------------------------------ validation
    def __sklearn_clone__(self) -> SRGNFitter:
        """An unfitted copy that shares the reweighter as given.

        scikit-learn's ``clone`` would clone every estimator parameter, and so hand the copy an
        unfitted reweighter; the fitted reweighting is this estimator's input, not something it
        learns, so the copy keeps it (the fitter never modifies it: members that train their own
        reweighters train clones).
        """
        params = self.get_params(deep=False)
        reweighter = params.pop("reweighter")
        return type(self)(reweighter, **{k: clone(v, safe=False) for k, v in params.items()})
