"""Mutual information by binning, on distributions with known entropy."""
import numpy as np
import pytest

from racecar.information import (bin_activations, entropy_bits, log_spaced_epochs,
                                 mutual_information)


def test_entropy_of_uniform_symbols_is_log2_of_their_count():
    rows = np.array([[i >> 2 & 1, i >> 1 & 1, i & 1] for i in range(8)] * 5)
    assert entropy_bits(rows) == pytest.approx(3.0)
    assert entropy_bits(np.zeros((10, 4))) == 0.0
    assert entropy_bits(np.array([0, 0, 0, 1])) == pytest.approx(0.8112781244591328)


def test_binning_snaps_to_the_left_edge_of_thirty_bins_on_minus_one_one():
    codes = bin_activations(np.array([[-1.0, -0.999, 0.0, 0.999, 1.0, 5.0, -5.0]]))
    edges = np.linspace(-1, 1, 30)
    assert codes.tolist() == [[0, 0, 14, 28, 29, 29, 0]]
    assert edges[14] <= 0.0 < edges[15]


def test_mi_of_a_layer_that_copies_the_label_is_one_bit_both_ways():
    y = np.repeat([0, 1], 512)
    t = np.where(y[:, None] == 1, 0.9, -0.9) * np.ones((1, 3))
    ixt, ity = mutual_information(t, y)
    assert ixt == pytest.approx(1.0) and ity == pytest.approx(1.0)


def test_mi_of_an_injective_layer_is_log2_n_and_of_a_constant_layer_zero():
    x = np.array([[i >> k & 1 for k in range(12)] for i in range(4096)], dtype=float)
    y = np.random.default_rng(0).integers(0, 2, 4096)
    ixt, ity = mutual_information(x * 2 - 1, y)
    assert ixt == pytest.approx(12.0)
    assert ity == pytest.approx(1.0, abs=0.01)   # a lookup table determines y: H(Y) ~ 1 bit
    assert mutual_information(np.zeros((4096, 3)), y) == (0.0, 0.0)


def test_log_spaced_epochs_start_at_zero_end_at_the_last_and_are_dense_early():
    epochs = log_spaced_epochs(2000, 30)
    assert epochs[0] == 0 and epochs[-1] == 2000
    assert len(epochs) <= 31 and epochs[1:4] == [1, 2, 3]
