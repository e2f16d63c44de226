import csv
from pathlib import Path

import numpy as np
import pytest
from reference import ReferenceLinear

from digitlab import TrainingSettings, load_digits, train
from digitlab.data import load_bundled_pixels, stratified_split

KEY = Path(__file__).resolve().parents[1] / "keys" / "digit-lab.csv"


def test_default_split_sizes_dtype_and_range():
    data = load_digits()
    assert data.train.images.shape == (3000, 784) and data.train.labels.shape == (3000,)
    assert data.validation.images.shape == (1000, 784)
    assert data.test_images.shape == (1000, 784)
    for images in (data.train.images, data.validation.images, data.test_images):
        assert images.dtype == np.float32 and images.min() == 0 and images.max() == 1
    assert data.train.labels.dtype == np.int64
    assert load_digits(dtype=np.float64).train.images.dtype == np.float64


def test_split_is_stratified_and_shuffled():
    data = load_digits(seed=3)
    assert np.all(np.bincount(data.train.labels, minlength=10) == 300)
    assert np.all(np.bincount(data.validation.labels, minlength=10) == 100)
    # The file is sorted by label; a split that kept that order would start with 0s only.
    assert len(set(data.train.labels[:30].tolist())) > 5


def test_split_is_deterministic_per_seed_and_disjoint():
    first, again, other = load_digits(seed=1), load_digits(seed=1), load_digits(seed=2)
    np.testing.assert_array_equal(first.train.images, again.train.images)
    assert not np.array_equal(first.train.labels, other.train.labels)
    train_rows = {row.tobytes() for row in first.train.images}
    assert not any(row.tobytes() in train_rows for row in first.validation.images)


def test_bad_requests_are_refused_with_the_reason():
    with pytest.raises(ValueError, match="float32 or float64"):
        load_digits(dtype=np.int32)
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        load_digits(validation_fraction=1.0)


def test_stratified_split_keeps_every_row_once_and_every_class_in_proportion():
    labels = np.random.default_rng(0).integers(0, 10, size=997)
    parts = stratified_split(labels, [0.6, 0.2, 0.2], seed=5)
    assert sorted(np.concatenate(parts).tolist()) == list(range(997))
    for digit in range(10):
        share = [np.count_nonzero(labels[part] == digit) for part in parts]
        assert abs(share[0] - 0.6 * sum(share)) <= 1


def test_the_package_holds_no_labels_for_the_competition_images():
    images, labels, test_images = load_bundled_pixels()
    assert (images.shape, labels.shape, test_images.shape) == ((4000, 784), (4000,), (1000, 784))
    assert np.all(np.bincount(labels) == 400)


def test_the_instructor_key_labels_the_competition_images():
    with KEY.open() as file:
        rows = list(csv.reader(file))
    assert rows[0] == ["ImageId", "Label"]
    ids, key = zip(*[(int(image_id), int(label)) for image_id, label in rows[1:]], strict=True)
    assert list(ids) == list(range(1, 1001))
    assert np.all(np.bincount(key) == 100)
    # The key belongs to these images: a model trained on the rest agrees with it.
    data = load_digits()
    network, _ = train(TrainingSettings(max_epochs=10), data, linear=ReferenceLinear)
    assert np.mean(network.predict(data.test_images) == np.array(key)) > 0.8
