"""Dead ReLUs: units that output 0 for every example of a forward pass."""

import numpy as np
import pytest

from digitlab import Linear
from digitlab.dead_relus import dead_relu_fractions, dead_units
from digitlab.network import build_network


def test_a_unit_is_dead_only_if_it_is_inactive_for_every_example():
    active = np.array([[True, False, False],
                       [False, False, True],
                       [False, False, True]])
    np.testing.assert_array_equal(dead_units(active), [False, True, False])


def test_fractions_count_the_units_silenced_per_relu_layer():
    network = build_network(3, 8, "relu", np.random.default_rng(0), linear=Linear)
    first, second = network.linear_layers[:2]
    first.bias[0, :2] = -1e6  # two of the first layer's eight units can never fire
    second.bias[0, :6] = -1e6  # and six of the second's
    images = np.random.default_rng(1).random((50, 784), dtype=np.float32)
    network.forward(images)
    assert dead_relu_fractions(network) == [2 / 8, 6 / 8]


def test_a_sigmoid_network_has_no_relu_to_die():
    network = build_network(3, 8, "sigmoid", np.random.default_rng(0), linear=Linear)
    network.forward(np.zeros((2, 784), dtype=np.float32))
    assert dead_relu_fractions(network) == []


def test_asking_before_any_forward_pass_says_what_to_do():
    network = build_network(2, 8, "relu", np.random.default_rng(0), linear=Linear)
    with pytest.raises(ValueError, match="call network.forward\\(images\\) first"):
        dead_relu_fractions(network)
