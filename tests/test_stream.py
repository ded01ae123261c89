import warnings

import numpy as np

from secml_detect import ByteFrequencyModel
from secml_detect.exceptions import BadInputWarning
from secml_detect.stream import iter_scores


def test_stream_scores_equal_batch_and_shift_bad_indices():
    model = ByteFrequencyModel().fit([f"id={i}&x=y" for i in range(200)])
    items = [f"id={i}" for i in range(25)]
    items[13] = None
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        streamed = np.concatenate(list(iter_scores(model, iter(items), chunk_size=10)))
        batch = model.threat_score(items)
    np.testing.assert_array_equal(streamed, batch)
    shifted = [w.message.indices for w in rec if isinstance(w.message, BadInputWarning) and "chunk" in str(w.message)]
    assert shifted == [(13,)]


def test_empty_stream():
    model = ByteFrequencyModel().fit(["a", "b"])
    assert list(iter_scores(model, iter([]))) == []
