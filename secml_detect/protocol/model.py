"""ProtocolAnomalyModel: a hierarchical generative model of normal application traffic."""

from __future__ import annotations


import numpy as np
from sklearn.utils.validation import check_is_fitted

from .._kernels import protocol as kp
from ..base import BaseDetector, Contribution, Explanation, OutlierDetectorMixin, handle_bad_items
from ..exceptions import InvalidParameterError
from ..hierarchy import fit_concentration
from .parsing import FLAG_NAMES, GROUPS, LOCATIONS, FlatBatch, _Limits, parse_batch

__all__ = ["ProtocolAnomalyModel"]

DEPTH = 4  # global -> service -> endpoint (or header / cookie / path group) -> parameter
TAG_METHOD, TAG_ENDPOINT, TAG_NAME, TAG_SHAPE = 0, 1, 2, 3
N_TAGS = 4
_TAG_TEXT = {TAG_METHOD: "method", TAG_ENDPOINT: "endpoint", TAG_NAME: "field name", TAG_SHAPE: "structure"}
_GROUP = {name: label.decode() for name, label in GROUPS.items()}
_BASELINE_BYTES = 64.0  # prior mass (bytes) of a node's per-byte baseline towards its parent's
_BASELINE_VALUES = 8.0  # prior mass (values) of a node's per-value baseline
_ENDPOINT_PRIOR = 5.0  # prior mass (requests) of an endpoint's score offset towards 0
_SHAPE_SEED = 0x5EED
_ROOT_ALPHA = 1.0  # Dirichlet strength of the global categorical estimates towards their uniform base
_CACHE_ATTRS = ("_node_table_cache", "_ngram_table", "_vocab_table", "_final_table_cache")


def _ewens_alpha(n_distinct: float, n_total: float) -> float:
    """Concentration ``a`` of a Dirichlet process that makes ``n_distinct`` new symbols in ``n_total`` draws
    most likely (solves ``sum_i a / (a + i) = n_distinct``; the global "something new" rate)."""
    if n_total <= 0:
        return 1.0
    if n_distinct >= n_total:
        return float(n_total) * 10.0
    i = np.arange(int(min(n_total, 1_000_000)), dtype=np.float64)
    lo, hi = 1e-6, 1e9
    for _ in range(80):
        mid = np.sqrt(lo * hi)
        if np.sum(mid / (mid + i)) * (n_total / len(i)) > n_distinct:
            hi = mid
        else:
            lo = mid
    return float(np.sqrt(lo * hi))


def _len_range(counts: np.ndarray) -> tuple[int, int]:
    """Typical (5%-95%) length range from half-octave length-bin counts."""
    total = counts.sum()
    if total <= 0:
        return 0, 0
    cdf = np.cumsum(counts) / total
    lo_bin = int(np.searchsorted(cdf, 0.05))
    hi_bin = int(np.searchsorted(cdf, 0.95))
    lo = 0 if lo_bin == 0 else int(np.ceil(2 ** ((lo_bin - 1) / 2)))
    hi = 0 if hi_bin == 0 else int(np.ceil(2 ** (hi_bin / 2))) - 1
    return lo, max(hi, lo)


def _shape_text(value: bytes, limit: int = 24) -> str:
    out, last = [], -1
    for b in value:
        c = int(kp.CLASS_OF[b])
        if c != last:
            out.append(kp.SHAPE_SYMBOLS[c])
            last = c
    text = "".join(out)
    return text if len(text) <= limit else text[:limit] + "..."


def _show(value: bytes, limit: int = 40) -> str:
    text = value.decode("utf-8", "backslashreplace")
    return text if len(text) <= limit else text[:limit] + "..."


class _Batch:
    """A flat batch with its hierarchy nodes and symbols resolved."""

    __slots__ = ("flat", "n", "bad", "flags", "req_chain", "fchain", "sym", "sym_tag", "sym_req", "sym_chain",
                 "deepest", "endp_h")


class ProtocolAnomalyModel(OutlierDetectorMixin, BaseDetector):
    """Generative model of normal application-protocol traffic, hierarchical over services.

    Trained on normal traffic only. Each request is parsed (best-effort, see
    :mod:`secml_detect.protocol.parsing`) into fields: the method, the
    endpoint, every parameter / header / cookie value, the path and the body,
    plus the parse anomalies found. Every field hangs at a node of the
    hierarchy ``global -> service -> endpoint (or the header / cookie / path
    group) -> parameter`` and is scored by generative components in the
    spirit of Kruegel & Vigna's per-parameter models, PAYL and Anagram:

    * **length** of the value (half-octave bins, categorical);
    * **character classes** of its bytes (letters, digits, blanks, controls,
      non-ASCII, each punctuation mark; multinomial);
    * **structure**: the class sequence with runs collapsed (``"9' a 9=9"``),
      as a seen / new vocabulary;
    * **byte n-grams**: a Markov model of each byte given the previous
      ``ngram_order`` bytes, backing off to shorter contexts;
    * **names**: method and endpoint per service, field names per endpoint;
    * **parse anomalies**: one Bernoulli rate per anomaly and service.

    Every estimate is a Dirichlet posterior mean that shrinks a node towards
    its parent, ``(count + a * p_parent) / (total + a)``, with one strength
    ``a`` per level and component learned by empirical Bayes
    (:func:`secml_detect.hierarchy.fit_concentration`): a parameter seen a
    handful of times is judged mostly by its endpoint's and the global
    pattern, a busy one by its own. Unseen nodes back off to their parent.

    ``score_samples`` (nats, high = normal) sums over the request's fields
    each component's log-likelihood relative to what normal traffic at the
    field's node scores. For the per-byte components only the surprise beyond
    the node's typical per-byte log-likelihood counts, and the expected
    amount grows with length only up to the node's typical longest value, so
    a long, very predictable run cannot cancel unlikely bytes beside it. Each
    endpoint's requests are then centred on their typical score (shrunk
    towards 0 for thin endpoints). Training items are scored leave-one-out
    (their own counts removed) to set ``offset_`` and the calibration, so
    ``contamination`` is an honest false-positive rate.

    Parameters
    ----------
    mode : {"http", "raw"}, default="http"
        How ``str``/``bytes`` items are read: HTTP/1.x requests, or raw
        payloads of the ``"default"`` service. Dicts choose for themselves
        (``payload`` + ``service``/``port`` -> raw payload; ``raw`` -> raw
        request; otherwise a parsed record with ``method``, ``path``,
        ``query``, ``headers``, ``body``, ``service``).
    ngram_order : int, default=2
        Context length of the byte Markov model (1 to 3).
    prior_strength : float or None, default=None
        Fixed shrinkage strength ``a`` at every node level; ``None`` learns
        one per level and component (empirical Bayes).
    contamination : float, default=0.01
        Target false-positive rate on normal traffic: ``offset_`` is that
        quantile of the leave-one-out training ``score_samples``.
    max_value_bytes : int, default=4096
        Bytes kept of each value (bounded work; cuts are a parse anomaly).
    max_fields : int, default=256
        Fields kept per request (the rest are dropped, flagged).
    on_bad_input : {"fallback", "raise"}, default="fallback"
        Items that are neither ``str``/``bytes`` nor ``dict`` (``None``,
        numbers) get ``score_samples = nan`` and ``threat_score = 1.0`` with
        a :class:`~secml_detect.exceptions.BadInputWarning`, or raise.
        Malformed requests are *not* bad input: they are parsed and scored.

    Attributes
    ----------
    node_keys_ : list of tuple of str
        Path of each hierarchy node (``()`` is the global node), for display.
    node_hashes_, node_parent_ : ndarray of int64
        64-bit identity (FNV-1a of the path bytes) and parent of each node.
    ngram_keys_, ngram_counts_ : ndarray
        Byte n-gram counts per node (sufficient statistics; they add up in
        ``partial_fit``), and ``ngram_final_`` their smoothed probabilities.
    vocab_keys_, vocab_counts_, vocab_totals_ : ndarray
        Counts of methods, endpoints, field names and structures per node.
    len_counts_, class_counts_ : ndarray of shape (n_nodes, n_bins)
        Length-bin and character-class counts per node.
    flag_counts_, request_counts_ : ndarray
        Parse-anomaly counts and requests per node.
    alphas_ : dict
        Learned shrinkage strengths per component and level.
    baselines_, clip_refs_ : dict
        Typical training log-likelihoods per node (see above).
    endpoint_keys_, endpoint_offsets_ : ndarray
        Typical score of each endpoint's requests.
    n_samples_seen_ : int
    offset_ : float
    calibrator_ : TailCalibrator

    Examples
    --------
    >>> normal = [f"GET /item?id={i}&q=red+shoes HTTP/1.1\\r\\nHost: shop\\r\\n\\r\\n" for i in range(100)]
    >>> model = ProtocolAnomalyModel().fit(normal)
    >>> attack = "GET /item?id=1'+OR+1=1--&q=red+shoes HTTP/1.1\\r\\nHost: shop\\r\\n\\r\\n"
    >>> model.predict([normal[3], attack]).tolist()
    [1, -1]
    >>> print(model.explain([attack])[0].contributions[0].name)
    query `id` at /item: characters
    """

    fallback_threat_score = 1.0

    def __init__(self, mode: str = "http", ngram_order: int = 2, prior_strength: float | None = None,
                 contamination: float = 0.01, max_value_bytes: int = 4096, max_fields: int = 256,
                 on_bad_input: str = "fallback") -> None:
        self.mode = mode
        self.ngram_order = ngram_order
        self.prior_strength = prior_strength
        self.contamination = contamination
        self.max_value_bytes = max_value_bytes
        self.max_fields = max_fields
        self.on_bad_input = on_bad_input

    # ------------------------------------------------------------------ state
    def __getstate__(self) -> dict:
        state = super().__getstate__()
        for attr in _CACHE_ATTRS:
            state.pop(attr, None)
        return state

    def _validate_params(self) -> None:
        self._check_on_bad_input()
        if self.mode not in ("http", "raw"):
            raise InvalidParameterError(f"mode must be 'http' or 'raw', got {self.mode!r}")
        if int(self.ngram_order) not in (1, 2, 3):
            raise InvalidParameterError(f"ngram_order must be 1, 2 or 3, got {self.ngram_order!r}")
        if self.prior_strength is not None and not float(self.prior_strength) > 0:
            raise InvalidParameterError(f"prior_strength must be > 0 or None, got {self.prior_strength!r}")
        for name in ("max_value_bytes", "max_fields"):
            if not int(getattr(self, name)) > 0:
                raise InvalidParameterError(f"{name} must be > 0, got {getattr(self, name)!r}")

    def _node_table(self):
        table = self.__dict__.get("_node_table_cache")
        if table is None:
            ids = np.arange(1, len(self.node_hashes_) + 1, dtype=np.float64)
            table = kp.table_build(self.node_hashes_[1:], ids[1:])
            self._node_table_cache = table
        return table

    # ---------------------------------------------------------------- batches
    def _parse(self, X) -> FlatBatch:
        if isinstance(X, (str, bytes)):
            raise TypeError("expected a batch (a list of requests), got a single str/bytes")
        limits = _Limits(int(self.max_fields), int(self.max_value_bytes))
        flat = parse_batch(X, mode=self.mode, limits=limits)
        handle_bad_items(flat.bad, "not str, bytes or dict", self.on_bad_input, items=X,
                         fallback_desc="threat_score 1.0")
        return flat

    def _grow_nodes(self, flat: FlatBatch, svc_h, group_h, param_h) -> None:
        """Create the nodes of a training batch that the model has not seen yet (parents first)."""
        def text(pair, k):
            data, off = pair
            return data[off[k]:off[k + 1]].tobytes().decode("utf-8", "backslashreplace")

        index = {int(h): i for i, h in enumerate(self.node_hashes_)}
        field_svc = svc_h[flat.field_req] if len(flat.field_req) else np.zeros(0, np.int64)
        for level, hashes, parents in ((1, svc_h, None), (2, group_h, field_svc), (3, param_h, group_h)):
            uniq, first = np.unique(hashes, return_index=True)
            new_hashes, new_parents = [], []
            for h, k in zip(uniq.tolist(), first.tolist()):
                if h == 0 or h in index:
                    continue
                if level == 1:
                    key, parent = (text(flat.service, k),), 0
                else:
                    parent = index[int(parents[k])]
                    if level == 2:
                        loc = int(flat.field_loc[k])
                        group = text(flat.endpoint, int(flat.field_req[k])) if loc <= 1 else _GROUP[LOCATIONS[loc]]
                        key = (*self.node_keys_[parent], group)
                    else:
                        key = (*self.node_keys_[parent], text(flat.name, k))
                index[h] = len(self.node_keys_)
                self.node_keys_.append(key)
                new_hashes.append(h)
                new_parents.append(parent)
            if new_hashes:
                self.node_hashes_ = np.r_[self.node_hashes_, np.array(new_hashes, dtype=np.int64)]
                self.node_parent_ = np.r_[self.node_parent_, np.array(new_parents, dtype=np.int64)]
                self.__dict__.pop("_node_table_cache", None)

    def _resolve(self, flat: FlatBatch, grow: bool) -> _Batch:
        ok = ~flat.bad
        svc_h, group_h, param_h, endp_h, endp_sym, name_sym = kp.batch_hashes(
            flat.service[0], flat.service[1], flat.endpoint[0], flat.endpoint[1], flat.name[0], flat.name[1],
            flat.value[0], flat.value[1], flat.field_req, flat.field_loc, kp.GROUP_DATA, kp.GROUP_OFF)
        svc_h = np.where(ok, svc_h, 0)
        if grow:
            self._grow_nodes(flat, svc_h, group_h, param_h)
        tk, tv = self._node_table()
        n, m = flat.n, len(flat.field_req)
        b = _Batch()
        b.flat, b.n, b.bad, b.flags = flat, n, flat.bad, flat.flags
        b.endp_h = np.where(ok, endp_h, 0)
        sid = np.where(ok, kp.lookup_ids(tk, tv, svc_h), -1)
        b.req_chain = np.full((n, DEPTH), -1, dtype=np.int64)
        b.req_chain[ok, 0] = 0
        b.req_chain[:, 1] = sid
        fchain = np.full((m, DEPTH), -1, dtype=np.int64)
        fchain[:, 0] = 0
        fsid = sid[flat.field_req] if m else np.zeros(0, np.int64)
        fchain[:, 1] = fsid
        gid = np.where(fsid >= 0, kp.lookup_ids(tk, tv, group_h), -1)
        fchain[:, 2] = gid
        fchain[:, 3] = np.where(gid >= 0, kp.lookup_ids(tk, tv, param_h), -1)
        b.fchain = fchain
        depth = (fchain >= 0).sum(axis=1)
        b.deepest = fchain[np.arange(m), np.maximum(depth - 1, 0)] if m else np.zeros(0, np.int64)
        meth_sym = kp.method_symbols(flat.method[0], flat.method[1])
        has_method = ok & (np.diff(flat.method[1]) > 0)
        ep = flat.endpoint
        is_payload = np.array([ep[0][ep[1][i]:ep[1][i + 1]].tobytes() == b"#payload" for i in range(n)],
                              dtype=bool) if (flat.field_loc == 5).any() else np.zeros(n, dtype=bool)
        has_ep = ok & ~is_payload
        rows = np.arange(n)
        name_chain = fchain.copy()
        name_chain[:, 3] = -1
        b.sym = np.r_[meth_sym[has_method], endp_sym[has_ep], name_sym].astype(np.int64)
        b.sym_tag = np.r_[np.full(has_method.sum(), TAG_METHOD), np.full(has_ep.sum(), TAG_ENDPOINT),
                          np.full(m, TAG_NAME)].astype(np.int64)
        b.sym_req = np.r_[rows[has_method], rows[has_ep], flat.field_req].astype(np.int64)
        b.sym_chain = np.vstack([b.req_chain[has_method], b.req_chain[has_ep], name_chain])
        return b

    # ------------------------------------------------------------- statistics
    def _reset(self) -> None:
        for attr in [a for a in self.__dict__ if a.endswith("_") and not a.startswith("__")] + list(_CACHE_ATTRS):
            self.__dict__.pop(attr, None)
        self.node_keys_ = [()]
        self.node_hashes_ = np.zeros(1, dtype=np.int64)
        self.node_parent_ = np.full(1, -1, dtype=np.int64)
        self.ngram_keys_ = np.zeros(0, dtype=np.int64)
        self.ngram_counts_ = np.zeros(0, dtype=np.float64)
        self.vocab_keys_ = np.zeros(0, dtype=np.int64)
        self.vocab_counts_ = np.zeros(0, dtype=np.float64)
        self.len_counts_ = np.zeros((1, kp.N_LEN_BINS))
        self.class_counts_ = np.zeros((1, kp.N_CLASSES))
        self.vocab_totals_ = np.zeros((1, N_TAGS))
        self.flag_counts_ = np.zeros((1, len(FLAG_NAMES)))
        self.request_counts_ = np.zeros(1)
        self.fitted_order_ = int(self.ngram_order)
        self.n_samples_seen_ = 0
        self.endpoint_keys_ = np.zeros(0, dtype=np.int64)
        self.endpoint_offsets_ = np.zeros(0)
        self._endpoint_sums_ = np.zeros(0)
        self._endpoint_counts_ = np.zeros(0)

    def _grow_dense(self) -> None:
        n = len(self.node_keys_)
        for attr in ("len_counts_", "class_counts_", "vocab_totals_", "flag_counts_"):
            arr = getattr(self, attr)
            if arr.shape[0] < n:
                setattr(self, attr, np.vstack([arr, np.zeros((n - arr.shape[0], arr.shape[1]))]))
        if self.request_counts_.shape[0] < n:
            self.request_counts_ = np.r_[self.request_counts_, np.zeros(n - self.request_counts_.shape[0])]

    @staticmethod
    def _merge(keys_a, counts_a, keys_b, counts_b):
        keys = np.concatenate([keys_a, keys_b])
        counts = np.concatenate([counts_a, counts_b])
        uniq, inverse = np.unique(keys, return_inverse=True)
        return uniq, np.bincount(inverse, weights=counts, minlength=len(uniq))

    def _accumulate(self, batch: _Batch) -> None:
        self._grow_dense()
        values, voff = batch.flat.value
        fchains = batch.fchain
        keys = kp.ngram_keys(values, voff, fchains, self.fitted_order_)
        uniq, counts = np.unique(keys, return_counts=True)
        self.ngram_keys_, self.ngram_counts_ = self._merge(self.ngram_keys_, self.ngram_counts_, uniq,
                                                           counts.astype(np.float64))
        bins = kp.length_bins(voff, kp.N_LEN_BINS)
        hist = kp.class_histograms(values, voff, kp.CLASS_OF, kp.N_CLASSES)
        shapes = kp.shape_hashes(values, voff, kp.CLASS_OF, _SHAPE_SEED)
        all_sym = np.r_[batch.sym, shapes]
        all_tags = np.r_[batch.sym_tag, np.full(len(shapes), TAG_SHAPE)]
        all_chains = np.vstack([batch.sym_chain, fchains])
        vkeys = []
        ok_req = ~batch.bad
        for lvl in range(DEPTH):
            nodes = fchains[:, lvl]
            ok = nodes >= 0
            np.add.at(self.len_counts_, (nodes[ok], bins[ok]), 1.0)
            np.add.at(self.class_counts_, nodes[ok], hist[ok])
            vn = all_chains[:, lvl]
            vok = vn >= 0
            np.add.at(self.vocab_totals_, (vn[vok], all_tags[vok]), 1.0)
            vkeys.append((vn[vok] + 1) << 40 | all_tags[vok] << 34 | all_sym[vok])
            rn = batch.req_chain[:, lvl]
            rok = (rn >= 0) & ok_req
            np.add.at(self.request_counts_, rn[rok], 1.0)
            bits = (batch.flags[rok, None] >> np.arange(len(FLAG_NAMES))) & 1
            np.add.at(self.flag_counts_, rn[rok], bits.astype(np.float64))
        vkeys = np.concatenate(vkeys)
        uniq, counts = np.unique(vkeys, return_counts=True)
        self.vocab_keys_, self.vocab_counts_ = self._merge(self.vocab_keys_, self.vocab_counts_, uniq,
                                                           counts.astype(np.float64))
        self.n_samples_seen_ += int(ok_req.sum())
        for attr in ("_ngram_table", "_vocab_table", "_final_table_cache"):
            self.__dict__.pop(attr, None)

    def _tables(self):
        ng = self.__dict__.get("_ngram_table")
        if ng is None:
            ng = kp.table_build(self.ngram_keys_, self.ngram_counts_)
            self._ngram_table = ng
        vt = self.__dict__.get("_vocab_table")
        if vt is None:
            vt = kp.table_build_pairs(self.vocab_keys_, self.vocab_counts_.astype(np.int64))
            self._vocab_table = vt
        return ng, vt

    def _final_table(self):
        ft = self.__dict__.get("_final_table_cache")
        if ft is None:
            values = kp.ngram_score_values(self.ngram_keys_, self.ngram_final_, self._level_of_nodes(),
                                           self.alphas_["ngram"], self.alphas_["ngram_orders"])
            ft = kp.table_build_pairs(self.ngram_keys_, values)
            self._final_table_cache = ft
        return ft

    def _level_of_nodes(self) -> np.ndarray:
        return np.array([len(k) for k in self.node_keys_], dtype=np.int64)

    def _fit_alphas(self) -> None:
        fixed = None if self.prior_strength is None else float(self.prior_strength)
        self.__dict__.pop("_ngram_table", None)
        self.__dict__.pop("_vocab_table", None)
        level = self._level_of_nodes()
        parent = self.node_parent_
        order = self.fitted_order_
        (tk, tv), vt = self._tables()

        def dense(counts, totals):
            alphas = [_ROOT_ALPHA]
            for lvl in range(1, DEPTH):
                nodes = np.flatnonzero((level == lvl) & (totals > 0))
                if fixed is not None or nodes.size == 0:
                    alphas.append(fixed if fixed is not None else 1.0)
                    continue
                # parent estimate at the current alphas
                par = parent[nodes]
                pc = self._dense_probs(counts, totals, alphas, par)
                c = counts[nodes]
                nz = c > 0
                alphas.append(fit_concentration(totals[nodes], c[nz], pc[nz]))
            return np.array(alphas)

        self.alphas_ = {
            "length": dense(self.len_counts_, self.len_counts_.sum(axis=1)),
            "classes": dense(self.class_counts_, self.class_counts_.sum(axis=1)),
        }
        # n-gram: orders at the global node, then node levels at the top order
        keys, counts = self.ngram_keys_, self.ngram_counts_
        knode = (keys >> 40) - 1
        ktag = (keys >> 34) & 63
        betas = np.ones(order + 1)
        alphas = np.ones(DEPTH)
        for k in range(order + 1):
            cells = (knode == 0) & (ktag == k)
            ctx = (knode == 0) & (ktag == kp.CTX_TAG + k)
            if cells.any():
                base = kp.ngram_parent_probs(keys[cells], parent, tk, tv, order, alphas, betas)
                betas[k] = fit_concentration(counts[ctx], counts[cells], base)
        klevel = level[np.maximum(knode, 0)]
        for lvl in range(1, DEPTH):
            if fixed is not None:
                alphas[lvl] = fixed
                continue
            cells = (klevel == lvl) & (ktag == order)
            ctx = (klevel == lvl) & (ktag == kp.CTX_TAG + order)
            if cells.any():
                base = kp.ngram_parent_probs(keys[cells], parent, tk, tv, order, alphas, betas)
                alphas[lvl] = fit_concentration(counts[ctx], counts[cells], base)
        self.alphas_["ngram_orders"] = betas
        self.alphas_["ngram"] = alphas
        # vocabularies: Ewens estimate of the "new symbol" rate at the root, then empirical Bayes
        valphas = np.ones((N_TAGS, DEPTH))
        vnode = (self.vocab_keys_ >> 40) - 1
        vtag = (self.vocab_keys_ >> 34) & 63
        vlevel = level[np.maximum(vnode, 0)]
        for tag in range(N_TAGS):
            root = (vnode == 0) & (vtag == tag)
            valphas[tag, 0] = _ewens_alpha(float(root.sum()), float(self.vocab_totals_[0, tag]))
        for lvl in range(1, DEPTH):
            for tag in range(N_TAGS):
                if fixed is not None:
                    valphas[tag, lvl] = fixed
                    continue
                cells = (vlevel == lvl) & (vtag == tag)
                if not cells.any():
                    continue
                base = kp.vocab_parent_probs(self.vocab_keys_[cells], parent, vt, self.vocab_totals_, valphas)
                nodes = np.unique(vnode[cells])
                valphas[tag, lvl] = fit_concentration(self.vocab_totals_[nodes, tag], self.vocab_counts_[cells], base)
        self.alphas_["vocab"] = valphas
        self.ngram_final_ = kp.ngram_final_values(keys, counts, parent, tk, tv, order, alphas, betas)
        self.__dict__.pop("_final_table_cache", None)
        # parse-anomaly rates: Beta-binomial per service around the global rate
        rc, fc = self.request_counts_, self.flag_counts_
        services = np.flatnonzero((level == 1) & (rc > 0))
        glob = (fc[0] + 0.5) / (rc[0] + 1.0)
        if fixed is not None or services.size < 2:
            self.alphas_["flags"] = fixed if fixed is not None else 10.0
        else:
            s, n = fc[services], rc[services][:, None] * np.ones_like(fc[services])
            pos, neg = s > 0, (n - s) > 0
            pg = np.broadcast_to(glob, s.shape)
            self.alphas_["flags"] = fit_concentration(
                n.ravel(), np.r_[s[pos], (n - s)[neg]], np.r_[pg[pos], 1.0 - pg[neg]])

    def _dense_probs(self, counts, totals, alphas, nodes) -> np.ndarray:
        """Smoothed categorical estimate at each of ``nodes`` (rows), walking down from the root."""
        out = np.empty((len(nodes), counts.shape[1]))
        parent = self.node_parent_
        uniform = np.full(counts.shape[1], 1.0 / counts.shape[1])
        for j, nd in enumerate(nodes):
            path = []
            while nd >= 0:
                path.append(nd)
                nd = parent[nd]
            p = uniform
            for lvl, node in enumerate(reversed(path)):
                p = (counts[node] + alphas[lvl] * p) / (totals[node] + alphas[lvl])
            out[j] = p
        return out

    # ---------------------------------------------------------------- scoring
    def _field_components(self, values, voff, fchains, loo: bool):
        """len, classes, n-gram and structure log-likelihoods of fields, and per-byte log-probs."""
        a = self.alphas_
        bins = kp.length_bins(voff, kp.N_LEN_BINS)
        onehot = np.zeros((len(bins), kp.N_LEN_BINS))
        onehot[np.arange(len(bins)), bins] = 1.0
        ll_len = kp.dense_chain_loglik(onehot, fchains, self.len_counts_, self.len_counts_.sum(axis=1), a["length"],
                                       np.full(kp.N_LEN_BINS, 1.0 / kp.N_LEN_BINS), loo)
        hist = kp.class_histograms(values, voff, kp.CLASS_OF, kp.N_CLASSES)
        refs = self.__dict__.get("clip_refs_")
        if refs is None:
            ll_cls = kp.dense_chain_loglik(hist, fchains, self.class_counts_, self.class_counts_.sum(axis=1),
                                           a["classes"], np.full(kp.N_CLASSES, 1.0 / kp.N_CLASSES), loo)
        if loo:
            (tk, tv), _ = self._tables()
            lp = kp.ngram_logprobs(values, voff, fchains, tk, tv, self.fitted_order_, a["ngram"], a["ngram_orders"],
                                   True)
        else:
            lp = kp.ngram_logprobs_fixed(values, voff, fchains, self._final_table(), self.fitted_order_)
        if refs is not None:
            # surprise beyond the node's typical per-byte log-likelihood: long, very predictable
            # runs (``aaaa...``) cannot cancel the unlikely bytes of the same value
            depth = (fchains >= 0).sum(axis=1)
            d = fchains[np.arange(len(fchains)), np.maximum(depth - 1, 0)]
            ll_cls = kp.dense_chain_excess(hist, fchains, self.class_counts_, self.class_counts_.sum(axis=1),
                                           a["classes"], np.full(kp.N_CLASSES, 1.0 / kp.N_CLASSES), loo,
                                           refs["classes"][d])
            per_byte = np.minimum(lp - np.repeat(refs["ngram"][d], np.diff(voff)), 0.0)
        else:
            per_byte = lp
        csum = np.concatenate([[0.0], np.cumsum(per_byte)])
        ll_ng = csum[voff[1:]] - csum[voff[:-1]]
        shapes = kp.shape_hashes(values, voff, kp.CLASS_OF, _SHAPE_SEED)
        _, vt = self._tables()
        ll_shape = kp.vocab_logprob(shapes, np.full(len(shapes), TAG_SHAPE, dtype=np.int64), fchains, vt,
                                    self.vocab_totals_, a["vocab"], loo)
        return np.stack([ll_len, ll_cls, ll_ng, ll_shape], axis=1), lp

    def _components(self, batch: _Batch, loo: bool, dedupe: bool = True) -> dict:
        """Raw log-likelihood of every component, per field / symbol / request."""
        values, voff = batch.flat.value
        fchains = batch.fchain
        m = len(fchains)
        lp = None
        if dedupe and m:
            ident = kp.field_identity(values, voff, batch.deepest)
            _, first, inverse = np.unique(ident, return_index=True, return_inverse=True)
            rep = first[inverse]
            same = kp.same_as_representative(values, voff, batch.deepest, rep)
            if not same.all():  # a hash collision: score those fields on their own
                rep = np.where(same, rep, np.arange(m))
            uniq, inv = np.unique(rep, return_inverse=True)
            sub, sub_off = kp.take_ragged(values, voff, uniq)
            per_field, _ = self._field_components(sub, sub_off, fchains[uniq], loo)
            per_field = per_field[inv]
        else:
            per_field, lp = self._field_components(values, voff, fchains, loo)
        _, vt = self._tables()
        ll_sym = kp.vocab_logprob(batch.sym, batch.sym_tag, batch.sym_chain, vt, self.vocab_totals_,
                                  self.alphas_["vocab"], loo)
        # parse anomalies: one Beta-binomial rate per anomaly and service
        n_nodes = len(self.node_keys_)
        rc, fc = self.request_counts_, self.flag_counts_
        bits = ((batch.flags[:, None] >> np.arange(len(FLAG_NAMES))) & 1).astype(np.float64)
        own = bits if loo else 0.0
        one = 1.0 if loo else 0.0
        p = (fc[0] - own + 0.5) / (rc[0] - one + 1.0)
        svc = batch.req_chain[:, 1]
        known = (svc >= 0) & (svc < n_nodes)
        s_ = np.maximum(svc, 0)
        alpha = self.alphas_["flags"]
        ps = np.where(known[:, None], (fc[s_] - own + alpha * p) / (rc[s_][:, None] - one + alpha), p)
        ps = np.clip(ps, 1e-12, 1 - 1e-12)
        ll_flags = bits * np.log(ps) + (1 - bits) * np.log1p(-ps)
        return {"lengths": np.diff(voff).astype(np.float64), "field": per_field, "sym": ll_sym,
                "flags": ll_flags, "lp": lp}

    def _relative(self, comp: dict, batch: _Batch) -> dict:
        """Each component minus its normal-traffic baseline at the field's node (per byte or per value)."""
        b = self.baselines_
        L = comp["lengths"]
        d = batch.deepest
        # expected surprise grows with length up to the node's typical longest value, then stops:
        # a long, very predictable run (``aaaa...``) earns no credit against the unlikely bytes
        scale = np.minimum(L, b["length_cap"][d]) if "length_cap" in b and len(d) else L
        field = comp["field"] - np.stack([b["length"][d], b["classes"][d] * scale, b["ngram"][d] * scale,
                                          b["structure"][d]], axis=1) if len(d) else comp["field"]
        return {"field": field, "sym": comp["sym"] - np.asarray(b["names"])[batch.sym_tag],
                "flags": comp["flags"] - np.asarray(b["flags"])}

    def _request_scores(self, rel: dict, batch: _Batch) -> np.ndarray:
        n = batch.n
        fr = batch.flat.field_req
        out = np.zeros(n)
        if len(fr):
            out += np.bincount(fr, weights=rel["field"].sum(axis=1), minlength=n)[:n]
        if len(batch.sym_req):
            out += np.bincount(batch.sym_req, weights=rel["sym"], minlength=n)[:n]
        out += rel["flags"].sum(axis=1)
        if len(self.endpoint_keys_):
            pos = np.minimum(np.searchsorted(self.endpoint_keys_, batch.endp_h), len(self.endpoint_keys_) - 1)
            found = self.endpoint_keys_[pos] == batch.endp_h
            out -= np.where(found, self.endpoint_offsets_[pos], 0.0)
        out[batch.bad] = np.nan
        return out

    def _fit_endpoint_offsets(self, scores: np.ndarray, batch: _Batch) -> None:
        """Typical (leave-one-out) score of each endpoint's requests, shrunk towards 0.

        An endpoint with little traffic has less certain models, so its normal
        requests score lower; subtracting its shrunk mean keeps the false-positive
        rate of thin endpoints near the target instead of alerting on them."""
        ok = ~batch.bad & np.isfinite(scores)
        keys, inverse = np.unique(batch.endp_h[ok], return_inverse=True)
        sums = np.bincount(inverse, weights=scores[ok], minlength=len(keys))
        counts = np.bincount(inverse, minlength=len(keys)).astype(np.float64)
        keys, sums = self._merge(self.endpoint_keys_, self._endpoint_sums_, keys, sums)
        _, counts = self._merge(self.endpoint_keys_, self._endpoint_counts_, np.unique(batch.endp_h[ok]), counts)
        self.endpoint_keys_, self._endpoint_sums_, self._endpoint_counts_ = keys, sums, counts
        self.endpoint_offsets_ = sums / (counts + _ENDPOINT_PRIOR)

    def _fit_baselines(self, comp: dict, batch: _Batch) -> None:
        """Average training log-likelihood per node, shrunk towards the parent's average."""
        L = comp["lengths"]
        n_nodes = len(self.node_keys_)
        sums = np.zeros((n_nodes, 4))
        bytes_ = np.zeros(n_nodes)
        count = np.zeros(n_nodes)
        for lvl in range(DEPTH):
            nodes = batch.fchain[:, lvl]
            ok = nodes >= 0
            np.add.at(sums, nodes[ok], comp["field"][ok])
            np.add.at(bytes_, nodes[ok], L[ok])
            np.add.at(count, nodes[ok], 1.0)
        base = np.zeros((n_nodes, 4))
        per_byte = np.array([False, True, True, False])
        for node in range(n_nodes):  # parents are created before their children
            parent = self.node_parent_[node]
            prior = base[parent] if parent >= 0 else np.zeros(4)
            mass = np.where(per_byte, bytes_[node], count[node])
            strength = np.where(per_byte, _BASELINE_BYTES, _BASELINE_VALUES)
            if parent < 0:
                base[node] = np.where(mass > 0, sums[node] / np.maximum(mass, 1e-12), 0.0)
            else:
                base[node] = (sums[node] + strength * prior) / (mass + strength)
        tags = batch.sym_tag
        names = np.array([comp["sym"][tags == t].mean() if (tags == t).any() else 0.0 for t in range(N_TAGS)])
        ok = ~batch.bad
        self.baselines_ = {
            "length": base[:, 0], "classes": base[:, 1], "ngram": base[:, 2], "structure": base[:, 3],
            "names": names, "flags": comp["flags"][ok].mean(axis=0) if ok.any() else np.zeros(len(FLAG_NAMES)),
        }
        if "clip_refs_" in self.__dict__:
            cdf = np.cumsum(self.len_counts_, axis=1) / np.maximum(self.len_counts_.sum(axis=1, keepdims=True), 1)
            hi_bin = (cdf < 0.95).sum(axis=1)
            self.baselines_["length_cap"] = np.ceil(2.0 ** (hi_bin / 2.0))

    def _train(self, X, reset: bool) -> "ProtocolAnomalyModel":
        self._validate_params()
        flat = self._parse(X)
        if reset:
            if flat.n == 0 or flat.bad.all():
                raise InvalidParameterError("cannot fit on an empty batch (or one without a usable request)")
            self._reset()
        batch = self._resolve(flat, grow=True)
        self._accumulate(batch)
        self._grow_dense()
        self._fit_alphas()
        if batch.n and not batch.bad.all():
            self.__dict__.pop("clip_refs_", None)
            self._fit_baselines(self._components(batch, loo=True), batch)
            self.clip_refs_ = {"classes": self.baselines_["classes"], "ngram": self.baselines_["ngram"]}
            comp = self._components(batch, loo=True)
            self._fit_baselines(comp, batch)
            rel = self._relative(comp, batch)
            self.endpoint_offsets_ = np.zeros(len(self.endpoint_keys_))
            self._fit_endpoint_offsets(self._request_scores(rel, batch), batch)
            scores = self._request_scores(rel, batch)
            self._fit_threshold(scores[~batch.bad])
        return self

    def fit(self, X, y=None) -> "ProtocolAnomalyModel":
        """Fit on a batch of normal requests (raw, parsed records or payloads)."""
        return self._train(X, reset=True)

    def partial_fit(self, X, y=None) -> "ProtocolAnomalyModel":
        """Add normal requests: counts add up; strengths, baselines and threshold are refitted on this batch."""
        return self._train(X, reset=not hasattr(self, "node_keys_"))

    def _score(self, X, dedupe: bool = True):
        check_is_fitted(self, "offset_")
        batch = self._resolve(self._parse(X), grow=False)
        comp = self._components(batch, loo=False, dedupe=dedupe)
        rel = self._relative(comp, batch)
        return self._request_scores(rel, batch), batch, comp, rel

    def score_samples(self, X) -> np.ndarray:
        """Log-likelihood ratio of each request against typical normal traffic (nats; high = normal).

        ``nan`` for bad items (neither ``str``/``bytes`` nor ``dict``).
        """
        return self._score(X)[0]

    def threat_score(self, X) -> np.ndarray:
        """Tail probability among training normals (1.0 for bad items)."""
        return super().threat_score(X)

    # ----------------------------------------------------------- explanation
    def explain(self, X, *, top_k: int = 5) -> list[Explanation]:
        """Which field and which component made each request unlikely.

        Contributions are named ``"<location> `<name>`[ at <endpoint>]: <component>"``
        and carry a readable message as value and the lost log-likelihood
        (nats, relative to typical normal traffic) as weight.
        """
        scores, batch, comp, rel = self._score(X, dedupe=False)
        threat = self.calibrator_.transform(-scores)
        flat = batch.flat
        items: list[list[Contribution]] = [[] for _ in range(batch.n)]

        def text(pair, k):
            data, off = pair
            return data[off[k]:off[k + 1]].tobytes()

        voff = flat.value[1]
        for f, req in enumerate(flat.field_req.tolist()):
            loc = LOCATIONS[int(flat.field_loc[f])]
            name = text(flat.name, f).decode("utf-8", "backslashreplace")
            where = ""
            if loc in ("query", "body"):
                where = f" at {text(flat.endpoint, req).decode('utf-8', 'backslashreplace')}"
            label = f"{loc} `{name}`{where}"
            value = text(flat.value, f)
            chain = batch.fchain[f]
            node = int(batch.deepest[f])
            unseen = chain[3] < 0
            for c, comp_name in enumerate(("length", "characters", "byte sequence", "structure")):
                weight = -rel["field"][f, c]
                if weight <= 0:
                    continue
                if c == 0:
                    lo, hi = _len_range(self.len_counts_[node])
                    msg = f"length {len(value)} vs typical {lo}-{hi}"
                elif c == 1:
                    msg = self._class_message(value, node)
                elif c == 2:
                    msg = self._ngram_message(value, comp["lp"][voff[f]:voff[f + 1]])
                else:
                    msg = f"structure `{_shape_text(value)}` rare or never seen"
                if unseen:
                    msg += " (field unseen in training: judged by its parent)"
                items[req].append(Contribution(f"{label}: {comp_name}", msg, float(weight)))
        sym_text = {TAG_METHOD: lambda i: text(flat.method, i), TAG_ENDPOINT: lambda i: text(flat.endpoint, i)}
        n_named = int((batch.sym_tag != TAG_NAME).sum())  # field names come last, one per field
        for s_idx in range(len(batch.sym)):
            tag = int(batch.sym_tag[s_idx])
            req = int(batch.sym_req[s_idx])
            if tag == TAG_NAME:
                shown = text(flat.name, s_idx - n_named)
            else:
                shown = sym_text[tag](req)
            weight = -rel["sym"][s_idx]
            if weight > 0:
                items[req].append(Contribution(f"{_TAG_TEXT[tag]} `{shown.decode('utf-8', 'backslashreplace')}`",
                                               f"{_TAG_TEXT[tag]} rare or never seen here", float(weight)))
        for i in range(batch.n):
            for bit in np.flatnonzero(-rel["flags"][i] > 0):
                if batch.flags[i] >> bit & 1:
                    items[i].append(Contribution("parse anomaly", FLAG_NAMES[bit], float(-rel["flags"][i, bit])))
        out = []
        for i in range(batch.n):
            if batch.bad[i]:
                out.append(Explanation(i, float(threat[i]), fallback=True, note="not str, bytes or dict"))
                continue
            top = sorted(items[i], key=lambda c: -c.weight)[:top_k]
            out.append(Explanation(i, float(threat[i]), tuple(top)))
        return out

    def _class_message(self, value: bytes, node: int) -> str:
        classes = kp.CLASS_OF[np.frombuffer(value, dtype=np.uint8)]
        seen_here = self.class_counts_[node] > 0
        seen_global = self.class_counts_[0] > 0
        new_here, new_all = [], []
        for b, c in zip(value, classes):
            ch = chr(b) if 32 <= b < 127 else f"\\x{b:02x}"
            if not seen_global[c]:
                if ch not in new_all:
                    new_all.append(ch)
            elif not seen_here[c] and ch not in new_here:
                new_here.append(ch)
        parts = []
        if new_all:
            parts.append(f"characters `{''.join(new_all[:12])}` never seen")
        if new_here:
            parts.append(f"characters `{''.join(new_here[:12])}` never seen in this field")
        return "; ".join(parts) or "unusual mix of character classes"

    @staticmethod
    def _ngram_message(value: bytes, lp: np.ndarray, width: int = 8) -> str:
        if len(lp) == 0:
            return "unusual byte sequence"
        surprise = -lp
        w = min(width, len(lp))
        window = np.convolve(surprise, np.ones(w), mode="valid")
        start = int(np.argmax(window))
        return f"unusual byte sequence `{_show(value[start:start + w])}` ({window[start] / w:.1f} nats/byte)"

    @classmethod
    def _generic_check_data(cls) -> dict:
        rng = np.random.RandomState(0)
        X = [f"GET /item?id={rng.randint(1000)}&q=shoes{rng.randint(9)} HTTP/1.1\r\nHost: shop\r\n\r\n".encode()
             for _ in range(60)]
        X += [{"method": "POST", "path": "/login", "body": {"user": f"user{i}"}, "service": "shop"} for i in range(20)]
        X_test = [X[0], b"GET /item?id=<script>alert(1)</script> HTTP/1.1\r\nHost: shop\r\n\r\n", b"",
                  b"\xff\xfe\x00GARBAGE", {"payload": b"\x00\x01", "port": 25}, None]
        return {"X": X, "y": None, "X_test": X_test, "params": {}}
