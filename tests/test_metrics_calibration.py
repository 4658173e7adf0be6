"""Tests of metrics.calibration_bias_resolution against hand-computed numbers and a direct loop."""

import numpy as np
import pytest

from skhep_reweight.metrics import calibration_bias_resolution

EDGES = np.array([0.0, 1.0, 2.0, 3.0])


def _direct(z, z_hat, edges, weight):
    """Bias and resolution bin by bin with np.average: the definition, written plainly."""
    bias, resolution = [], []
    for k in range(len(edges) - 1):
        last = k == len(edges) - 2
        upper = z <= edges[k + 1] if last else z < edges[k + 1]
        in_bin = (z >= edges[k]) & upper
        residual = z_hat[in_bin] - z[in_bin]
        mean = np.average(residual, weights=weight[in_bin])
        bias.append(mean)
        resolution.append(np.sqrt(np.average((residual - mean) ** 2, weights=weight[in_bin])))
    return np.array(bias), np.array(resolution)


def test_offset_and_spread_by_hand():
    # In each bin of z: z_hat = z + offset +- spread, half of the events each way, so that the
    # bias is the offset and the resolution the spread, exactly.
    offsets, spreads = np.array([0.5, -0.2, 0.0]), np.array([0.1, 0.3, 0.25])
    z = np.repeat([0.25, 1.5, 2.75], 4)
    sign = np.tile([1.0, -1.0, 1.0, -1.0], 3)
    z_hat = z + np.repeat(offsets, 4) + sign * np.repeat(spreads, 4)
    result = calibration_bias_resolution(z, z_hat, EDGES)
    np.testing.assert_allclose(result.bias, offsets, atol=1e-12)
    np.testing.assert_allclose(result.resolution, spreads, rtol=1e-12)
    np.testing.assert_array_equal(result.counts, [4, 4, 4])
    np.testing.assert_array_equal(result.edges, EDGES)
    np.testing.assert_allclose(result.centers, [0.5, 1.5, 2.5])


def test_weighted_numbers_by_hand_and_not_the_unweighted_std():
    # One bin, residuals 0 and 1 with weights 3 and 1: mean 1/4, variance
    # (3 (1/4)^2 + (3/4)^2) / 4 = 3/16. Unweighted the mean would be 1/2 and the std 1/2.
    z = np.array([0.5, 0.5])
    z_hat = np.array([0.5, 1.5])
    result = calibration_bias_resolution(z, z_hat, [0.0, 1.0], sample_weight=[3.0, 1.0])
    assert result.bias[0] == pytest.approx(0.25, rel=1e-12)
    assert result.resolution[0] == pytest.approx(np.sqrt(3.0) / 4.0, rel=1e-12)
    # An implementation that dropped the weights in either moment would give 0.5 here.
    assert abs(result.resolution[0] - 0.5) > 0.05
    assert abs(result.bias[0] - 0.5) > 0.05


def test_matches_direct_computation_with_weights():
    rng = np.random.RandomState(0)
    z = rng.uniform(0.0, 3.0, 5000)
    z_hat = 1.1 * z + rng.normal(0.0, 0.2 + 0.1 * z)
    weight = rng.exponential(size=z.size)
    result = calibration_bias_resolution(z, z_hat, EDGES, sample_weight=weight)
    bias, resolution = _direct(z, z_hat, EDGES, weight)
    np.testing.assert_allclose(result.bias, bias, rtol=1e-10)
    np.testing.assert_allclose(result.resolution, resolution, rtol=1e-10)
    # With these weights the unweighted std is a different number: the test can tell them apart.
    _, unweighted = _direct(z, z_hat, EDGES, np.ones_like(z))
    assert np.max(np.abs(resolution - unweighted)) > 1e-3


def test_unit_weights_equal_no_weights_and_scale_invariance():
    rng = np.random.RandomState(1)
    z = rng.normal(size=300)
    z_hat = z + rng.normal(size=300)
    weight = rng.uniform(0.5, 2.0, 300)
    plain = calibration_bias_resolution(z, z_hat, 6)
    ones = calibration_bias_resolution(z, z_hat, 6, sample_weight=np.ones(300))
    np.testing.assert_allclose(ones.bias, plain.bias, rtol=1e-12)
    np.testing.assert_allclose(ones.resolution, plain.resolution, rtol=1e-12)
    weighted = calibration_bias_resolution(z, z_hat, 6, sample_weight=weight)
    scaled = calibration_bias_resolution(z, z_hat, 6, sample_weight=7.5 * weight)
    np.testing.assert_allclose(scaled.bias, weighted.bias, rtol=1e-12)
    np.testing.assert_allclose(scaled.resolution, weighted.resolution, rtol=1e-12)


def test_integer_bins_span_z_and_the_last_edge_is_included():
    z = np.array([1.0, 2.0, 3.0, 5.0])
    result = calibration_bias_resolution(z, z + 1.0, bins=2)
    np.testing.assert_allclose(result.edges, [1.0, 3.0, 5.0])
    # z = 3 opens the second bin; z = 5, the largest value, belongs to the last bin.
    np.testing.assert_array_equal(result.counts, [2, 2])
    np.testing.assert_allclose(result.bias, [1.0, 1.0])


def test_empty_bins_and_events_outside_the_edges():
    z = np.array([-1.0, 0.5, 0.5, 2.5, 4.0])
    z_hat = np.array([100.0, 0.7, 0.9, 2.5, -100.0])
    result = calibration_bias_resolution(z, z_hat, EDGES)
    np.testing.assert_array_equal(result.counts, [2, 0, 1])
    np.testing.assert_allclose(result.bias[[0, 2]], [0.3, 0.0])
    np.testing.assert_allclose(result.resolution[[0, 2]], [0.1, 0.0], atol=1e-12)
    assert np.isnan(result.bias[1])
    assert np.isnan(result.resolution[1])


def test_bin_with_zero_total_weight_is_nan():
    z = np.array([0.5, 0.5, 1.5])
    result = calibration_bias_resolution(
        z, z + 0.1, [0.0, 1.0, 2.0], sample_weight=[1.0, -1.0, 2.0]
    )
    assert np.isnan(result.bias[0])
    assert np.isnan(result.resolution[0])
    assert result.bias[1] == pytest.approx(0.1)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"z_hat": np.zeros(4)}, "z_hat"),
        ({"z": np.array([0.5, np.nan, 1.0])}, "z"),
        ({"z_hat": np.array([0.5, np.inf, 1.0])}, "z_hat"),
        ({"z": np.zeros((3, 2))}, "z"),
        ({"bins": [0.0, 2.0, 1.0]}, "bins"),
        ({"bins": [0.0, 1.0, 1.0, 2.0]}, "bins"),
        ({"bins": [1.0]}, "bins"),
        ({"bins": 0}, "bins"),
        ({"bins": [0.0, np.nan, 2.0]}, "bins"),
        ({"sample_weight": np.ones(2)}, "sample_weight"),
        ({"sample_weight": np.array([1.0, np.nan, 1.0])}, "sample_weight"),
    ],
)
def test_bad_input_raises_naming_the_argument(kwargs, name):
    arguments = {"z": np.array([0.5, 1.5, 2.5]), "z_hat": np.array([0.5, 1.5, 2.5])}
    arguments["bins"] = EDGES
    arguments.update(kwargs)
    with pytest.raises(ValueError, match=name):
        calibration_bias_resolution(**arguments)


def test_integer_bins_need_a_spread_of_z():
    with pytest.raises(ValueError, match="bins"):
        calibration_bias_resolution(np.ones(3), np.ones(3), bins=4)
