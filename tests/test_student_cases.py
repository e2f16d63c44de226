"""Each student's hidden cases, drawn from a keyed hash of the student id: properties of the
draw over many ids, the key file, and the real checks judging the cases it draws."""

import stat

import numpy as np
import pytest
from notebook_factory import AVERAGED_BIAS, answer, reference_answer, write_notebook

from digitlab.course.checks import backward_check, summary_check
from digitlab.course.checks.student_cases import KEY_BYTES, load_key, student_rng, vary
from digitlab.student import NOTEBOOK_01

KEY = b"k" * KEY_BYTES
STUDENTS = [f"student{number:03d}" for number in range(200)]
# The arguments of notebook 01's hidden cells (a 1-wide layer, squares, a batch of 1).
BACKWARD = ["--quantity", "all", "--layers", "784x16,16x16,16x10,3x1",
            "--batch-sizes", "1,5,32", "--seed", "106"]
SUMMARY = ["--quantity", "mean-std", "--sizes", "2,7,40", "--seed", "404"]


def drawn(check, arguments, student, key=KEY):
    """The arguments the grader judges `student` on, for a cell that wrote `arguments`."""
    args = check.CHECK.parser().parse_args(arguments)
    check.CHECK.personalize(args, student_rng(key, student, check.__name__, arguments))
    return args


def cases(args):
    return (tuple(args.layers), tuple(args.batch_sizes), args.seed)


def test_the_same_student_gets_the_same_cases_on_every_regrade():
    for student in STUDENTS[:20]:
        assert cases(drawn(backward_check, BACKWARD, student)) == \
            cases(drawn(backward_check, BACKWARD, student))


def test_students_get_different_cases():
    """200 students: 200 different sets of cases, and none is the cell's own."""
    drawn_cases = {cases(drawn(backward_check, BACKWARD, student)) for student in STUDENTS}
    assert len(drawn_cases) == len(STUDENTS)
    assert cases(backward_check.CHECK.parser().parse_args(BACKWARD)) not in drawn_cases
    seeds = {drawn(summary_check, SUMMARY, student).seed for student in STUDENTS}
    assert len(seeds) == len(STUDENTS)


def test_another_key_or_another_call_draws_other_cases():
    student = STUDENTS[0]
    assert cases(drawn(backward_check, BACKWARD, student)) != \
        cases(drawn(backward_check, BACKWARD, student, key=b"x" * KEY_BYTES))
    other_call = [*BACKWARD[:-1], "107"]
    assert cases(drawn(backward_check, BACKWARD, student)) != \
        cases(drawn(backward_check, other_call, student))


def test_the_cases_keep_what_the_instructor_chose_them_for():
    """Over 200 students: a size of 1 and a batch of 1 stay, square layers stay square,
    non-square ones stay non-square, every size lies within half to one and a half of the
    cell's; lists of 2 accuracies stay 2."""
    written = backward_check.CHECK.parser().parse_args(BACKWARD)
    for student in STUDENTS:
        args = drawn(backward_check, BACKWARD, student)
        for (in_dim, out_dim), (new_in, new_out) in zip(written.layers, args.layers, strict=True):
            assert (in_dim == out_dim) == (new_in == new_out)
            for old, new in ((in_dim, new_in), (out_dim, new_out)):
                assert new == 1 if old == 1 else old // 2 <= new <= old + old // 2 + 1
        assert args.batch_sizes[0] == 1
        assert all(size // 2 <= new <= size + size // 2
                   for size, new in zip(written.batch_sizes[1:], args.batch_sizes[1:],
                                        strict=True))
        sizes = drawn(summary_check, SUMMARY, student).sizes
        assert sizes[0] == 2 and 3 <= sizes[1] <= 10 and 20 <= sizes[2] <= 60


def test_vary_keeps_small_values_and_stays_in_range():
    rng = np.random.default_rng(0)
    assert {vary(rng, 1, kept_up_to=1) for _ in range(50)} == {1}
    values = {vary(rng, 10, kept_up_to=1) for _ in range(500)}
    assert values == set(range(5, 16))


def test_the_key_is_created_private_once_and_never_overwritten(tmp_path):
    path = tmp_path / "keys" / "hidden-cases.key"
    key = load_key(path)
    assert len(key) == 2 * KEY_BYTES
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_key(path) == key


def test_a_short_key_is_refused_with_what_to_do(tmp_path):
    path = tmp_path / "hidden-cases.key"
    path.write_text("short\n")
    with pytest.raises(ValueError, match="delete it to draw a new one"):
        load_key(path)


@pytest.fixture(scope="module")
def submitted(tmp_path_factory):
    """Two submitted folders: the reference solution, and the seed's averaged bias."""
    folders = {}
    for name, source in (("right", reference_answer()), ("averaged", answer(AVERAGED_BIAS))):
        folders[name] = tmp_path_factory.mktemp(name)
        write_notebook(folders[name] / NOTEBOOK_01, source)
    return folders


@pytest.mark.parametrize("student", STUDENTS[:3])
def test_the_reference_passes_and_the_averaged_bias_fails_on_each_students_cases(
        submitted, student):
    """The grader's run on three students' own cases: the reference passes every one, the
    averaged bias fails the bias with the checker's diagnosis, and the cases it records
    are the drawn ones."""
    rng = student_rng(KEY, student, backward_check.__name__, BACKWARD)
    right = backward_check.outcome(BACKWARD, submitted["right"], rng=rng)
    assert right.passed, right.report
    bias = [*BACKWARD[:1], "bias", *BACKWARD[2:]]
    wrong = backward_check.outcome(
        bias, submitted["averaged"], rng=student_rng(KEY, student, backward_check.__name__, bias))
    assert not wrong.passed
    assert wrong.shown.startswith("grad_bias: grad_bias is 1/")
    assert "of the numerical gradient" in wrong.shown and "->" not in wrong.shown
    args = drawn(backward_check, BACKWARD, student)
    assert right.cases == tuple(f"{in_dim}->{out_dim}, batch {size}"
                                for in_dim, out_dim in args.layers for size in args.batch_sizes)
