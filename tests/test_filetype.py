"""FileTypeDetector: reading, the shipped model, bad input and the robustness suite.

Inputs are synthetic (secml_detect.filetype.samples) or made in tmp_path, so
these tests need neither ../shared nor the corpus.
"""

from __future__ import annotations

import io
import json
import os
import warnings

import numpy as np
import pytest

from secml_detect.exceptions import BadInputWarning, InvalidItemError, InvalidParameterError
from secml_detect.filetype import FileTypeDetector, FileTypeResult, read_windows
from secml_detect.filetype.detector import DEFAULT_TYPES_OF_INTEREST, MODEL_FILE
from secml_detect.filetype.samples import make_samples, robustness_cases
from secml_detect.persistence import get_untrusted_types

REQUIRED = {"elf", "pe", "shell", "python", "perl", "ruby", "php", "javascript", "powershell", "batch", "c",
            "cpp", "javabytecode", "pythonbytecode", "jpeg", "png", "gif", "svg", "pdf", "zip", "gzip", "xz",
            "bzip2", "tar", "deb", "html", "xml", "json", "yaml", "csv", "markdown", "troff", "txt"}


@pytest.fixture(scope="module")
def det():
    return FileTypeDetector.pretrained()


@pytest.fixture(scope="module")
def samples():
    return make_samples()


# ---------------------------------------------------------------- reading


def test_read_windows_bytes_bounds():
    data = bytes(range(256)) * 20  # 5120 bytes
    w = read_windows([data, b"abc", bytearray(b"xyz"), memoryview(b"12345")], head_size=100, tail_size=50)
    assert bytes(w.head.item(0)) == data[:100] and bytes(w.tail.item(0)) == data[-50:]
    assert bytes(w.head.item(1)) == b"abc" and bytes(w.tail.item(1)) == b""  # tail never overlaps head
    assert w.sizes.tolist() == [5120, 3, 3, 5]
    assert all(s.ok for s in w.status)


def test_read_windows_short_tail_does_not_overlap():
    w = read_windows([b"0123456789"], head_size=6, tail_size=8)
    assert bytes(w.head.item(0)) == b"012345" and bytes(w.tail.item(0)) == b"6789"


def test_read_windows_paths_and_file_objects(tmp_path):
    p = tmp_path / "f.bin"
    data = b"HEAD" + bytes(5000) + b"TAIL"
    p.write_bytes(data)
    with open(p, "rb") as fh:
        fh.seek(2)
        w = read_windows([str(p), p, fh, io.BytesIO(data)], head_size=4, tail_size=4)
        assert fh.tell() == 2  # position restored
    assert [bytes(w.head.item(i)) for i in (0, 1, 3)] == [b"HEAD"] * 3
    assert bytes(w.head.item(2)) == b"AD\0\0" and w.sizes[2] == len(data) - 2
    assert {bytes(w.tail.item(i)) for i in range(4)} == {b"TAIL"}


def test_read_windows_non_seekable_stream():
    class Stream:
        def __init__(self, data):
            self.buf = io.BytesIO(data)

        def read(self, n=-1):
            return self.buf.read(n)

    w = read_windows([Stream(b"abcdefghij")], head_size=3, tail_size=2)
    assert bytes(w.head.item(0)) == b"abc" and bytes(w.tail.item(0)) == b"ij" and w.status[0].ok


def test_bad_items_never_abort_a_batch(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    text_file = open(tmp_path / "t.txt", "w+")  # text mode: not binary
    closed = open(tmp_path / "t.txt", "rb")
    closed.close()
    items = [str(tmp_path), str(tmp_path / "missing"), str(fifo), "/dev/null", None, 3.5, text_file, closed,
             "bad\0path", b"fine"]
    try:
        w = read_windows(items)
    finally:
        text_file.close()
    errors = [s.error for s in w.status]
    assert errors[0] == "not a regular file (directory)"
    assert errors[1] == "no such file"
    assert errors[2] == "not a regular file (fifo)"
    assert errors[3] == "not a regular file (character device)"
    assert errors[4].startswith("unsupported item type") and errors[5].startswith("unsupported item type")
    assert "binary" in errors[6] and "cannot read" in errors[7] and "invalid path" in errors[8]
    assert w.ok.tolist() == [False] * 9 + [True]


def test_permission_error_is_a_status(monkeypatch):
    def deny(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(os, "open", deny)
    w = read_windows(["/etc/shadow"])
    assert w.status[0].error == "permission denied" and not w.status[0].ok


# ---------------------------------------------------------------- shipped model


def test_shipped_model_is_small_safe_and_documented(det):
    assert MODEL_FILE.stat().st_size < 5 * 2**20
    assert get_untrusted_types(MODEL_FILE) == []
    meta = FileTypeDetector.pretrained_metadata()
    assert meta["labels"] == det.classes_.tolist()
    assert len(det.classes_) >= 30 and REQUIRED <= set(det.classes_)
    assert {"description", "train_files", "split"} <= set(meta["corpus"])
    assert meta["model_version"]


@pytest.mark.parametrize("label", sorted(make_samples()))
def test_pretrained_recognises_synthetic_samples(det, samples, label):
    got = det.predict([samples[label]])[0]
    assert got in (label, "unknown"), f"{label} detected as {got}"


def test_pretrained_best_guess_on_samples(det, samples):
    labels = sorted(samples)
    guesses = [r.best_guess for r in det.detect([samples[k] for k in labels])]
    assert np.mean(np.array(guesses) == np.array(labels)) >= 0.9


def test_paths_and_bytes_agree(det, samples, tmp_path):
    paths = []
    for label, data in samples.items():
        p = tmp_path / f"sample_{label}"
        p.write_bytes(data)
        paths.append(p)
    by_path = det.predict_proba(paths)
    by_bytes = det.predict_proba(list(samples.values()))
    np.testing.assert_allclose(by_path, by_bytes)


def test_proba_rows_and_threat_score(det, samples):
    items = [samples["pythonbytecode"], samples["shell"], samples["png"], samples["txt"], b""]
    proba = det.predict_proba(items)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    threat = det.threat_score(items)
    assert threat[0] > 0.5 and threat[1] > 0.5  # executable content
    assert threat[2] < 0.5 and threat[3] < 0.5 and threat[4] == 0.0
    interest = np.isin(det.classes_, DEFAULT_TYPES_OF_INTEREST)
    np.testing.assert_allclose(threat[:4], proba[:4, interest].sum(axis=1))


def test_types_of_interest_are_configurable(det, samples):
    images = FileTypeDetector.pretrained(types_of_interest=("png", "jpeg", "gif"))
    t = images.threat_score([samples["png"], samples["shell"]])
    assert t[0] > 0.5 > t[1]
    proba = det.predict_proba([samples["png"]])
    np.testing.assert_allclose(t[0], proba[0, np.isin(det.classes_, ["png", "jpeg", "gif"])].sum())


def test_abstains_when_unsure(samples):
    strict = FileTypeDetector.pretrained(min_confidence=1.0)
    assert set(strict.predict([samples["txt"], samples["markdown"]])) == {"unknown"}
    det = FileTypeDetector.pretrained()
    assert det.predict([b"ab"])[0] == "unknown"  # shorter than min_length
    zeros = det.detect([bytes(4096), b"\xff" * 3000])  # one repeated byte: no evidence
    assert [r.label for r in zeros] == ["unknown", "unknown"] and zeros[0].threat_score == 0.0


def test_detect_gives_status_per_item(det, samples, tmp_path):
    items = [samples["pdf"], str(tmp_path), str(tmp_path / "nope"), b"", None]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # detect never warns
        res = det.detect(items)
    assert [r.ok for r in res] == [True, False, False, True, False]
    assert res[0].label == "pdf" and res[0].size == len(samples["pdf"]) and res[0].confidence > 0.5
    assert res[1].label == "unknown" and "directory" in res[1].error and res[1].threat_score == 1.0
    assert res[3].label == "empty" and res[3].threat_score == 0.0
    assert isinstance(res[0], FileTypeResult) and json.dumps(res[0].to_dict())


def test_bad_input_policy(det, tmp_path):
    items = [b"#!/bin/sh\necho hi\n", str(tmp_path)]
    with pytest.warns(BadInputWarning):
        assert det.predict(items).tolist()[1] == "unknown"
    with pytest.warns(BadInputWarning):
        assert det.threat_score(items)[1] == 1.0
    raising = FileTypeDetector.pretrained(on_bad_input="raise")
    with pytest.raises(InvalidItemError) as info:
        raising.predict(items)
    assert info.value.index == 1


def test_chunking_keeps_order_and_length(samples):
    items = list(samples.values()) * 3
    small = FileTypeDetector.pretrained(batch_size=7)
    big = FileTypeDetector.pretrained(batch_size=4096)
    np.testing.assert_array_equal(small.predict(items), big.predict(items))
    np.testing.assert_allclose(small.threat_score(items), big.threat_score(items))
    assert len(list(small.iter_detect(iter(items)))) == len(items)


def test_explain_names_evidence(det, samples):
    exp = det.explain([samples["zip"], samples["pdf"], b""])
    assert exp[0].note.startswith("zip") and exp[1].note.startswith("pdf")
    magic = {"byte 0 = 0x50", "byte 1 = 0x4b", "byte 2 = 0x03", "byte 3 = 0x04"}  # PK\x03\x04
    assert magic & {c.name for c in exp[0].contributions}
    assert all(c.weight > 0 for c in exp[1].contributions)
    assert exp[2].note == "empty content"


# ---------------------------------------------------------------- fitting


def test_fit_new_type_with_a_few_dozen_examples(samples):
    rng = np.random.RandomState(0)
    X, y = [], []
    for _ in range(30):
        X.append(b"SMDMODEL\x01" + rng.randint(0, 256, 300).astype(np.uint8).tobytes())
        y.append("custom")
        for label in ("pdf", "json", "shell", "png"):
            data = samples[label]
            cut = rng.randint(len(data) // 2, len(data) + 1)
            X.append(data[:cut])
            y.append(label)
    det = FileTypeDetector(n_hash=4096, max_iter=100).fit(X, y)
    assert "custom" in det.classes_
    test = [b"SMDMODEL\x01" + bytes(200), samples["pdf"], samples["json"]]
    assert det.predict(test).tolist() == ["custom", "pdf", "json"]


def test_fit_validates():
    with pytest.raises(InvalidParameterError):
        FileTypeDetector().fit([b"a", b"b"], ["x"])
    with pytest.raises(InvalidParameterError):
        FileTypeDetector(min_confidence=2).fit([b"aaaa", b"bbbb"], ["x", "y"])
    with pytest.raises(InvalidParameterError):
        FileTypeDetector().fit([b"aaaa", b"bbbb"], ["x", "unknown"])


# ---------------------------------------------------------------- robustness


def test_robustness_suite(det):
    cases = robustness_cases()
    res = det.detect([c.content for c in cases])
    safe = [r.label in c.accept or r.label == "unknown" for c, r in zip(cases, res)]
    wrong_confident = [(c.name, r.label, round(r.confidence, 3)) for c, r in zip(cases, res)
                       if r.label not in c.accept and r.label != "unknown" and r.confidence >= 0.9]
    assert np.mean(safe) >= 0.95, [(c.name, r.label, round(r.confidence, 2)) for c, r, ok in zip(cases, res, safe)
                                   if not ok]
    assert wrong_confident == []
