"""ProtocolAnomalyModel: a hierarchical generative model of normal application traffic."""

from __future__ import annotations

import zlib

import numpy as np
from sklearn.utils.validation import check_is_fitted

from .._kernels import protocol as kp
from .._ragged import to_ragged_bytes
from ..base import BaseDetector, Contribution, Explanation, OutlierDetectorMixin, handle_bad_items
from ..exceptions import InvalidParameterError
from ..hierarchy import fit_concentration
from .parsing import FLAG_NAMES, _Limits, parse_item

__all__ = ["ProtocolAnomalyModel"]

DEPTH = 4  # global -> service -> endpoint (or header / cookie / path group) -> parameter
TAG_METHOD, TAG_ENDPOINT, TAG_NAME, TAG_SHAPE = 0, 1, 2, 3
N_TAGS = 4
_TAG_TEXT = {TAG_METHOD: "method", TAG_ENDPOINT: "endpoint", TAG_NAME: "field name", TAG_SHAPE: "structure"}
_GROUP = {"header": "#header", "cookie": "#cookie", "path": "#path", "payload": "#payload"}
_SHAPE_SEED = 0x5EED
_ROOT_ALPHA = 1.0  # Dirichlet strength of the global categorical estimates towards their uniform base
_CACHE_ATTRS = ("_node_index", "_ngram_table", "_vocab_table")


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
    """A batch of parsed requests flattened into arrays for the kernels."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.values: list[bytes] = []
        self.field_req: list[int] = []
        self.field_chain: list[tuple] = []
        self.field_desc: list[tuple] = []
        self.sym: list[int] = []
        self.sym_tag: list[int] = []
        self.sym_req: list[int] = []
        self.sym_chain: list[tuple] = []
        self.sym_desc: list[str] = []
        self.flags = np.zeros(n, dtype=np.int64)
        self.req_chain = np.full((n, DEPTH), -1, dtype=np.int64)
        self.bad = np.zeros(n, dtype=bool)


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

    ``score_samples`` is the sum over the request's fields and components of
    the log-likelihood minus its average on normal training data (per byte
    for the per-byte components, per value otherwise), in nats: a
    log-likelihood ratio against "typical normal traffic of this size".
    Training items are scored leave-one-out (their own counts removed) to
    set ``offset_`` and the calibration, so ``contamination`` is an honest
    false-positive rate.

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
    node_keys_ : list of tuple
        Path of each hierarchy node (``()`` is the global node).
    node_parent_ : ndarray of int64
    alphas_ : dict
        Learned shrinkage strengths per component and level.
    baselines_ : dict
        Average training log-likelihood per component.
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

    def _nodes(self) -> dict:
        index = self.__dict__.get("_node_index")
        if index is None:
            index = {tuple(k): i for i, k in enumerate(self.node_keys_)}
            self._node_index = index
        return index

    def _node(self, key: tuple, grow: bool) -> int:
        index = self._nodes()
        nid = index.get(key)
        if nid is None:
            if not grow:
                return -1
            nid = len(self.node_keys_)
            index[key] = nid
            self.node_keys_.append(key)
            self._parents.append(index[key[:-1]])
        return nid

    # ---------------------------------------------------------------- batches
    def _parse(self, X) -> tuple[list, np.ndarray]:
        if isinstance(X, (str, bytes)):
            raise TypeError("expected a batch (a list of requests), got a single str/bytes")
        limits = _Limits(int(self.max_fields), int(self.max_value_bytes))
        parsed = [parse_item(item, mode=self.mode, limits=limits) for item in X]
        bad = np.array([p is None for p in parsed], dtype=bool)
        handle_bad_items(bad, "not str, bytes or dict", self.on_bad_input, items=X,
                         fallback_desc="threat_score 1.0")
        return parsed, bad

    def _collect(self, parsed: list, grow: bool, describe: bool = False) -> _Batch:
        batch = _Batch(len(parsed))
        node = self._node
        values, field_req, field_chain = batch.values, batch.field_req, batch.field_chain
        sym, sym_tag, sym_req, sym_chain = batch.sym, batch.sym_tag, batch.sym_req, batch.sym_chain
        hashes: dict[str, int] = {}

        def h(text: str) -> int:
            v = hashes.get(text)
            if v is None:
                v = zlib.crc32(text.encode("utf-8", "surrogatepass"))
                hashes[text] = v
            return v

        for i, req in enumerate(parsed):
            if req is None:
                batch.bad[i] = True
                continue
            s = (req.service,)
            sid = node(s, grow)
            base = (0, sid, -1, -1)
            batch.req_chain[i] = base
            batch.flags[i] = req.flags
            if req.method:
                sym.append(h(req.method)); sym_tag.append(TAG_METHOD); sym_req.append(i); sym_chain.append(base)
                if describe:
                    batch.sym_desc.append(req.method)
            if req.endpoint != "#payload":
                sym.append(h(req.endpoint)); sym_tag.append(TAG_ENDPOINT); sym_req.append(i); sym_chain.append(base)
                if describe:
                    batch.sym_desc.append(req.endpoint)
            groups: dict[str, int] = {}
            for location, name, value in req.fields:
                group = _GROUP.get(location, req.endpoint)
                gid = groups.get(group)
                if gid is None:
                    gid = node((req.service, group), grow) if sid >= 0 else -1
                    groups[group] = gid
                pid = node((req.service, group, name), grow) if gid >= 0 else -1
                chain = (0, sid, gid, pid)
                values.append(value); field_req.append(i); field_chain.append(chain)
                sym.append(h(name)); sym_tag.append(TAG_NAME); sym_req.append(i); sym_chain.append((0, sid, gid, -1))
                if describe:
                    batch.sym_desc.append(name)
                    where = "" if location in _GROUP else f" at {req.endpoint}"
                    batch.field_desc.append((location, name, where))
        return batch

    # ------------------------------------------------------------- statistics
    def _reset(self) -> None:
        for attr in [a for a in self.__dict__ if a.endswith("_") and not a.startswith("__")] + list(_CACHE_ATTRS):
            self.__dict__.pop(attr, None)
        self.node_keys_ = [()]
        self._parents = [-1]
        self._node_index = {(): 0}
        k = int(self.ngram_order)
        self.ngram_keys_ = np.zeros(0, dtype=np.int64)
        self.ngram_counts_ = np.zeros(0, dtype=np.float64)
        self.vocab_keys_ = np.zeros(0, dtype=np.int64)
        self.vocab_counts_ = np.zeros(0, dtype=np.float64)
        self.len_counts_ = np.zeros((1, kp.N_LEN_BINS))
        self.class_counts_ = np.zeros((1, kp.N_CLASSES))
        self.vocab_totals_ = np.zeros((1, N_TAGS))
        self.flag_counts_ = np.zeros((1, len(FLAG_NAMES)))
        self.request_counts_ = np.zeros(1)
        self.fitted_order_ = k
        self.n_samples_seen_ = 0

    def _grow_dense(self) -> None:
        n = len(self.node_keys_)
        for attr in ("len_counts_", "class_counts_", "vocab_totals_", "flag_counts_"):
            arr = getattr(self, attr)
            if arr.shape[0] < n:
                setattr(self, attr, np.vstack([arr, np.zeros((n - arr.shape[0], arr.shape[1]))]))
        if self.request_counts_.shape[0] < n:
            self.request_counts_ = np.r_[self.request_counts_, np.zeros(n - self.request_counts_.shape[0])]
        self.node_parent_ = np.asarray(self._parents, dtype=np.int64)

    @staticmethod
    def _merge(keys_a, counts_a, keys_b, counts_b):
        keys = np.concatenate([keys_a, keys_b])
        counts = np.concatenate([counts_a, counts_b])
        uniq, inverse = np.unique(keys, return_inverse=True)
        return uniq, np.bincount(inverse, weights=counts, minlength=len(uniq))

    def _arrays(self, batch: _Batch):
        ragged = to_ragged_bytes(batch.values)
        fchains = np.array(batch.field_chain, dtype=np.int64).reshape(-1, DEPTH)
        schains = np.array(batch.sym_chain, dtype=np.int64).reshape(-1, DEPTH)
        return ragged, fchains, schains

    def _accumulate(self, batch: _Batch) -> None:
        self._grow_dense()
        ragged, fchains, schains = self._arrays(batch)
        order = self.fitted_order_
        keys = kp.ngram_keys(ragged.data, ragged.offsets, fchains, order)
        uniq, counts = np.unique(keys, return_counts=True)
        self.ngram_keys_, self.ngram_counts_ = self._merge(self.ngram_keys_, self.ngram_counts_, uniq,
                                                           counts.astype(np.float64))
        bins = kp.length_bins(ragged.offsets, kp.N_LEN_BINS)
        hist = kp.class_histograms(ragged.data, ragged.offsets, kp.CLASS_OF, kp.N_CLASSES)
        shapes = kp.shape_hashes(ragged.data, ragged.offsets, kp.CLASS_OF, _SHAPE_SEED)
        sym = np.array(batch.sym, dtype=np.int64)
        tags = np.array(batch.sym_tag, dtype=np.int64)
        all_sym = np.r_[sym, shapes]
        all_tags = np.r_[tags, np.full(len(shapes), TAG_SHAPE)]
        all_chains = np.vstack([schains, fchains])
        vkeys = []
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
            rok = (rn >= 0) & ~batch.bad
            np.add.at(self.request_counts_, rn[rok], 1.0)
            bits = (batch.flags[rok, None] >> np.arange(len(FLAG_NAMES))) & 1
            np.add.at(self.flag_counts_, rn[rok], bits.astype(np.float64))
        vkeys = np.concatenate(vkeys) if vkeys else np.zeros(0, np.int64)
        uniq, counts = np.unique(vkeys, return_counts=True)
        self.vocab_keys_, self.vocab_counts_ = self._merge(self.vocab_keys_, self.vocab_counts_, uniq,
                                                           counts.astype(np.float64))
        self.n_samples_seen_ += int((~batch.bad).sum())
        self.__dict__.pop("_ngram_table", None)
        self.__dict__.pop("_vocab_table", None)

    def _tables(self):
        ng = self.__dict__.get("_ngram_table")
        if ng is None:
            ng = kp.table_build(self.ngram_keys_, self.ngram_counts_)
            self._ngram_table = ng
        vt = self.__dict__.get("_vocab_table")
        if vt is None:
            vt = kp.table_build(self.vocab_keys_, self.vocab_counts_)
            self._vocab_table = vt
        return ng, vt

    def _level_of_nodes(self) -> np.ndarray:
        return np.array([len(k) for k in self.node_keys_], dtype=np.int64)

    def _fit_alphas(self) -> None:
        fixed = None if self.prior_strength is None else float(self.prior_strength)
        level = self._level_of_nodes()
        parent = self.node_parent_
        order = self.fitted_order_
        (tk, tv), (vk, vv) = self._tables()

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
                base = kp.vocab_parent_probs(self.vocab_keys_[cells], parent, vk, vv, self.vocab_totals_, valphas)
                nodes = np.unique(vnode[cells])
                valphas[tag, lvl] = fit_concentration(self.vocab_totals_[nodes, tag], self.vocab_counts_[cells], base)
        self.alphas_["vocab"] = valphas
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
    def _components(self, batch: _Batch, loo: bool) -> dict:
        """Raw log-likelihood of every component, per field / symbol / request."""
        ragged, fchains, schains = self._arrays(batch)
        (tk, tv), (vk, vv) = self._tables()
        a = self.alphas_
        lengths = ragged.lengths.astype(np.float64)
        bins = kp.length_bins(ragged.offsets, kp.N_LEN_BINS)
        onehot = np.zeros((len(bins), kp.N_LEN_BINS))
        onehot[np.arange(len(bins)), bins] = 1.0
        n_nodes = len(self.node_keys_)
        safe = np.where(fchains < n_nodes, fchains, -1)
        ll_len = kp.dense_chain_loglik(onehot, safe, self.len_counts_, self.len_counts_.sum(axis=1), a["length"],
                                       np.full(kp.N_LEN_BINS, 1.0 / kp.N_LEN_BINS), loo)
        hist = kp.class_histograms(ragged.data, ragged.offsets, kp.CLASS_OF, kp.N_CLASSES)
        ll_cls = kp.dense_chain_loglik(hist, safe, self.class_counts_, self.class_counts_.sum(axis=1),
                                       a["classes"], np.full(kp.N_CLASSES, 1.0 / kp.N_CLASSES), loo)
        lp = kp.ngram_logprobs(ragged.data, ragged.offsets, safe, tk, tv, self.fitted_order_, a["ngram"],
                               a["ngram_orders"], loo)
        ll_ng = np.add.reduceat(lp, ragged.offsets[:-1]) if len(lp) else np.zeros(len(lengths))
        ll_ng[lengths == 0] = 0.0
        shapes = kp.shape_hashes(ragged.data, ragged.offsets, kp.CLASS_OF, _SHAPE_SEED)
        sym = np.r_[np.array(batch.sym, dtype=np.int64), shapes]
        tags = np.r_[np.array(batch.sym_tag, dtype=np.int64), np.full(len(shapes), TAG_SHAPE)]
        chains = np.vstack([schains, fchains])
        chains = np.where(chains < n_nodes, chains, -1)
        ll_sym = kp.vocab_logprob(sym, tags, chains, vk, vv, self.vocab_totals_, a["vocab"], loo)
        # parse anomalies
        rc, fc = self.request_counts_, self.flag_counts_
        bits = ((batch.flags[:, None] >> np.arange(len(FLAG_NAMES))) & 1).astype(np.float64)
        own = bits if loo else 0.0
        p = (fc[0] - own + 0.5) / (rc[0] - (1.0 if loo else 0.0) + 1.0)
        svc = batch.req_chain[:, 1]
        known = (svc >= 0) & (svc < n_nodes)
        alpha = a["flags"]
        ps = np.where(known[:, None], (fc[np.maximum(svc, 0)] - own + alpha * p)
                      / (rc[np.maximum(svc, 0)][:, None] - (1.0 if loo else 0.0) + alpha), p)
        ps = np.clip(ps, 1e-12, 1 - 1e-12)
        ll_flags = bits * np.log(ps) + (1 - bits) * np.log1p(-ps)
        return {"lengths": lengths, "len": ll_len, "cls": ll_cls, "ng": ll_ng, "lp": lp, "ragged": ragged,
                "sym": ll_sym[: len(batch.sym)], "shape": ll_sym[len(batch.sym):], "flags": ll_flags,
                "fchains": fchains}

    def _relative(self, comp: dict, batch: _Batch) -> dict:
        """Each component minus its normal-traffic baseline (per byte or per value)."""
        b = self.baselines_
        L = comp["lengths"]
        tags = np.array(batch.sym_tag, dtype=np.int64)
        return {
            "len": comp["len"] - b["length"],
            "cls": comp["cls"] - b["classes"] * L,
            "ng": comp["ng"] - b["ngram"] * L,
            "shape": comp["shape"] - b["structure"],
            "sym": comp["sym"] - np.asarray(b["names"])[tags] if len(tags) else comp["sym"],
            "flags": comp["flags"] - np.asarray(b["flags"]),
        }

    def _request_scores(self, rel: dict, batch: _Batch) -> np.ndarray:
        n = batch.n
        fr = np.array(batch.field_req, dtype=np.int64)
        sr = np.array(batch.sym_req, dtype=np.int64)
        field_total = rel["len"] + rel["cls"] + rel["ng"] + rel["shape"]
        out = np.bincount(fr, weights=field_total, minlength=n)[:n] if len(fr) else np.zeros(n)
        if len(sr):
            out = out + np.bincount(sr, weights=rel["sym"], minlength=n)[:n]
        out = out + rel["flags"].sum(axis=1)
        out[batch.bad] = np.nan
        return out

    def _fit_baselines(self, comp: dict, batch: _Batch) -> None:
        L = comp["lengths"]
        total_bytes = max(float(L.sum()), 1.0)
        tags = np.array(batch.sym_tag, dtype=np.int64)
        names = np.zeros(N_TAGS)
        for tag in range(N_TAGS):
            sel = tags == tag
            names[tag] = float(comp["sym"][sel].mean()) if sel.any() else 0.0
        ok = ~batch.bad
        self.baselines_ = {
            "length": float(comp["len"].mean()) if len(L) else 0.0,
            "classes": float(comp["cls"].sum() / total_bytes),
            "ngram": float(comp["ng"].sum() / total_bytes),
            "structure": float(comp["shape"].mean()) if len(L) else 0.0,
            "names": names.tolist(),
            "flags": comp["flags"][ok].mean(axis=0).tolist() if ok.any() else [0.0] * len(FLAG_NAMES),
        }

    def _train(self, X, reset: bool) -> "ProtocolAnomalyModel":
        self._validate_params()
        parsed, bad = self._parse(X)
        if reset:
            if len(parsed) == 0 or bad.all():
                raise InvalidParameterError("cannot fit on an empty batch (or one without a usable request)")
            self._reset()
        elif "_parents" not in self.__dict__:
            self._parents = list(self.node_parent_)
        batch = self._collect(parsed, grow=True)
        self._accumulate(batch)
        self._grow_dense()
        self._fit_alphas()
        if batch.n and not batch.bad.all():
            comp = self._components(batch, loo=True)
            self._fit_baselines(comp, batch)
            scores = self._request_scores(self._relative(comp, batch), batch)
            self._fit_threshold(scores[~batch.bad])
        return self

    def fit(self, X, y=None) -> "ProtocolAnomalyModel":
        """Fit on a batch of normal requests (raw, parsed records or payloads)."""
        return self._train(X, reset=True)

    def partial_fit(self, X, y=None) -> "ProtocolAnomalyModel":
        """Add normal requests: counts add up, strengths, baselines and threshold are refitted on this batch."""
        if not hasattr(self, "node_keys_"):
            return self._train(X, reset=True)
        return self._train(X, reset=False)

    def _score(self, X, describe: bool = False):
        check_is_fitted(self, "offset_")
        parsed, bad = self._parse(X)
        batch = self._collect(parsed, grow=False, describe=describe)
        comp = self._components(batch, loo=False)
        rel = self._relative(comp, batch)
        return self._request_scores(rel, batch), batch, comp, rel, parsed

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
        scores, batch, comp, rel, parsed = self._score(X, describe=True)
        threat = self.calibrator_.transform(-scores)
        items: list[list[Contribution]] = [[] for _ in range(batch.n)]
        ragged = comp["ragged"]
        fchains = comp["fchains"]
        lp = comp["lp"]
        for f, req in enumerate(batch.field_req):
            location, name, where = batch.field_desc[f]
            label = f"{location} `{name}`{where}"
            value = batch.values[f]
            node = self._deepest(fchains[f])
            unseen = fchains[f, 3] < 0 or fchains[f, 3] >= len(self.node_keys_)
            for key, weight in (("len", -rel["len"][f]), ("cls", -rel["cls"][f]), ("ng", -rel["ng"][f]),
                                ("shape", -rel["shape"][f])):
                if weight <= 0:
                    continue
                if key == "len":
                    lo, hi = _len_range(self.len_counts_[node])
                    msg = f"length {len(value)} vs typical {lo}-{hi}"
                    comp_name = "length"
                elif key == "cls":
                    msg = self._class_message(value, fchains[f])
                    comp_name = "characters"
                elif key == "ng":
                    s, e = ragged.offsets[f], ragged.offsets[f + 1]
                    msg = self._ngram_message(value, lp[s:e])
                    comp_name = "byte sequence"
                else:
                    msg = f"structure `{_shape_text(value)}` rare or never seen"
                    comp_name = "structure"
                if unseen and key in ("len", "cls", "shape"):
                    msg += " (field unseen in training: judged by its parent)"
                items[req].append(Contribution(f"{label}: {comp_name}", msg, float(weight)))
        for s_idx, req in enumerate(batch.sym_req):
            weight = -rel["sym"][s_idx]
            if weight > 0:
                tag = batch.sym_tag[s_idx]
                items[req].append(Contribution(f"{_TAG_TEXT[tag]} `{batch.sym_desc[s_idx]}`",
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

    def _deepest(self, chain) -> int:
        node = 0
        for nd in chain:
            if 0 <= nd < len(self.node_keys_):
                node = int(nd)
            else:
                break
        return node

    def _class_message(self, value: bytes, chain) -> str:
        node = self._deepest(chain)
        classes = kp.CLASS_OF[np.frombuffer(value, dtype=np.uint8)]
        seen_here = self.class_counts_[node] > 0
        seen_global = self.class_counts_[0] > 0
        new_here, new_all = [], []
        for b, c in zip(value, classes):
            ch = chr(b) if 32 <= b < 127 else f"\\x{b:02x}"
            if not seen_global[c] and ch not in new_all:
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
