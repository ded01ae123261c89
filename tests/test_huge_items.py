"""Huge hostile items (100 MB payload, 64 KB URL, 1 M-token sequence) are scored within the documented bounds."""

from __future__ import annotations

import warnings

import numpy as np
import pytest


@pytest.fixture(scope="module")
def huge_payload():
    return b"A" * (100 * 2**20)


def test_100mb_payload(huge_payload):
    from secml_detect import ByteFrequencyModel, ProtocolAnomalyModel
    from secml_detect.datasets.http import http_requests_from_values

    payl = ByteFrequencyModel().fit([f"id={i}" for i in range(100)])
    assert payl.threat_score([huge_payload, b"id=1"]).shape == (2,)
    normal = [f"user{i}" for i in range(200)]
    proto = ProtocolAnomalyModel().fit(http_requests_from_values(normal, normal, seed=1))
    request = b"POST /shop/login HTTP/1.1\r\nHost: x\r\nContent-Length: 104857600\r\n\r\n" + huge_payload
    scores = proto.threat_score([request])
    assert scores.shape == (1,) and 0.0 <= scores[0] <= 1.0


def test_64kb_url_and_100mb_file(huge_payload, tmp_path):
    from secml_detect import FileTypeDetector, URLClassifier

    urls = [f"http://site{i}.example/p" for i in range(50)] + ["http://verify-login.xyz/a"] * 50
    clf = URLClassifier(n_features=2**12, random_state=0).fit(urls, [0] * 50 + [1] * 50)
    long_url = "http://x.example/?" + "a=" + "%41" * 21_000
    assert clf.threat_score([long_url]).shape == (1,)
    big = tmp_path / "big.bin"
    big.write_bytes(huge_payload)
    result = FileTypeDetector.pretrained().detect([str(big), huge_payload])
    assert len(result) == 2 and all(r.ok for r in result)


def test_million_call_sequence():
    from secml_detect import APICallSequenceModel

    rng = np.random.RandomState(0)
    normal = [list(rng.randint(0, 20, size=30)) for _ in range(100)]
    model = APICallSequenceModel(random_state=0).fit(normal)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert model.threat_score([list(rng.randint(0, 25, size=1_000_000)), []]).shape == (2,)
