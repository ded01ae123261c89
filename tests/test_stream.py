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


def test_threaded_scores_equal_batch_and_report_whole_batch_indices():
    from secml_detect import URLClassifier
    from secml_detect.stream import threaded_scores

    urls = [f"http://site{i}.example/page?id={i}" for i in range(300)] + ["http://login-verify.xyz/a"] * 30
    clf = URLClassifier(n_features=2**12, random_state=0).fit(urls, [0] * 300 + [1] * 30)
    batch = urls[:50] + [None] + urls[50:100]
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        got = threaded_scores(clf, batch, n_jobs=2, chunk_size=16)
        expected = clf.threat_score(batch)
    np.testing.assert_array_equal(got, expected)
    assert any(isinstance(w.message, BadInputWarning) and w.message.indices == (50,) for w in rec)
