"""The child half of the hidden check: runs the student's Linear on the cases it is given.

    python -I -m digitlab.course.checks.run_backward NOTEBOOK CASES.npz RESULTS.npz

This is the only process that runs the student's code. It writes back nothing but arrays
(read with allow_pickle=False), and the parent, backward_check, judges them against its own
numerical gradients. So whatever the student's code does here, to numpy, digitlab or this
module, can change only the arrays it reports, never the verdict.
"""

from __future__ import annotations

import sys

import numpy as np

from digitlab.gradcheck import explain_backward_error, not_implemented_message
from digitlab.student import StudentCodeError, student_linear_class

RECORDED = ("returned", "grad_weights", "grad_bias", "weights", "bias")


def run_case(linear: type, case: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Forward then backward twice on one case; the arrays the parent needs, by name.

    Keys: first_<name> and second_<name> for each name in RECORDED (omitted when None),
    where weights and bias are the parameters as backward left them; or "error".
    """
    weights, bias, x, upstream = (case[name] for name in ("weights", "bias", "x", "upstream"))
    layer = linear(*weights.shape, np.random.default_rng(0))
    record = {}
    for call in ("first", "second"):
        layer.weights, layer.bias = weights.copy(), bias.copy()
        try:
            layer.forward(x.copy())
            returned = layer.backward(upstream.copy())
        # The gradient checker's own words, so a hidden check names the same mistake as
        # the notebook's public tests do (the line that raised, the usual cause behind it).
        except NotImplementedError as error:  # the released stub
            return {"error": np.array(not_implemented_message(error))}
        except Exception as error:  # the student's bug, reported by the parent
            return {"error": np.array(explain_backward_error(error, layer))}
        values = {"returned": returned, **{name: getattr(layer, name, None)
                                           for name in RECORDED[1:]}}
        # Copies: a backward that adds to self.grad_weights in place would change the first run's.
        record.update({f"{call}_{name}": np.array(value, dtype=np.float64)
                       for name, value in values.items() if value is not None})
    return record


def main(argv: list[str]) -> int:
    notebook, cases_path, results_path = argv
    with np.load(cases_path) as stored:
        arrays = dict(stored)
    count = len({key.split("/")[0] for key in arrays})
    cases = [{name: arrays[f"{k}/{name}"] for name in ("weights", "bias", "x", "upstream")}
             for k in range(count)]
    try:
        linear = student_linear_class(notebook)
        results = {}
        for k, case in enumerate(cases):
            results.update({f"{k}/{name}": value for name, value in run_case(linear, case).items()})
    except StudentCodeError as error:
        print(error)
        return 1
    except Exception as error:  # e.g. a constructor the student changed
        print(f"Your Linear could not be used: {type(error).__name__}: {error}")
        return 1
    np.savez(results_path, **results)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
