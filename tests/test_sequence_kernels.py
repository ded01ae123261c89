"""Sequence kernels against the slow references in tests/naive_sequence.py."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import naive_sequence as naive
from secml_detect._kernels import sequence as K
from secml_detect._ragged import Vocabulary, to_ragged_tokens
from secml_detect.sequence import APICallSequenceModel
from secml_detect.sequence._encode import encode_sequences

tokens = st.one_of(st.integers(0, 4), st.sampled_from(["open", "read", "é", "\U0001f600"]))
sequences = st.lists(tokens, max_size=12)
entity_keys = st.sampled_from([None, "a", "b", "c"])


@given(
    train=st.lists(st.tuples(sequences, entity_keys), min_size=1, max_size=8),
    test=st.lists(st.tuples(st.lists(st.one_of(tokens, st.integers(5, 9)), max_size=14), entity_keys), max_size=6),
    order=st.integers(0, 3),
    eos=st.booleans(),
    strength=st.floats(0.05, 20.0),
    top_g=st.integers(1, 3),
)
def test_surprise_matches_reference(train, test, order, eos, strength, top_g):
    groups = {"a": "G", "b": "G"}
    seqs = [s for s, _ in train]
    ents = [e for _, e in train]
    model = APICallSequenceModel(order=order, end_event=eos, prior_strength=strength, top_g=top_g,
                                 entity_groups=groups, calibration_folds=2).fit(seqs, entities=ents)
    ref = naive.NaiveNgram(order, strength, eos, groups).fit(seqs, ents)
    X = [s for s, _ in test]
    E = [e for _, e in test]
    got = model.call_surprise(X, entities=E)
    ragged, _ = encode_sequences(X, model.vocabulary_)
    _, flags = model._surprise(ragged, *model._nodes(E, len(X), grow=False))
    toff = K.target_offsets(ragged.offsets, eos)
    for i, (seq, ent) in enumerate(test):
        want, want_flags = ref.surprises(seq, ent, top_g)
        np.testing.assert_allclose(got[i], want, rtol=1e-9, atol=1e-12)
        assert flags[toff[i]:toff[i + 1]].tolist() == want_flags
        for mode in ("mean", "max", "sum", "topg"):
            for window in (1, 3):
                agg = K.aggregate(np.asarray(want, dtype=np.float64), np.asarray(want_flags, dtype=np.uint8),
                                  np.array([0, len(want)], dtype=np.int64), K_MODES[mode], window)
                assert agg[0] == pytest.approx(naive.aggregate(want, want_flags, mode, window), rel=1e-9, abs=1e-12)


K_MODES = {"mean": 0, "max": 1, "sum": 2, "topg": 3}


@given(items=st.lists(st.lists(st.integers(1, 6), max_size=15), max_size=6), order=st.integers(0, 3),
       eos=st.booleans(), n_features=st.sampled_from([7, 64, 2**20]))
def test_hashed_ngram_features_match_reference(items, order, eos, n_features):
    offsets = np.zeros(len(items) + 1, dtype=np.int64)
    np.cumsum([len(s) for s in items], out=offsets[1:])
    data = np.array([t for s in items for t in s], dtype=np.int32)
    indptr, indices, counts = K.hashed_ngram_features(data, offsets, order, eos, n_features)
    want = naive.hashed_ngram_features(items, order, eos, n_features)
    for i, row in enumerate(want):
        got = dict(zip(indices[indptr[i]:indptr[i + 1]].tolist(), counts[indptr[i]:indptr[i + 1]].tolist()))
        assert got == row
        assert np.all(np.diff(indices[indptr[i]:indptr[i + 1]]) > 0)


@given(items=st.lists(st.lists(st.integers(0, 4), max_size=10), max_size=5), order=st.integers(0, 3),
       eos=st.booleans())
def test_emitted_keys_match_reference(items, order, eos):
    offsets = np.zeros(len(items) + 1, dtype=np.int64)
    np.cumsum([len(s) for s in items], out=offsets[1:])
    data = np.array([t for s in items for t in s], dtype=np.int32)
    cells, _ = K.emit_keys(data, offsets, np.zeros(len(items), dtype=np.int64), order, 0, eos)
    row = 0
    for seq in items:
        events = list(seq) + ([-2] if eos else [])
        for t, x in enumerate(events):
            for j in range(order + 1):
                ctx = [seq[t - q] if t - q >= 0 else -1 for q in range(1, j + 1)]
                assert int(cells[row, j]) == naive.cell_key(0, ctx, x)
            row += 1
    assert row == cells.shape[0]


@given(keys=st.sets(st.integers(1, 2**64 - 1), max_size=200))
def test_hash_table_round_trip(keys):
    keys = np.array(sorted(keys), dtype=np.uint64)
    vals = np.arange(1, keys.size + 1, dtype=np.float64)
    tk, tv = K.build_table(keys, vals)
    np.testing.assert_array_equal(K.lookup_many(tk, tv, keys), vals)
    absent = np.array([k for k in (2**63 + 12345, 99991) if k not in set(keys.tolist())], dtype=np.uint64)
    assert np.all(K.lookup_many(tk, tv, absent) == 0.0)


@given(batch=st.lists(st.lists(tokens, max_size=8), max_size=6))
def test_encode_matches_to_ragged_tokens(batch):
    v1, v2 = Vocabulary(), Vocabulary()
    a, reasons = encode_sequences(batch, v1, grow=True)
    b = to_ragged_tokens(batch, v2, grow=True)
    assert reasons == []
    np.testing.assert_array_equal(a.data, b.data)
    np.testing.assert_array_equal(a.offsets, b.offsets)
    assert v1.tokens == v2.tokens


def test_encode_flags_bad_items_without_raising():
    v = Vocabulary(["a"])
    batch = [["a"], None, "abc", 5, object(), [["x"]], np.array([1, 2]), (t for t in ["a"])]
    r, reasons = encode_sequences(batch, v)
    assert len(r) == len(batch)
    assert r.missing.tolist() == [False, True, True, True, True, True, False, False]
    assert len(reasons) == 5


def test_long_sequence_is_linear_and_finite():
    rng = np.random.RandomState(0)
    train = [rng.randint(0, 20, size=200).tolist() for _ in range(50)]
    model = APICallSequenceModel(order=3, calibration_folds=2).fit(train)
    long_seq = rng.randint(0, 25, size=1_000_000).tolist()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s = model.call_surprise([long_seq])[0]
        score = model.threat_score([long_seq])
    assert s.shape == (1_000_001,) and np.all(np.isfinite(s)) and np.all(s >= 0)
    assert 0.0 <= score[0] <= 1.0
