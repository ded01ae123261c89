import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from secml_detect._ragged import (
    Vocabulary,
    from_ragged_bytes,
    from_ragged_tokens,
    to_ragged_bytes,
    to_ragged_tokens,
)

text_or_bytes = st.one_of(st.text(), st.binary(), st.text(st.characters(codec="utf-8")))


@given(st.lists(text_or_bytes, max_size=30))
def test_bytes_round_trip(items):
    ragged = to_ragged_bytes(items)
    assert len(ragged) == len(items)
    assert ragged.data.dtype == np.uint8 and ragged.offsets.dtype == np.int64
    expected = [i if isinstance(i, bytes) else i.encode("utf-8", "surrogatepass") for i in items]
    assert from_ragged_bytes(ragged) == expected
    assert not ragged.missing.any()


@given(st.lists(st.one_of(st.text(max_size=12), st.text("ab/.", max_size=12),
                         st.lists(st.sampled_from(["a", "\ud800x", "é", "日本"]), max_size=4).map("".join)), max_size=40),
       st.one_of(st.none(), st.integers(0, 8)), st.integers(0, 40))
def test_str_batch_fast_path_matches_item_by_item(items, max_len, repeat):
    # str-only batches are encoded in joined ASCII runs of _STR_CHUNK items:
    # repeat to cross chunk boundaries, with non-ASCII and cut items inside runs
    import secml_detect._ragged as ragged_module

    items = items * (1 + repeat * ragged_module._STR_CHUNK // 40 // max(len(items), 1))
    ragged = to_ragged_bytes(items, max_len=max_len)
    encoded = [i.encode("utf-8", "surrogatepass") for i in items]
    assert from_ragged_bytes(ragged) == [e[:max_len] for e in encoded]
    assert ragged.truncated.tolist() == [max_len is not None and len(e) > max_len for e in encoded]
    assert ragged.offsets.dtype == np.int64 and ragged.data.flags.writeable


def test_lone_surrogate_and_non_ascii_kept():
    items = ["\ud800x", "é日本", b"\xff\xfe"]
    ragged = to_ragged_bytes(items)
    back = from_ragged_bytes(ragged)
    assert back[0].decode("utf-8", "surrogatepass") == "\ud800x"
    assert back[1].decode() == "é日本"
    assert back[2] == b"\xff\xfe"


def test_missing_items_are_flagged_not_dropped():
    ragged = to_ragged_bytes(["a", None, float("nan"), 42, b"b"])
    assert len(ragged) == 5
    assert ragged.missing.tolist() == [False, True, True, True, False]
    assert from_ragged_bytes(ragged) == [b"a", b"", b"", b"", b"b"]


def test_max_len_truncates_and_flags():
    ragged = to_ragged_bytes(["abcdef", "ab"], max_len=3)
    assert from_ragged_bytes(ragged) == [b"abc", b"ab"]
    assert ragged.truncated.tolist() == [True, False]


def test_very_long_item():
    big = b"x" * 5_000_000
    ragged = to_ragged_bytes([big, b""])
    assert ragged.lengths.tolist() == [5_000_000, 0]


def test_single_string_is_rejected():
    with pytest.raises(TypeError, match="batch"):
        to_ragged_bytes("not a batch")


@given(st.lists(st.lists(st.sampled_from(["open", "read", 3, ("x", 1)]), max_size=20), max_size=20))
def test_tokens_round_trip(seqs):
    vocab = Vocabulary()
    ragged = to_ragged_tokens(seqs, vocab, grow=True)
    assert ragged.data.dtype == np.int32
    assert from_ragged_tokens(ragged, vocab) == seqs


def test_unknown_tokens_map_to_zero_and_strings_are_not_sequences():
    vocab = Vocabulary(["a"])
    ragged = to_ragged_tokens([["a", "zzz"], "abc", None, 5, object()], vocab)
    assert ragged.item(0).tolist() == [1, 0]
    assert ragged.missing.tolist() == [False, True, True, True, True]
    assert vocab.mapping["a"] == 1
    assert len(vocab) == 2


def test_vocabulary_state_round_trip():
    vocab = Vocabulary(["x", 7])
    clone = Vocabulary.__new__(Vocabulary)
    clone.__setstate__(vocab.__getstate__())
    assert clone.encode(["x", 7, "y"]).tolist() == [1, 2, 0]
