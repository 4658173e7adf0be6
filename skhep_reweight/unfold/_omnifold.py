r"""OmniFold: unbinned, multi-dimensional unfolding by two iterated reweightings.

The simulation holds events with a generator-level (truth) description :math:`z` and a
detector-level description :math:`x`, row by row the same events; the data hold detector-level
events only. OmniFold [1]_ finds weights :math:`\nu(z)` on the simulation's generator-level
events such that the simulation, pushed through its own detector response, matches the data at
detector level. Each iteration trains two class-balanced classifiers of the package's core
(:func:`~skhep_reweight._classifier.fit_balanced_classifier`): step 1 reweights the simulation
to the data at detector level, step 2 turns those per-event weights into a function of the
generator-level features. With a classifier that represents per-bin ratios exactly it is
iterative Bayesian unfolding (D'Agostini) of the histograms, bin by bin (see
:class:`OmniFold`, Notes).

Conventions
-----------
- The weights are factors on top of the simulation's own generator weights ``sim_weight``:
  ``weights_`` and ``unfolded_weights_`` do not include ``sim_weight``; the unfolded event
  weights are ``sim_weight * unfolded_weights_``.
- The classifiers are balanced, so OmniFold unfolds the shape of the distribution; the weights
  are not renormalized after each step.
- Nothing is repaired: non-finite weights raise, and weights whose effective sample size
  collapses or whose largest 1 % carry most of the total raise an
  :class:`UnfoldingWeightWarning` naming the iteration and the step.

Examples
--------
>>> import numpy as np
>>> from sklearn.linear_model import LogisticRegression
>>> from sklearn.pipeline import make_pipeline
>>> from sklearn.preprocessing import PolynomialFeatures
>>> from skhep_reweight.unfold import OmniFold
>>> rng = np.random.RandomState(0)
>>> z_data = rng.normal(0.5, 1.0, (4000, 1))          # the data's truth (unknown)
>>> z_sim = rng.normal(0.0, 1.0, (4000, 1))           # the simulation's truth
>>> x_data = z_data + rng.normal(0.0, 0.5, z_data.shape)
>>> x_sim = z_sim + rng.normal(0.0, 0.5, z_sim.shape)
>>> quadratic = make_pipeline(PolynomialFeatures(2), LogisticRegression(C=1e6))
>>> unfold = OmniFold(quadratic, n_iterations=3, random_state=0)
>>> unfold = unfold.fit(x_data, X_sim=x_sim, X_gen=z_sim)
>>> unfold.weights_.shape
(3, 2, 4000)
>>> print(round(float(np.average(z_sim[:, 0], weights=unfold.unfolded_weights_)), 1))
0.5
"""

from __future__ import annotations

import warnings
from numbers import Integral, Real
from typing import Any

import numpy as np
from joblib import Parallel, delayed
from numpy.typing import ArrayLike
from sklearn.base import BaseEstimator
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import check_array, check_is_fitted
from skorch.callbacks import Callback

from .._base import FLOAT_DTYPES, EstimatorMixin, fit_method
from .._classifier import fit_balanced_classifier, raw_log_ratio
from .._errors import caller_stacklevel
from .._nn import NETWORK_PARAMETER_CONSTRAINTS, derive_seeds, train_binary_classifier
from .._nn.params import network_spec
from .._validation import check_event_weights, class_balanced_weights
from ..metrics import largest_weight_share
from ..reweight._weights import DEFAULT_PROBA_CLIP, clip_log_ratio

__all__ = ["OmniFold", "UnfoldingWeightWarning", "weight_health"]

#: An iteration's weights warn when their effective sample size falls below this fraction of
#: the events: below 5 % the unfolded distribution rests on a few events and its statistical
#: uncertainty is far larger than the simulation's size suggests.
MIN_ESS_FRACTION = 0.05
#: ... or when the largest 1 % of the weights carry more than this share of the total: the
#: result is then dominated by a handful of events (a classifier extrapolating, usually).
MAX_TOP_SHARE = 0.5
#: The share of the largest weights whose sum is checked against ``MAX_TOP_SHARE``.
TOP_FRACTION = 0.01

_STEP_NAMES = {1: "step 1 (detector level)", 2: "step 2 (generator level)"}


class UnfoldingWeightWarning(UserWarning):
    """OmniFold's weights of an iteration are degenerate: their effective sample size is below
    5 % of the events, or their largest 1 % carry more than half the total. The weights are
    kept as they are (never repaired); the message names the iteration and the step, and
    ``ess_fraction_`` / ``top_share_`` of the fitted estimator hold every value."""


def weight_health(weights: ArrayLike) -> tuple[float, float]:
    r"""The two checks OmniFold applies to the weights of every step.

    .. math::

        \mathrm{ESS}/n = \frac{(\sum_k w_k)^2}{n \sum_k w_k^2}, \qquad
        s_{1\%} = \frac{\sum_{k \in \text{largest } 1\%} |w_k|}{\sum_k |w_k|},

    the effective sample size as a fraction of the events, and the share of the total absolute
    weight carried by the largest 1 % (at least one event) of the absolute weights.

    Parameters
    ----------
    weights : array-like of shape (n_samples,)
        Event weights (signed weights allowed).

    Returns
    -------
    ess_fraction, top_share : float

    Examples
    --------
    >>> weight_health(np.ones(200))
    (1.0, 0.01)
    >>> ess, share = weight_health(np.r_[np.ones(99), 1e6])
    >>> print(round(ess, 4), round(share, 4))
    0.01 0.9999
    """
    w = np.asarray(weights, dtype=np.float64)
    n = w.shape[0]
    largest = float(np.max(np.abs(w))) if n else 0.0
    if largest > 0:
        w = w / largest  # both checks are scale-free; this keeps the squares finite
    square = float(np.sum(w * w))
    ess_fraction = float(np.sum(w) ** 2 / (n * square)) if square > 0 else 0.0
    return ess_fraction, largest_weight_share(w, TOP_FRACTION)


class _StartFrom(Callback):
    """Warm start: load a previous network's parameters when training begins.

    The input standardization (buffers ``loc``/``scale``) keeps the new events' statistics; the
    copy is dropped once loaded, so the fitted net does not carry it.
    """

    def __init__(self, state: dict | None) -> None:
        self.state = state

    def on_train_begin(self, net: Any, X: Any = None, y: Any = None, **kwargs: Any) -> None:
        if self.state is not None:
            net.module_.load_state_dict(self.state, strict=False)
            self.state = None


def _parameters_of(net: Any) -> dict:
    """The trainable parameters of a fitted built-in network (no standardization buffers)."""
    return {
        k: v.detach().clone()
        for k, v in net.module_.state_dict().items()
        if not k.endswith((".loc", ".scale"))
    }


def _train(
    classifier: Any,
    X: np.ndarray,
    y01: np.ndarray,
    weight: np.ndarray,
    *,
    seed: int,
    network: dict,
    desc: str,
    previous: Any,
) -> tuple[Any, float]:
    """One step's classifier: :func:`fit_balanced_classifier`, or with ``previous`` (a built-in
    network of the previous iteration, warm start) a network that starts from its parameters."""
    if previous is None:
        return fit_balanced_classifier(
            classifier, X, y01, weight, seed=seed, network=network, desc=desc
        )
    net = train_binary_classifier(
        X,
        y01,
        class_balanced_weights(y01, weight),
        seed=seed,
        desc=desc,
        callbacks=[("warm_start", _StartFrom(_parameters_of(previous)))],
        **network,
    )
    return net, 1.0


def _log_ratio(model: Any, X: np.ndarray, prior_ratio: float, proba_clip: float) -> np.ndarray:
    return clip_log_ratio(raw_log_ratio(model, X, prior_ratio), proba_clip)[0]


def _check_step(
    factor: np.ndarray, sim_weight: np.ndarray, iteration: int, step: int
) -> tuple[float, float]:
    """Raise on non-finite weights; return the health of ``sim_weight * factor``."""
    with np.errstate(over="ignore"):  # an overflow is reported just below
        weights = sim_weight * factor
    if not np.all(np.isfinite(weights)):
        bad = int(np.count_nonzero(~np.isfinite(weights)))
        raise ValueError(
            f"OmniFold iteration {iteration}, {_STEP_NAMES[step]}: {bad} weights are not finite "
            "(the product of the classifier ratios overflowed); they are not repaired. Use "
            "fewer iterations, a larger proba_clip or a better-trained classifier"
        )
    return weight_health(weights)


def _run_member(problem: dict, seed: int) -> dict:
    """One OmniFold run (one ensemble member): a joblib task, hence module level."""
    X, X_sim, X_gen = problem["X"], problem["X_sim"], problem["X_gen"]
    reco, gen = problem["pass_reco"], problem["pass_gen"]
    sim_weight, data_weight = problem["sim_weight"], problem["sample_weight"]
    n_iterations, proba_clip = problem["n_iterations"], problem["proba_clip"]
    bootstrap_seed, *seeds = derive_seeds(seed, 1 + 2 * n_iterations)
    if problem["bootstrap"]:
        data_weight = data_weight * np.random.RandomState(bootstrap_seed).poisson(
            1.0, size=data_weight.shape[0]
        )
    x1 = np.vstack([X_sim[reco], X])
    y1 = np.r_[np.zeros(int(reco.sum()), np.int64), np.ones(X.shape[0], np.int64)]
    z = X_gen[gen]
    # step 2 learns from the events with generator-level features; with inefficiency="ibu"
    # only from those also reconstructed, and its ratio is applied to all of them
    learn = gen & reco if problem["inefficiency"] == "ibu" else gen
    x2 = np.vstack([X_gen[learn], X_gen[learn]])
    n_learn = int(learn.sum())
    y2 = np.r_[np.zeros(n_learn, np.int64), np.ones(n_learn, np.int64)]

    n_sim = X_sim.shape[0]
    weights = np.empty((n_iterations, 2, n_sim))
    health = np.empty((n_iterations, 2, 2))
    models: list[list[Any]] = [[], []]
    priors = np.ones((n_iterations, 2))
    epochs = np.zeros((n_iterations, 2), dtype=np.int64)
    push = np.ones(n_sim)  # nu_{n-1}: the generator-level weights of the previous iteration
    previous: list[Any] = [None, None]
    for it in range(n_iterations):
        # step 1: data (label 1) against the simulation passing reco, weighted by nu_{n-1}
        model, priors[it, 0] = _train(
            problem["classifier"],
            x1,
            y1,
            np.r_[sim_weight[reco] * push[reco], data_weight],
            seed=seeds[2 * it],
            network=problem["network"],
            desc=f"OmniFold iteration {it + 1} step 1",
            previous=previous[0],
        )
        pull = push.copy()  # events failing reco keep nu_{n-1}
        pull[reco] = push[reco] * np.exp(_log_ratio(model, X_sim[reco], priors[it, 0], proba_clip))
        health[it, 0] = _check_step(pull, sim_weight, it + 1, 1)
        models[0].append(model)

        # step 2: the same generator-level events weighted by omega_n (label 1) and nu_{n-1}
        model, priors[it, 1] = _train(
            problem["classifier"],
            x2,
            y2,
            np.r_[sim_weight[learn] * push[learn], sim_weight[learn] * pull[learn]],
            seed=seeds[2 * it + 1],
            network=problem["network"],
            desc=f"OmniFold iteration {it + 1} step 2",
            previous=previous[1],
        )
        # fakes keep the weight the simulation predicts for them (1): they are the fixed
        # fake contribution that IBU subtracts, not a part of the truth to be learned
        new_push = np.ones(n_sim)
        new_push[gen] = push[gen] * np.exp(_log_ratio(model, z, priors[it, 1], proba_clip))
        health[it, 1] = _check_step(new_push, sim_weight, it + 1, 2)
        models[1].append(model)

        weights[it, 0], weights[it, 1] = pull, new_push
        push = new_push
        if problem["classifier"] is None:
            epochs[it] = [len(models[0][-1].history), len(models[1][-1].history)]
            if problem["warm_start"]:
                previous = [models[0][-1], models[1][-1]]
    return {
        "weights": weights,
        "health": health,
        "step1": models[0],
        "step2": models[1],
        "priors": priors,
        "epochs": epochs,
    }


def _as_features(values: Any, name: str, *, finite: bool) -> np.ndarray:
    """A 2-D float array of events (placeholders allowed when ``finite`` is False)."""
    if values is None:
        raise ValueError(f"{name} is required: the simulation's events, row by row")
    if np.ndim(values) == 1:
        raise ValueError(
            f"{name} must be 2-D of shape (n_samples, n_features), got a 1-D array of shape "
            f"{np.shape(values)}; reshape a single feature with x.reshape(-1, 1)"
        )
    try:
        return check_array(
            values,
            dtype=FLOAT_DTYPES,
            ensure_all_finite=finite,
            input_name=name,
        ).astype(np.float64, copy=False)
    except ValueError as exc:
        if name in str(exc):
            raise
        raise ValueError(f"{name}: {exc}") from None


def _check_mask(mask: Any, n_sim: int, name: str) -> np.ndarray:
    if mask is None:
        return np.ones(n_sim, dtype=bool)
    array = np.asarray(mask)
    if array.dtype != np.bool_:
        raise TypeError(
            f"{name} must be a boolean mask over the simulation's rows, got dtype {array.dtype}"
        )
    if array.shape != (n_sim,):
        raise ValueError(
            f"{name} must have shape ({n_sim},), one entry per row of X_sim, got shape "
            f"{array.shape}"
        )
    if not array.any():
        raise ValueError(f"{name} marks no event as passing: OmniFold needs some")
    return array


def _check_used_rows(features: np.ndarray, mask: np.ndarray, name: str, mask_name: str) -> None:
    bad = ~np.all(np.isfinite(features[mask]), axis=1)
    if bad.any():
        first = int(np.flatnonzero(mask)[np.flatnonzero(bad)[0]])
        raise ValueError(
            f"{name} contains NaN or infinite values in {int(bad.sum())} rows that {mask_name} "
            f"marks as passing (the first is row {first}); only rows where {mask_name} is "
            "False may hold placeholders"
        )


def _column_names(values: Any) -> np.ndarray | None:
    columns = getattr(values, "columns", None)
    if columns is None or not all(isinstance(c, str) for c in columns):
        return None
    return np.asarray(list(columns), dtype=object)


class OmniFold(EstimatorMixin, BaseEstimator):
    r"""Unbinned, multi-dimensional unfolding by iterated classifier reweighting (OmniFold).

    Notation: data events :math:`x^D_i` at detector level with weights :math:`w^D_i` (signed:
    background subtraction); simulated events :math:`k` with detector-level features
    :math:`x_k`, generator-level features :math:`z_k` and generator weights :math:`s_k`;
    :math:`R_k` / :math:`G_k` say whether event :math:`k` passes the detector-level
    (``pass_reco``) / generator-level (``pass_gen``) selection. The generator-level weight
    starts at :math:`\nu_0 = 1`. Iteration :math:`n = 1, \dots, N`:

    *Step 1 (detector level).* A classifier :math:`f_1` is trained, class totals balanced,
    between the data (label 1, weights :math:`w^D_i`) and the simulated events with
    :math:`R_k` (label 0, weights :math:`s_k \nu_{n-1,k}`). Its ratio
    :math:`r_1 = f_1/(1 - f_1) \approx p_\mathrm{data}(x)/p^{(n-1)}_\mathrm{sim}(x)` is pulled
    to the simulated events:

    .. math::

        \omega_{n,k} = \begin{cases} \nu_{n-1,k}\, r_1(x_k) & R_k \\
                                     \nu_{n-1,k} & \text{not } R_k \text{ (inefficiency)}.
                       \end{cases}

    *Step 2 (generator level).* A classifier :math:`f_2` is trained between the simulated
    events with :math:`G_k` weighted by :math:`s_k \omega_{n,k}` (label 1) and the same events
    weighted by :math:`s_k \nu_{n-1,k}` (label 0). Its ratio
    :math:`r_2(z) \approx \mathbb{E}[\omega_n \mid z] / \nu_{n-1}(z)` makes the step-1 weights
    a function of the generator-level features, pushed to every event:

    .. math::

        \nu_{n,k} = \begin{cases} \nu_{n-1,k}\, r_2(z_k) & G_k \\
                                  1 & \text{not } G_k \text{ (fake)}.
                    \end{cases}

    Hence :math:`\nu_N(z) = \prod_{n=1}^{N} r_2^{(n)}(z)`, which :meth:`predict_weights`
    evaluates on any generator-level events. Events that fail the detector-level selection
    keep the previous weight in step 1, as the public OmniFold code does (this converges more
    slowly than IBU's division by the efficiency, to the same answer). Fakes keep the weight 1
    that the simulation predicts for them: they are the fixed fake contribution that IBU
    subtracts, not a part of the truth to learn (letting them carry their step-1 weight, as a
    first version did, absorbed part of the data/simulation difference into the fakes and
    stopped the Gaussian closure at a mean of 0.33 for a truth of 0.51). Placeholder features
    (of any value, NaN included) in the level an event does not reach are never read.

    Parameters
    ----------
    classifier : classifier with ``predict_proba``, default=None
        None trains the built-in network (the parameters below) for every step. Any
        scikit-learn classifier that takes ``sample_weight`` (``HistGradientBoostingClassifier``
        for BDT OmniFold, a ``Pipeline``) is cloned, seeded and trained instead.
    n_iterations : int, default=4
        OmniFold iterations :math:`N` (the paper's examples converge in about 4).
    hidden_layer_sizes : tuple of int, default=(50, 50, 50)
    activation : str, default="silu"
    learning_rate : float, default=1e-3
    batch_size : int, default=1024
    max_epochs : int, default=100
    early_stopping : bool, default=True
    validation_fraction : float, default=0.2
    n_iter_no_change : int, default=10
    weight_decay : float, default=0.0
        The built-in network, as in :class:`~skhep_reweight.DCTRReweighter`.
    warm_start : bool, default=False
        Start each step's network from the parameters of the same step's network of the
        previous iteration (built-in network only; with a ``classifier`` it raises). The
        default trains each network afresh: both steps here learn the update of the current
        weights, a ratio that approaches one as the iterations converge, and a fresh network
        starts near a log-ratio of zero, closer to that answer than the previous iteration's
        larger ratio is; each iteration's result then also depends on its own seed only.
    inefficiency : {"keep", "ibu"}, default="keep"
        What step 2 learns from the events that fail the detector-level selection. ``"keep"``
        (the public OmniFold code): they enter step 2 with their unchanged weight
        :math:`\omega_{n,k} = \nu_{n-1,k}`, so the update of a truth region is diluted by its
        inefficiency, :math:`t_i (\sum_j R_{ji} d_j / m_j + 1 - \epsilon_i)` in the binned
        limit. ``"ibu"``: step 2 trains on the events that pass both selections only, and its
        ratio, a function of the generator-level features, is applied to every event, the
        lost ones included: the update is IBU's, :math:`t_i \sum_j R_{ji} d_j / (m_j
        \epsilon_i)`. Both have the same fixed point; ``"ibu"`` gets there in as few
        iterations as IBU (a Gaussian truth of mean 0.505 with a 0.3-0.95 efficiency and 10 %
        fakes: 0.486 after 4 iterations, against 0.358 with ``"keep"``, which needs about 30),
        but extrapolates step 2's classifier into truth regions that are never
        reconstructed.
    n_ensemble : int, default=1
        Independent OmniFold runs, each with its own seeds (and, with ``bootstrap``, its own
        resampling of the data). Their weights are combined as the geometric mean (the mean
        log-weight), their spread is returned by ``predict_weights(..., return_std=True)``.
    bootstrap : bool, default=False
        Multiply the data weights of every run by Poisson(1) counts: the spread over the
        ``n_ensemble`` runs is then the statistical uncertainty from the data's size.
    proba_clip : float, default=1e-6
        Each classifier's probability is clipped to ``[proba_clip, 1 - proba_clip]``.
    device : {"auto", "cpu", "cuda", "cuda:N"}, default="auto"
    random_state : int, RandomState instance or None, default=None
        Seeds every run, step and resampling; two fits with the same int on the CPU agree.
    verbose : int, default=0
        1 shows a progress bar per network.
    n_jobs : int, default=None
        joblib workers over the ensemble runs (None: one, unless inside a
        ``joblib.parallel_backend`` context such as ``parallel_backend("dask")``, which then
        decides).

    Attributes
    ----------
    weights_ : ndarray of shape (n_iterations, 2, n_sim)
        ``weights_[n - 1, 0]`` is :math:`\omega_n` (step 1, pulled to every simulated event),
        ``weights_[n - 1, 1]`` is :math:`\nu_n` (step 2, pushed to every event); factors on top
        of ``sim_weight``, which they do not include. With ``n_ensemble > 1``, the geometric
        mean over the runs.
    unfolded_weights_ : ndarray of shape (n_sim,)
        ``weights_[-1, 1]``: the unfolded generator-level weights, without ``sim_weight``.
    ensemble_weights_ : ndarray of shape (n_ensemble, n_iterations, 2, n_sim)
        Every run's weights.
    step1_models_, step2_models_ : list of n_ensemble lists of n_iterations models
        The fitted networks or classifiers of each run and iteration.
    prior_ratios_ : ndarray of shape (n_ensemble, n_iterations, 2)
        The prior factor of each classifier (1 unless a classifier takes no weights).
    ess_fraction_, top_share_ : ndarray of shape (n_ensemble, n_iterations, 2)
        :func:`weight_health` of ``sim_weight`` times each step's weights.
    n_epochs_ : ndarray of shape (n_ensemble, n_iterations, 2)
        Epochs each built-in network trained (zeros with a ``classifier``).
    n_features_in_ : int
        Detector-level features (of X and X_sim).
    feature_names_in_ : ndarray of str
        When X is a DataFrame with string column names.
    n_gen_features_in_ : int
        Generator-level features (of X_gen).
    gen_feature_names_in_ : ndarray of str
        When X_gen is a DataFrame with string column names.

    Notes
    -----
    *The binned limit.* With a classifier that learns per-bin ratios exactly, no inefficiency
    and no fakes, step 1 gives :math:`r_{1,j} = (d_j / D) / (m_j / M)` with :math:`d_j` the data
    in reco bin :math:`j` and :math:`m_j = \sum_i R_{ji} t_i` the weighted simulation, and step 2
    averages it over the events of each truth bin: :math:`t^{(n)}_i = t^{(n-1)}_i \sum_j R_{ji}
    r_{1,j}`, D'Agostini's iteration
    (:func:`~skhep_reweight.unfold.iterative_bayesian_unfolding`) up to the overall
    normalization. With an efficiency :math:`\epsilon_i < 1` the update here is
    :math:`t_i \big(\sum_j R_{ji} r_{1,j} + 1 - \epsilon_i\big)` instead of
    :math:`t_i \sum_j R_{ji} r_{1,j} / \epsilon_i`: the same fixed point, reached along another
    path.

    *Weights.* ``sim_weight`` enters every step (step 1's simulation, both classes of step 2);
    ``sample_weight`` weights the data and may be negative, but its total must be positive.
    ``fit`` takes three samples (data, simulation at two levels), so scikit-learn's common
    checks, written for ``fit(X, y)``, do not apply; cloning, pickling and parameter validation
    behave as for any estimator.

    References
    ----------
    .. [1] A. Andreassen, P. T. Komiske, E. M. Metodiev, B. Nachman, J. Thaler, "OmniFold: A
           method to simultaneously unfold all observables", Phys. Rev. Lett. 124, 182001
           (2020), arXiv:1911.09107.
    .. [2] G. D'Agostini, "A multidimensional unfolding method based on Bayes' theorem",
           Nucl. Instrum. Meth. A 362, 487 (1995).
    """

    _parameter_constraints: dict = {
        **NETWORK_PARAMETER_CONSTRAINTS,
        "classifier": [None, HasMethods(["fit", "predict_proba"])],
        "n_iterations": [Interval(Integral, 1, None, closed="left")],
        "warm_start": ["boolean"],
        "inefficiency": [StrOptions({"keep", "ibu"})],
        "n_ensemble": [Interval(Integral, 1, None, closed="left")],
        "bootstrap": ["boolean"],
        "proba_clip": [Interval(Real, 0, 0.5, closed="neither")],
        "n_jobs": [None, Integral],
    }

    def __init__(
        self,
        classifier: Any = None,
        *,
        n_iterations: int = 4,
        hidden_layer_sizes: int | tuple[int, ...] = (50, 50, 50),
        activation: str = "silu",
        learning_rate: float = 1e-3,
        batch_size: int = 1024,
        max_epochs: int = 100,
        early_stopping: bool = True,
        validation_fraction: float = 0.2,
        n_iter_no_change: int = 10,
        weight_decay: float = 0.0,
        warm_start: bool = False,
        inefficiency: str = "keep",
        n_ensemble: int = 1,
        bootstrap: bool = False,
        proba_clip: float = DEFAULT_PROBA_CLIP,
        device: str = "auto",
        random_state: int | np.random.RandomState | None = None,
        verbose: int = 0,
        n_jobs: int | None = None,
    ) -> None:
        self._set_params_from_init(locals())

    # ------------------------------------------------------------------ fitting
    @fit_method
    def fit(
        self,
        X: ArrayLike,
        X_sim: ArrayLike | None = None,
        X_gen: ArrayLike | None = None,
        *,
        sample_weight: ArrayLike | None = None,
        sim_weight: ArrayLike | None = None,
        pass_reco: ArrayLike | None = None,
        pass_gen: ArrayLike | None = None,
    ) -> OmniFold:
        """Unfold the data X with the simulation (X_sim, X_gen).

        Parameters
        ----------
        X : array-like of shape (n_data, n_features)
            The data at detector level.
        X_sim : array-like of shape (n_sim, n_features)
            The simulation at detector level; rows with ``pass_reco`` False are placeholders.
        X_gen : array-like of shape (n_sim, n_gen_features)
            The same events at generator level, row by row; rows with ``pass_gen`` False
            (fakes) are placeholders.
        sample_weight : array-like of shape (n_data,), default=None
            Data weights, negative ones allowed (a background sample with negated weights
            subtracts it); their total must be positive.
        sim_weight : array-like of shape (n_sim,), default=None
            The simulation's generator weights; they enter every step.
        pass_reco, pass_gen : boolean array-like of shape (n_sim,), default=None
            Whether each simulated event passes the detector-level / generator-level selection
            (None: all do).

        Returns
        -------
        self : OmniFold

        Warns
        -----
        UnfoldingWeightWarning
            When a step's weights have an effective sample size below 5 % of the events or
            their largest 1 % carry more than half the total.
        """
        if self.warm_start and self.classifier is not None:
            raise ValueError(
                "warm_start=True applies to the built-in network; a classifier is cloned and "
                "trained afresh in every step (use its own warm_start parameter, if it has one, "
                "outside OmniFold)"
            )
        X = self._validate_input(X, reset=True)
        problem = self._validate_simulation(X, X_sim, X_gen, pass_reco, pass_gen)
        problem["sample_weight"] = check_event_weights(sample_weight, X.shape[0])
        problem["sim_weight"] = check_event_weights(
            sim_weight, problem["X_sim"].shape[0], "sim_weight"
        )
        problem.update(
            X=np.asarray(X, dtype=np.float64),
            classifier=self.classifier,
            network=network_spec(self),
            n_iterations=self.n_iterations,
            proba_clip=self.proba_clip,
            bootstrap=self.bootstrap,
            warm_start=self.warm_start,
            inefficiency=self.inefficiency,
        )
        seeds = derive_seeds(self.random_state, self.n_ensemble)
        if self.n_ensemble > 1:  # through joblib, so that a parallel_backend("dask") spreads it
            runs = Parallel(n_jobs=self.n_jobs)(delayed(_run_member)(problem, s) for s in seeds)
        else:
            runs = [_run_member(problem, s) for s in seeds]
        self._collect(runs)
        return self

    def _validate_simulation(
        self, X: np.ndarray, X_sim: Any, X_gen: Any, pass_reco: Any, pass_gen: Any
    ) -> dict:
        sim = _as_features(X_sim, "X_sim", finite=False)
        gen = _as_features(X_gen, "X_gen", finite=False)
        if sim.shape[1] != X.shape[1]:
            raise ValueError(
                f"X_sim has {sim.shape[1]} features but X has {X.shape[1]}: both are the "
                "detector-level features"
            )
        names, sim_names = getattr(self, "feature_names_in_", None), _column_names(X_sim)
        if names is not None and sim_names is not None and list(names) != list(sim_names):
            raise ValueError(
                f"X_sim has columns {list(sim_names)} but X has {list(names)}: both are the "
                "detector-level features, in the same order"
            )
        if gen.shape[0] != sim.shape[0]:
            raise ValueError(
                f"X_gen has {gen.shape[0]} rows but X_sim has {sim.shape[0]}: they are the same "
                "simulated events at two levels, row by row"
            )
        reco = _check_mask(pass_reco, sim.shape[0], "pass_reco")
        truth = _check_mask(pass_gen, sim.shape[0], "pass_gen")
        _check_used_rows(sim, reco, "X_sim", "pass_reco")
        _check_used_rows(gen, truth, "X_gen", "pass_gen")
        self.n_gen_features_in_ = gen.shape[1]
        gen_names = _column_names(X_gen)
        if gen_names is not None:
            self.gen_feature_names_in_ = gen_names
        return {"X_sim": sim, "X_gen": gen, "pass_reco": reco, "pass_gen": truth}

    def _collect(self, runs: list[dict]) -> None:
        self.ensemble_weights_ = np.stack([r["weights"] for r in runs])
        if len(runs) == 1:
            self.weights_ = self.ensemble_weights_[0].copy()
        else:
            self.weights_ = np.exp(np.log(self.ensemble_weights_).mean(axis=0))
        self.unfolded_weights_ = self.weights_[-1, 1].copy()
        self.step1_models_ = [r["step1"] for r in runs]
        self.step2_models_ = [r["step2"] for r in runs]
        self.prior_ratios_ = np.stack([r["priors"] for r in runs])
        health = np.stack([r["health"] for r in runs])
        self.ess_fraction_, self.top_share_ = health[..., 0], health[..., 1]
        self.n_epochs_ = np.stack([r["epochs"] for r in runs])
        for member, iteration, step in zip(
            *np.nonzero(
                (self.ess_fraction_ < MIN_ESS_FRACTION) | (self.top_share_ > MAX_TOP_SHARE)
            ),
            strict=True,
        ):
            run = f" (ensemble run {member})" if len(runs) > 1 else ""
            warnings.warn(
                f"OmniFold iteration {iteration + 1}, {_STEP_NAMES[step + 1]}{run}: the weights "
                f"have an effective sample size of "
                f"{self.ess_fraction_[member, iteration, step]:.3g} of the events and their "
                f"largest 1% carry {self.top_share_[member, iteration, step]:.3g} of the total "
                f"(warned below {MIN_ESS_FRACTION} or above {MAX_TOP_SHARE}); the unfolded "
                "result rests on few events. The weights are kept as they are",
                UnfoldingWeightWarning,
                stacklevel=caller_stacklevel(),
            )

    # ------------------------------------------------------------------ prediction
    def _log_weights(self, X_gen: ArrayLike) -> np.ndarray:
        """log nu_N on validated generator-level events, shape (n_ensemble, n_samples)."""
        check_is_fitted(self)
        if np.ndim(X_gen) == 1:
            raise ValueError(
                f"X_gen must be 2-D of shape (n_samples, {self.n_gen_features_in_}), got a 1-D "
                "array; reshape a single feature with x.reshape(-1, 1)"
            )
        names = getattr(self, "gen_feature_names_in_", None)
        given = _column_names(X_gen)
        if names is not None and given is not None and list(names) != list(given):
            raise ValueError(f"X_gen has columns {list(given)}, but fit saw {list(names)}")
        features = check_array(X_gen, dtype=FLOAT_DTYPES, input_name="X_gen").astype(
            np.float64, copy=False
        )
        if features.shape[1] != self.n_gen_features_in_:
            raise ValueError(
                f"X_gen has {features.shape[1]} features, but OmniFold was fitted with "
                f"{self.n_gen_features_in_} generator-level features"
            )
        clip = self.proba_clip
        return np.stack(
            [
                np.sum(
                    [
                        _log_ratio(model, features, self.prior_ratios_[m, it, 1], clip)
                        for it, model in enumerate(models)
                    ],
                    axis=0,
                )
                for m, models in enumerate(self.step2_models_)
            ]
        )

    def predict_weights(
        self, X_gen: ArrayLike, return_std: bool = False
    ) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        r"""The unfolded weight :math:`\nu_N(z) = \prod_n r_2^{(n)}(z)` of generator-level events.

        A factor: multiply it by the events' own generator weights. On the simulation's events
        that pass ``pass_gen`` it equals ``unfolded_weights_``. Prediction writes nothing on
        the estimator.

        Parameters
        ----------
        X_gen : array-like of shape (n_samples, n_gen_features)
            Generator-level events (finite).
        return_std : bool, default=False
            Also return the spread of the ensemble runs' weights (``ddof=1``); needs
            ``n_ensemble >= 2``.

        Returns
        -------
        weights : ndarray of shape (n_samples,)
            The geometric mean over the ensemble runs.
        std : ndarray of shape (n_samples,)
            Only with ``return_std=True``.
        """
        check_is_fitted(self)
        if return_std and len(self.step2_models_) < 2:
            raise ValueError("return_std=True needs n_ensemble >= 2 runs to have a spread")
        log_weights = self._log_weights(X_gen)
        weights = np.exp(log_weights.mean(axis=0))
        if not return_std:
            return weights
        return weights, np.exp(log_weights).std(axis=0, ddof=1)
