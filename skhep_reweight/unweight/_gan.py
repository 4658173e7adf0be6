r"""Unweighted events from a generative network trained on weighted ones."""

from __future__ import annotations

from collections.abc import Sequence
from numbers import Integral, Real

import numpy as np
import torch
from numpy.typing import ArrayLike
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from .._base import EstimatorMixin, fit_method
from .._nn.gan import WeightedGAN, weighted_mmd
from .._nn.modules import ACTIVATIONS, standardization_stats
from .._nn.net import PREDICT_BATCH_SIZE, predict_network, train_alternating
from .._nn.params import (
    LAYER_SIZES,
    NETWORK_PARAMETER_CONSTRAINTS,
    check_hidden_layer_sizes,
    network_options,
)
from .._nn.seeding import derive_seeds
from .._validation import check_non_negative_weights, resolve_columns

__all__ = ["WeightedGANUnweighter"]

# score() compares at most this many events with as many generated ones (the MMD costs n^2).
_SCORE_EVENTS = 2048
_SCORE_SEED = 104_729

_NEGATIVE_WEIGHTS = (
    "the generator emits events of unit, positive weight and can only represent a non-negative "
    "density, and in the weighted discriminator loss -w log D(x) a negative-weight event is "
    "unbounded below (the discriminator gains without limit by isolating it); remove the "
    "negative weights first (for example by merging each into nearby positive events)"
)


class WeightedGANUnweighter(EstimatorMixin, BaseEstimator):
    r"""A generative network trained on weighted events that emits unweighted ones (uwGAN).

    Hit-or-miss unweighting keeps a fraction :math:`\langle w\rangle/w_\text{max}` of the
    events (eq. 4 of [1]_, :func:`~skhep_reweight.unweight.hit_or_miss`). This estimator trains
    a generator on *all* of them instead and then samples as many unweighted events as wanted.

    A generator G maps latent noise :math:`z \sim \mathcal{N}(0, 1)^{d_z}` to events; a
    discriminator D tells generated events from the weighted training events. The losses are
    eq. (8) of [1]_, with the weights of each batch normalized to their sum,

    .. math::

        L_D = \frac{\langle -w(x) \log D(x)\rangle_{x \sim Q_T}}{\langle w(x)\rangle_{x \sim Q_T}}
              + \langle -\log(1 - D(x))\rangle_{x \sim P_G}, \qquad
        L_G = \langle -\log D(x)\rangle_{x \sim P_G},

    so that the weighted events stand for the true density :math:`P_T = w\,Q_T` and with unit
    weights the method is a plain GAN. The discriminator takes ``n_critic`` steps per generator
    step; its layers can be spectrally normalized (``spectral_norm=True``, the regularizer of
    [1]_, Miyato et al.). With ``mmd_weight`` :math:`\lambda > 0` the generator loss gains the
    weighted maximum mean discrepancy of eq. (19),
    :math:`L_G \to L_G + \lambda\,\text{MMD}_w` (eq. 20), which helps on sharp features such
    as a resonance peak. Both players use AdamW with betas
    (0.5, 0.9); their learning rates fall to zero along a half cosine over ``max_epochs``.

    Parameters
    ----------
    latent_dim : int, default=None
        Dimension of the latent noise; None gives ``max(2, n_features)``.
    hidden_layer_sizes : tuple of int, default=(64, 64, 64)
        Generator layers.
    discriminator_layer_sizes : tuple of int, default=None
        Discriminator layers; None gives ``hidden_layer_sizes``.
    activation : str, default="silu"
        Generator activation. The paper uses ReLU; a ReLU generator is piecewise linear, so
        the density it emits has a jump at every kink, which a smooth activation avoids. On
        the camel back (2x10^5 events, batch 2048, 180 epochs) SiLU left 83% of the truth
        corrections within 3% against 76% with ReLU (one seed each; such shares move by 0.1
        to 0.35 from seed to seed).
    discriminator_activation : str, default="leaky_relu"
        A smooth one (SiLU) made the training oscillate on the camel back (20% within 3%).
    spectral_norm : bool, default=False
        Spectrally normalize the discriminator's layers (each layer's largest singular value
        set to one, so the discriminator is 1-Lipschitz in standardized units). Off by default:
        on the camel back (2x10^4 events, 150 epochs) it left the valley between the peaks 24%
        overfilled and the share below x = 1 at 0.327 (exact 0.309), against 8% and 0.309
        without; a Lipschitz-1 discriminator cannot resolve structure narrower than the
        spread of the data. Turn it on when the training oscillates or diverges.
    n_critic : int, default=5
        Discriminator updates per generator update (the paper uses 10 on the camel back, 2 on
        Drell-Yan).
    mmd_weight : float, default=0.0
        :math:`\lambda_\text{wMMD}` of eq. (20); 0 switches the term off. It also steadies
        smooth densities (camel back, 2x10^5 events, batch 512, 60 epochs: 86% of the truth
        corrections within 3% with 1.0 against 73% without), at about 3.5 times the training
        time with batch 512 (the kernel matrices grow with the square of the batch).
    mmd_kernel_widths : tuple of float, default=(0.02, 0.1, 0.5)
        Widths of the Gaussian kernels of the MMD, in units of each feature's weighted standard
        deviation (a sharp peak wants a width of its own size).
    mmd_columns : int, str or array-like of int, str or bool, default=None
        Features the MMD compares (all when None), for example the one with the resonance:
        column indices (negative ones count from the end), column names of a DataFrame X, or a
        boolean mask over the columns. A column named twice raises a ValueError.
    learning_rate : float, default=1e-3
    batch_size : int, default=2048
        Training events per batch; the generator makes as many per step. Large batches lower
        the noise of the discriminator's verdict, which sets where the generator settles
        while the learning rate decays: on the camel back (2x10^5 events) batch 2048 for 180
        epochs (170 s) left 83% and 74% (seeds 0, 1) of the truth corrections within 3%,
        against 73% and 63% for batch 512 and 60 epochs (80 s) and 64% for batch 512 and 120
        epochs (160 s, seed 0).
    max_epochs : int, default=200
        Epochs; the learning rates follow a half cosine over them, so more epochs also mean a
        slower decay.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the events and stop when the weighted MMD between
        them and as many generated events has not improved for ``n_iter_no_change`` epochs,
        keeping the best epoch. The adversarial losses say nothing about the quality of the
        generator, so the MMD is the monitor; off by default, as the cosine schedule ends the
        training.
    validation_fraction : float, default=0.1
    n_iter_no_change : int, default=20
    weight_decay : float, default=0.0
        Decoupled weight decay of both players.
    device : {"auto", "cpu", "cuda", "cuda:N"}, default="auto"
        Where the networks train and generate; "auto" takes the GPU when there is one.
    random_state : int, RandomState instance or None, default=None
        Seeds the initialization, the split, the batches and the training noise.
    verbose : int, default=0
        0 is silent, 1 shows a progress bar over epochs, 2 adds the per-epoch table.

    Attributes
    ----------
    net_ : AlternatingNet
        The fitted net; ``net_.module_`` is the :class:`~skhep_reweight._nn.gan.WeightedGAN`.
    latent_dim_ : int
    n_iter_ : int
        Epochs trained.
    loss_curve_ : ndarray of shape (n_epochs,)
        The generator loss :math:`L_G` of the last generator step of every epoch.
    validation_loss_curve_ : ndarray of shape (n_epochs,) or None
        With ``early_stopping``, the weighted MMD between the held-out events and generated
        ones after every epoch (the quantity early stopping monitors); None without.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        When X is a DataFrame with string column names.

    Notes
    -----
    *Weights.* Only the relative weights matter (they are normalized per batch). Zero-weight
    events are dropped. Negative weights raise a ValueError: a generator of unit-weight events
    represents a non-negative density only, and the term :math:`-w \log D` of a negative-weight
    event has no lower bound. Remove them before training (merge each into positive events
    nearby), or unweight with signed hit-or-miss.

    *Precision.* The generated density reproduces the truth where the training sample is
    dense; in the tails, where few weighted events (or little weight) inform the
    discriminator, it undershoots (section 2.2 of [1]_). Measure it with
    :func:`~skhep_reweight.metrics.truth_correction_weights` against a high-statistics truth.
    What limits it in the bulk is where the adversarial training settles, not the networks'
    capacity: on the camel back the share of truth corrections within 3% moved with the seed
    by 0.1 to 0.35 and rose with larger batches and longer training (10^6 events, the defaults
    with 150 epochs: 86%, the exact-sample floor 97%; the first defaults, batch 512 and a ReLU
    generator, 39% after 30 epochs and 57% after 100).

    *Small samples.* With the default batch of 2048 events a sample of 2x10^4 gives two
    generator steps per epoch; raise ``max_epochs`` or lower ``batch_size`` so that the
    generator takes a thousand steps or more.

    *Drell-Yan set-up of the paper.* The paper also feeds the event weight to the
    discriminator as a feature (eq. 18); that is not done here: the weights enter the loss only.

    References
    ----------
    .. [1] M. Backes, A. Butter, T. Plehn, R. Winterhalder, "How to GAN Event Unweighting",
           SciPost Phys. 10, 089 (2021), arXiv:2012.07873.

    Examples
    --------
    >>> import numpy as np
    >>> from skhep_reweight import WeightedGANUnweighter
    >>> from skhep_reweight.datasets import make_camel_back
    >>> data = make_camel_back(5000, encoding="uniform", random_state=0)
    >>> gan = WeightedGANUnweighter(max_epochs=5, random_state=0)
    >>> gan = gan.fit(data.X, sample_weight=data.sample_weight)
    >>> gan.sample(3, random_state=0).shape
    (3, 1)
    """

    _parameter_constraints: dict = {
        **NETWORK_PARAMETER_CONSTRAINTS,
        "latent_dim": [None, Interval(Integral, 1, None, closed="left")],
        "discriminator_layer_sizes": [None, LAYER_SIZES],
        "discriminator_activation": [StrOptions(set(ACTIVATIONS))],
        "spectral_norm": ["boolean"],
        "n_critic": [Interval(Integral, 1, None, closed="left")],
        "mmd_weight": [Interval(Real, 0, None, closed="left")],
        "mmd_kernel_widths": ["array-like"],
        "mmd_columns": [None, "array-like", Integral, str],
    }

    def __init__(
        self,
        *,
        latent_dim: int | None = None,
        hidden_layer_sizes: int | Sequence[int] = (64, 64, 64),
        discriminator_layer_sizes: int | Sequence[int] | None = None,
        activation: str = "silu",
        discriminator_activation: str = "leaky_relu",
        spectral_norm: bool = False,
        n_critic: int = 5,
        mmd_weight: float = 0.0,
        mmd_kernel_widths: Sequence[float] = (0.02, 0.1, 0.5),
        mmd_columns: int | str | ArrayLike | None = None,
        learning_rate: float = 1e-3,
        batch_size: int = 2048,
        max_epochs: int = 200,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        n_iter_no_change: int = 20,
        weight_decay: float = 0.0,
        device: str = "auto",
        random_state: int | np.random.RandomState | None = None,
        verbose: int = 0,
    ) -> None:
        self._set_params_from_init(locals())

    # ------------------------------------------------------------------ fitting
    @fit_method
    def fit(
        self, X: ArrayLike, y: object = None, sample_weight: ArrayLike | None = None
    ) -> WeightedGANUnweighter:
        """Train the generator on weighted events.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training events.
        y : None
            Ignored.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative event weights with a positive sum; unit weights when None.

        Returns
        -------
        self : WeightedGANUnweighter
        """
        X = self._validate_input(X, reset=True).astype(np.float64)
        weight = check_non_negative_weights(sample_weight, X.shape[0], _NEGATIVE_WEIGHTS)
        keep = weight > 0
        X, weight = X[keep], weight[keep] / weight[keep].mean()
        n_features = X.shape[1]
        widths = np.asarray(self.mmd_kernel_widths, dtype=np.float64).ravel()
        if widths.size == 0 or not np.all(widths > 0):
            raise ValueError(f"mmd_kernel_widths must be positive, got {self.mmd_kernel_widths!r}")
        columns = None
        if self.mmd_columns is not None:
            columns = resolve_columns(
                self.mmd_columns,
                n_features,
                getattr(self, "feature_names_in_", None),
                name="mmd_columns",
                keep_one=False,
            ).tolist()
        self.latent_dim_ = max(2, n_features) if self.latent_dim is None else int(self.latent_dim)
        generator_sizes = check_hidden_layer_sizes(self.hidden_layer_sizes)
        discriminator_sizes = (
            generator_sizes
            if self.discriminator_layer_sizes is None
            else check_hidden_layer_sizes(self.discriminator_layer_sizes)
        )
        loc, scale = standardization_stats(X, weight)
        (seed,) = derive_seeds(self.random_state, 1)
        self.net_ = train_alternating(
            WeightedGAN,
            {
                "n_features": n_features,
                "latent_dim": self.latent_dim_,
                "generator_layer_sizes": generator_sizes,
                "discriminator_layer_sizes": discriminator_sizes,
                "generator_activation": self.activation,
                "discriminator_activation": self.discriminator_activation,
                "loc": loc,
                "scale": scale,
                "spectral_norm": self.spectral_norm,
                "mmd_weight": self.mmd_weight,
                "mmd_kernel_widths": tuple(widths),
                "mmd_columns": columns,
            },
            X,
            np.zeros(X.shape[0], dtype=np.float32),
            weight,
            options=network_options(self),
            n_critic=self.n_critic,
            seed=seed,
            desc="uwGAN",
            stratify=False,
        )
        self._record_history(self.net_)
        return self

    # ----------------------------------------------------------------- sampling
    def sample(
        self, n_samples: int = 1, random_state: int | np.random.RandomState | None = None
    ) -> np.ndarray:
        """Generate unweighted events.

        Parameters
        ----------
        n_samples : int, default=1
        random_state : int, RandomState instance or None, default=None
            Seeds the latent noise (drawn with numpy, so a seed gives the same noise on any
            device; on the CPU the same events).

        Returns
        -------
        X : ndarray of shape (n_samples, n_features)
            Events in the units and column order of the training features, unit weight each.
        """
        check_is_fitted(self)
        if isinstance(n_samples, bool) or not isinstance(n_samples, Integral) or n_samples < 1:
            raise ValueError(f"n_samples must be a positive integer, got {n_samples!r}")
        rng = check_random_state(random_state)
        chunks = []
        for start in range(0, int(n_samples), PREDICT_BATCH_SIZE):
            m = min(PREDICT_BATCH_SIZE, int(n_samples) - start)
            z = rng.standard_normal((m, self.latent_dim_)).astype(np.float32)
            chunks.append(predict_network(self.net_, z))
        return np.concatenate(chunks)

    def score(
        self, X: ArrayLike, y: object = None, sample_weight: ArrayLike | None = None
    ) -> float:
        """Minus the weighted MMD (eq. 19) between events X and as many generated events.

        A distance for model selection (GridSearchCV, cross-validation): higher is better, 0
        for a perfect generator up to the statistical noise of at most 2048 events (a fixed
        random subset of X when it has more) with the kernels ``mmd_kernel_widths`` in the
        standardized units of the training data. Generated events come from a fixed seed, so
        the score of a fitted model on given events is deterministic.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : None
            Ignored.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights of X.

        Returns
        -------
        score : float
        """
        X = self._validate_fitted_input(X)
        weight = check_non_negative_weights(sample_weight, X.shape[0], _NEGATIVE_WEIGHTS)
        rng = np.random.RandomState(_SCORE_SEED)
        if X.shape[0] > _SCORE_EVENTS:
            rows = rng.choice(X.shape[0], _SCORE_EVENTS, replace=False)
            X, weight = X[rows], weight[rows]
        generated = self.sample(X.shape[0], random_state=rng)
        module = self.net_.module_
        loc = module.standardize.loc.cpu().numpy().astype(np.float64)
        scale = module.standardize.scale.cpu().numpy().astype(np.float64)
        with torch.no_grad():
            mmd = weighted_mmd(
                torch.as_tensor((X - loc) / scale),
                torch.as_tensor(weight),
                torch.as_tensor((generated - loc) / scale),
                module.mmd_kernel_widths.cpu().double(),
            )
        return -float(mmd)
