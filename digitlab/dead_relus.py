"""Dead ReLUs: hidden units that output 0 for every example, so they pass no gradient back
and can never learn again. Pure numpy, so training and reports need no plotting library.
"""

from __future__ import annotations

import numpy as np

from digitlab.layers import ReLU
from digitlab.network import Network


def dead_units(active: np.ndarray) -> np.ndarray:
    """active: (N, units) bool, True where a ReLU's input was positive for an example.

    Returns (units,) bool: True for a unit that was inactive (output 0) for all N examples.
    """
    return ~np.asarray(active, dtype=bool).any(axis=0)


def dead_relu_fractions(network: Network) -> list[float]:
    """For each ReLU layer of network (input side first), the fraction of its units that
    output 0 for every example of the network's last forward pass.

    Call it right after network.forward(images) on the images to judge, such as the whole
    validation part. Returns [] for a network without ReLUs (a sigmoid network).
    """
    relus = [layer for layer in network.layers if isinstance(layer, ReLU)]
    if relus and not hasattr(relus[0], "active"):
        raise ValueError("dead_relu_fractions reads the last forward pass, and this network "
                         "has none yet: call network.forward(images) first.")
    return [float(dead_units(relu.active).mean()) for relu in relus]
