"""URLClassifier: learned URL / domain maliciousness that extends blocklists.

A batch of URLs becomes one ragged UTF-8 buffer; numba kernels
(:mod:`secml_detect._kernels.url`) parse each URL once and write

* lexical statistics (lengths of URL / host / path / query, counts of digits,
  special characters and dots, subdomain depth, entropy, IP-literal host,
  port, suspicious tokens, public suffix from the Public Suffix List);
* the log-likelihood of the registered label under two character language
  models (benign and malicious), learned from the training labels;
* hashed character n-grams of the whole URL, of the registered label and the
  public suffix as one token,

straight into one CSR matrix that a logistic model (stochastic gradient
descent with log loss, so ``partial_fit`` can update it online) scores.
"""

from __future__ import annotations

import copy
import functools
import warnings

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.linear_model import SGDClassifier
from sklearn.utils import metadata_routing
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.validation import check_is_fitted

from ._kernels import url as ku
from ._ragged import RaggedArray, to_ragged_bytes
from ._url_ip import check_ip_model, ip_block, ip_block_names
from .base import BaseDetector, ClassifierDetectorMixin, Contribution, Explanation, handle_bad_items
from .exceptions import BadInputWarning, InvalidParameterError

__all__ = ["URLClassifier", "URLFeatures", "SUSPICIOUS_TOKENS", "public_suffix_rules"]

#: Substrings counted by the ``suspicious_tokens`` feature (case-insensitive).
SUSPICIOUS_TOKENS = (
    "login", "logon", "signin", "sign-in", "verify", "verification", "account", "update", "secure",
    "security", "banking", "confirm", "webscr", "password", "passwd", "wallet", "billing", "invoice",
    "unlock", "suspend", "recover", "support", "paypal", "apple", "microsoft", "office365", "outlook",
    "amazon", "netflix", "admin", "wp-", ".php", ".exe", ".zip", ".apk", ".scr", ".js", "free", "bonus",
    "lucky", "gift", "ipfs", "@", "bit.ly", "000webhost", "dropbox", "docs.google", "drive.google",
)

# Columns of the lexical block that are counts or lengths (log1p-scaled).
_COUNT_COLUMNS = np.array([
    name not in {"domain_vowel_ratio", "url_entropy", "host_entropy", "domain_entropy", "ip_host", "has_port",
                 "port_nonstandard", "has_scheme", "is_https", "has_userinfo", "punycode", "no_suffix",
                 "bare_host"}
    for name in ku.LEXICAL_FEATURES
])
LM_FEATURES = ("domain_lm_benign", "domain_lm_malicious", "domain_lm_ratio", "domain_lm_ratio_total")
_IP_HOST = ku.LEXICAL_FEATURES.index("ip_host")


@functools.lru_cache(maxsize=2)
def public_suffix_rules(private: bool = True) -> tuple[str, ...]:
    """Public Suffix List rules from tldextract's bundled snapshot (no network).

    Parameters
    ----------
    private : bool, default=True
        Include the private section (``azurewebsites.net``, ``github.io``...),
        so that tenants of shared hosting get their own registered label.

    Examples
    --------
    >>> rules = public_suffix_rules()
    >>> "com" in rules and "co.uk" in rules
    True
    """
    import tldextract

    extractor = tldextract.TLDExtract(cache_dir=None, suffix_list_urls=(), fallback_to_snapshot=True,
                                      include_psl_private_domains=private)
    tlds = extractor._get_tld_extractor()
    rules = tlds.tlds_incl_private if private else tlds.tlds_excl_private
    return tuple(sorted(rules))


def _hash_set(rules: list[bytes]) -> np.ndarray:
    if not rules:
        return np.zeros(0, dtype=np.uint64)
    r = to_ragged_bytes([rule[::-1] for rule in rules])  # reversed: see _find_suffix
    return np.unique(ku.span_hashes(r.data, r.offsets[:-1], r.offsets[1:]))


def _suffix_tables(private: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    exact, wild, exc = [], [], []
    for rule in public_suffix_rules(private):
        forms = {rule.encode("utf-8")}
        try:
            forms.add(rule.encode("idna"))
        except UnicodeError:
            pass
        for raw in forms:
            if raw.startswith(b"!"):
                exc.append(raw[1:])
            elif raw.startswith(b"*."):
                wild.append(raw[2:])
            else:
                exact.append(raw)
    return _hash_set(exact), _hash_set(wild), _hash_set(exc)


@functools.lru_cache(maxsize=8)
def _token_table(tokens: tuple) -> tuple[np.ndarray, ...]:
    """Suspicious tokens as the kernel reads them (see :func:`~secml_detect._kernels.url.url_lexical`).

    One-byte tokens are counted from a 256-entry table. Longer ones are found
    by the hash of their first three lower-cased bytes: a bit set of those
    slots (8 KiB, stays in cache) passes few positions, and the slot's bucket
    lists the tokens to compare there.
    """
    toks = sorted({t.lower().encode("utf-8") for t in tokens if t})
    r = to_ragged_bytes(toks)
    single = np.zeros(256, dtype=np.uint8)
    members: dict[int, list[int]] = {}
    for t_id, t in enumerate(toks):
        if len(t) == 1:
            single[t[0]] = 1
            continue
        trigrams = [t[0] << 16 | t[1] << 8 | x for x in range(256)] if len(t) == 2 else [t[0] << 16 | t[1] << 8 | t[2]]
        for slot in {int(ku._trigram_slot(tri)) for tri in trigrams}:
            members.setdefault(slot, []).append(t_id)
    bits = np.zeros(8192, dtype=np.uint8)
    bucket = np.zeros(65536, dtype=np.uint16)
    bucket_ids: dict[tuple, int] = {}
    bucket_start = [0]  # the bit set says which slots have a bucket
    bucket_tokens: list[int] = []
    for slot, ids in members.items():
        bits[slot >> 3] |= 1 << (slot & 7)
        key = tuple(ids)
        if key not in bucket_ids:
            bucket_ids[key] = len(bucket_start) - 1  # < 65536: at most one bucket per slot
            bucket_tokens.extend(ids)
            bucket_start.append(len(bucket_tokens))
        bucket[slot] = bucket_ids[key]
    return (r.data, r.offsets, single, bits, bucket, np.array(bucket_start, dtype=np.int64),
            np.array(bucket_tokens, dtype=np.int64))


def _to_ragged(X, max_len: int) -> RaggedArray:
    if isinstance(X, (str, bytes)):
        raise TypeError("expected a batch of URLs (a list), got a single str/bytes")
    return to_ragged_bytes(X, max_len=max_len)


def _gram_hash32(raw: bytes, seed: int, g: int | None) -> int:
    h = (2166136261 ^ seed) & 0xFFFFFFFF
    for b in raw:
        h = ((h ^ b) * 16777619) & 0xFFFFFFFF
    if g is not None:
        h = ((h ^ g) * 16777619) & 0xFFFFFFFF
    return h


class URLFeatures(TransformerMixin, BaseEstimator):
    """URL batch -> CSR matrix of lexical statistics and hashed n-grams.

    ``fit`` only builds the lookup tables (public suffixes, suspicious
    tokens); it learns nothing from the data, so any URL batch works.

    Parameters
    ----------
    n_features : int, default=2**20
        Width of the hashed n-gram block.
    ngram_range : tuple (min_n, max_n), default=(3, 5)
        Lengths of the byte n-grams of the lower-cased URL.
    domain_weight : float, default=1.0
        Weight of the registered-label n-grams and the suffix token (before
        the hashed block is scaled to unit norm).
    private_suffixes : bool, default=True
        Use the private section of the Public Suffix List.
    max_len : int, default=2048
        Bytes of each URL read (longer ones are truncated, bounded work).
    seed : int, default=0
        Hash seed.

    Notes
    -----
    The hashed block of a row is scaled by ``1 / sqrt(sum of squared gram
    weights)``, counting each gram occurrence. Two grams hashed to the same
    column appear as two entries of the row (CSR consumers add them up; call
    ``sum_duplicates()`` for a canonical matrix): this keeps the kernel free
    of per-row deduplication.

    Attributes
    ----------
    suffix_exact_, suffix_wild_, suffix_exc_ : ndarray of uint64
        Hash sets of the Public Suffix List rules (sorted).
    suffix_table_ : ndarray of uint64
        The same sets as one open-addressing table (what the kernel reads).
    feature_names_ : list of str
        Names of the dense (lexical) columns; hashed columns follow.

    Examples
    --------
    >>> f = URLFeatures(n_features=2**10).fit([])
    >>> X = f.transform(["http://paypal.com.secure-login.xyz/verify", "example.org"])
    >>> X.shape
    (2, 1073)
    >>> lex = f.lexical(["http://a.b.example.co.uk:8080/x?q=1"])
    >>> {k: float(lex[0][f.feature_names_.index(k)]) for k in ("subdomain_depth", "suffix_labels", "port_nonstandard")}
    {'subdomain_depth': 2.0, 'suffix_labels': 2.0, 'port_nonstandard': 1.0}
    """

    def __init__(self, n_features: int = 2**20, ngram_range: tuple = (3, 5), domain_weight: float = 1.0,
                 private_suffixes: bool = True, max_len: int = 2048, seed: int = 0) -> None:
        self.n_features = n_features
        self.ngram_range = ngram_range
        self.domain_weight = domain_weight
        self.private_suffixes = private_suffixes
        self.max_len = max_len
        self.seed = seed

    def fit(self, X=None, y=None) -> "URLFeatures":
        """Build the lookup tables (``X`` is ignored)."""
        lo, hi = (int(v) for v in self.ngram_range)
        if not 1 <= lo <= hi:
            raise InvalidParameterError(f"ngram_range must satisfy 1 <= min_n <= max_n, got {self.ngram_range!r}")
        if not 1 <= int(self.n_features) <= 2**31 - 1:
            raise InvalidParameterError(f"n_features must be in [1, 2**31), got {self.n_features!r}")
        if not int(self.max_len) > 0:
            raise InvalidParameterError(f"max_len must be > 0, got {self.max_len!r}")
        self.suffix_exact_, self.suffix_wild_, self.suffix_exc_ = _suffix_tables(bool(self.private_suffixes))
        self.suffix_table_ = ku.build_suffix_table(self.suffix_exact_, self.suffix_wild_, self.suffix_exc_)
        self.tokens_ = list(SUSPICIOUS_TOKENS)
        self.feature_names_ = list(ku.LEXICAL_FEATURES)
        return self

    @property
    def _tok(self):
        # Derived from tokens_ (cached by value, outside the saved state).
        return _token_table(tuple(self.tokens_))

    def to_ragged(self, X) -> RaggedArray:
        """The batch as a ragged UTF-8 buffer (``missing`` flags non-text items)."""
        return _to_ragged(X, int(self.max_len))

    def lexical_ragged(self, ragged: RaggedArray) -> tuple[np.ndarray, np.ndarray]:
        """Raw lexical features ``(n, len(feature_names_))`` and host spans of a ragged batch."""
        check_is_fitted(self, "suffix_exact_")
        return ku.url_lexical(ragged.data, ragged.offsets, self.suffix_table_, *self._tok)

    def lexical(self, X) -> np.ndarray:
        """Raw (unscaled) lexical features of a batch, columns ``feature_names_``."""
        return self.lexical_ragged(self.to_ragged(X))[0]

    @staticmethod
    def scale_lexical(lex: np.ndarray) -> np.ndarray:
        """``log1p`` of the count / length columns; ratios, entropies and flags as they are."""
        out = np.empty_like(lex, dtype=np.float64)
        ku.log1p_columns(np.ascontiguousarray(lex, dtype=np.float64), _COUNT_COLUMNS, out)
        return out

    def csr(self, ragged: RaggedArray, spans: np.ndarray, dense: np.ndarray) -> sp.csr_matrix:
        """CSR of ``dense`` columns followed by the hashed n-gram block."""
        lo, hi = (int(v) for v in self.ngram_range)
        indptr, indices, values = ku.url_hashed_csr(
            ragged.data, ragged.offsets, spans, np.ascontiguousarray(dense, dtype=np.float64), lo, hi,
            int(self.n_features), int(self.seed), float(self.domain_weight))
        return sp.csr_matrix((values, indices, indptr), shape=(len(ragged), dense.shape[1] + int(self.n_features)))

    def url_ngrams(self, X) -> sp.csr_matrix:
        """The URL's hashed char n-grams alone (no lexical columns, label grams or suffix token).

        The same hashing as the n-gram block of :meth:`transform`, scaled to
        unit norm over the URL grams: what ``HashingVectorizer(analyzer="char",
        ngram_range=ngram_range, alternate_sign=False)`` computes, over the
        lower-cased UTF-8 bytes (ASCII case folding) instead of characters.
        Duplicate columns are kept (see Notes).

        Examples
        --------
        >>> f = URLFeatures(n_features=2**10).fit()
        >>> X = f.url_ngrams(["example.org"])
        >>> X.shape, X.nnz  # 9 + 8 + 7 grams of 3, 4 and 5 bytes
        ((1, 1024), 24)
        """
        check_is_fitted(self, "suffix_exact_")
        ragged = self.to_ragged(X)
        n = len(ragged)
        lo, hi = (int(v) for v in self.ngram_range)
        indptr, indices, values = ku.url_hashed_csr(
            ragged.data, ragged.offsets, np.zeros((n, 5), dtype=np.int64), np.zeros((n, 0)), lo, hi,
            int(self.n_features), int(self.seed), float(self.domain_weight), with_domain=False)
        return sp.csr_matrix((values, indices, indptr), shape=(n, int(self.n_features)))

    def linear_scores(self, ragged: RaggedArray, spans: np.ndarray, dense: np.ndarray, coef: np.ndarray,
                      intercept: float) -> np.ndarray:
        """``csr(ragged, spans, dense) @ coef + intercept`` without building the matrix."""
        lo, hi = (int(v) for v in self.ngram_range)
        return ku.url_linear_scores(
            ragged.data, ragged.offsets, spans, np.ascontiguousarray(dense, dtype=np.float64), lo, hi,
            int(self.n_features), int(self.seed), float(self.domain_weight),
            np.ascontiguousarray(coef), float(intercept))

    def transform(self, X) -> sp.csr_matrix:
        """Scaled lexical columns then hashed n-grams (non-text items give empty-string rows)."""
        ragged = self.to_ragged(X)
        lex, spans = self.lexical_ragged(ragged)
        return self.csr(ragged, spans, self.scale_lexical(lex))

    def gram_columns(self, url) -> dict[int, list[str]]:
        """Hashed-block column (0-based within the block) -> the n-grams of ``url`` hashed there.

        Slow (pure Python around the hash); meant for explanations.
        """
        ragged = self.to_ragged([url])
        _, spans = self.lexical_ragged(ragged)
        raw = ragged.data.tobytes().strip(bytes(range(33)))
        low = raw.lower()
        out: dict[int, list[str]] = {}
        lo, hi = (int(v) for v in self.ngram_range)
        nf, seed = int(self.n_features), int(self.seed)

        def add(raw, s, g, text):
            out.setdefault(_gram_hash32(raw, s, g) % nf, []).append(text)

        for g in range(lo, hi + 1):
            for p in range(len(low) - g + 1):
                add(low[p:p + g], seed, g, low[p:p + g].decode("utf-8", "backslashreplace"))
        data = ragged.data
        hs, he, ss, ds, de = (int(v) for v in spans[0])
        framed = b"\x02" + data[ds:de].tobytes().lower() + b"\x03"
        for g in range(2, 5):
            for p in range(len(framed) - g + 1):
                text = framed[p:p + g].decode("utf-8", "backslashreplace").replace("\x02", "^").replace("\x03", "$")
                add(framed[p:p + g], seed + 100, g, "domain:" + text)
        suffix = data[ss:he].tobytes().lower()
        add(b"\x02" + suffix + b"\x03", seed + 200, None, "suffix:." + suffix.decode("utf-8", "backslashreplace"))
        return out


class URLClassifier(ClassifierDetectorMixin, BaseDetector):
    """Binary classifier of URLs (or bare domains): malicious vs benign.

    Features (see :class:`URLFeatures`): lexical statistics, hashed character
    n-grams of the URL, of the registered label and of the public suffix, and
    four character-language-model features of the registered label: its
    per-symbol log-probability under a benign and a malicious character
    n-gram model (Dirichlet-smoothed, interpolated from order 1 up to
    ``lm_order``), and their difference. The language models generalise to
    bare domains with no path to give them away. During ``fit`` their features
    are computed **out of fold** (folds by registered label), so a training
    label never scores itself; ``partial_fit`` scores a batch before adding it.

    The model is :class:`~sklearn.linear_model.SGDClassifier` with log loss,
    so ``predict_proba`` is a logistic probability and ``partial_fit`` updates
    it online (and the language models with it).

    Parameters
    ----------
    n_features : int, default=2**20
        Width of the hashed n-gram block.
    ngram_range : tuple, default=(3, 5)
        Byte n-gram lengths over the lower-cased URL.
    domain_weight : float, default=0.5
        Weight of the registered-label n-grams and suffix token.
    lm_order : int, default=5
        Longest n-gram (context + 1 symbol) of the label language models;
        0 disables them.
        (5 and ``domain_weight=0.5`` won a cross-validation on the URL
        benchmark's temporal training split, folds by registered domain.)
    lm_strength : float, default=2.0
        Dirichlet strength pulling each context towards the shorter one.
    lm_bits : int, default=18
        Each language model keeps ``2**lm_bits`` hashed counts.
    lm_folds : int, default=5
        Folds (by registered label) for the out-of-fold language-model features.
    alpha : float or "auto", default="auto"
        L2 regularisation of the SGD model. ``"auto"``: ``0.3 / n`` for ``n``
        training URLs (those of ``fit``, or of the first ``partial_fit``
        batch), a prior that weighs the same against a hundred URLs as
        against a million: 3e-6 at 100k URLs, 5e-5 at 6k, 3e-3 at 100.
    max_iter : int, default=15
        Epochs of ``fit``. Small training sets get more, so that ``fit``
        makes at least ``20 * alpha ** -0.75`` SGD updates (112k at
        ``alpha=1e-5``: 15 epochs of 100 URLs left SGD's steps too large to
        settle, and benign URLs scored up to 0.98).
    class_weight : dict, "balanced" or None, default="balanced"
        Blocklists and benign lists rarely come in equal sizes. ``"balanced"``
        weights are computed from the ``fit`` batch (or the first
        ``partial_fit`` batch) and then kept for later ``partial_fit`` calls.
    benign_weight : float, default=2.0
        Multiplies the benign class's weight (after ``class_weight``): a
        false positive costs that many missed URLs, which pushes the benign
        tail down where a low false-positive rate is the operating point
        (scores then read lower than a balanced model's).
    private_suffixes : bool, default=True
        Use the private section of the Public Suffix List (tenants of
        ``azurewebsites.net`` get their own registered label).
    max_len : int, default=2048
        Bytes of each URL read; longer URLs are scored on their first
        ``max_len`` bytes.
    random_state : int, default=0
    on_bad_input : {"fallback", "raise"}, default="fallback"
        Items that are not ``str``/``bytes`` (``None``, numbers) get
        ``threat_score = 0.5`` (no evidence either way) and
        ``predict_proba = [0.5, 0.5]`` with a
        :class:`~secml_detect.exceptions.BadInputWarning`, or raise
        :class:`~secml_detect.exceptions.InvalidItemError` naming the index.
        Malformed strings (no scheme, invalid percent-escapes, junk bytes,
        the empty string) are not errors: they are parsed as far as possible
        and scored like any URL.
    ip_model : IPReputationClassifier, IPSpatialFeatures or None, default=None
        A **fitted** IP model (for example trained on a blocklist snapshot
        and background addresses). When set, URLs whose host is an IPv4 or
        IPv6 literal get its view of the address as extra dense columns
        (``ip_reputation_logodds``, or the ``ip_``-prefixed spatial
        features); other rows get zeros. Those URLs have no registered
        label for the language models to judge, so the address
        neighbourhood is what is left. Scoring uses the model as it is at
        that time, so refit the URLClassifier after changing it; ``clone``
        returns an unfitted copy of it, which ``fit`` refuses. Train it on
        addresses listed before the URLs it will score (an address that
        labels a URL should not also vouch for it).

    Attributes
    ----------
    classes_ : ndarray of shape (2,)
    features_ : URLFeatures
    model_ : SGDClassifier
    lm_table_ : ndarray of shape (2**lm_bits + 1, 2)
        Hashed n-gram counts of the benign (column 0) and malicious (column 1)
        labels; the last row counts symbols.
    feature_names_ : list of str
        Names of the dense columns (lexical then language model).
    dense_mean_, dense_scale_ : ndarray
        Standardisation of the dense columns (training statistics; with
        ``partial_fit`` from scratch, those of the first batch).

    Examples
    --------
    >>> benign = ["https://www.wikipedia.org/wiki/Cat", "https://github.com/numpy/numpy", "example.com"] * 10
    >>> bad = ["http://paypal.com.secure-verify.xyz/login.php", "http://192.168.4.1/bank/update",
    ...        "hxxp://xn--pypal-4ve.com/signin"] * 10
    >>> clf = URLClassifier(n_features=2**12).fit(benign + bad, [0] * 30 + [1] * 30)
    >>> s = clf.threat_score(["https://www.wikipedia.org/wiki/Dog", "http://secure-login.paypal.com.verify.top/"])
    >>> bool(s[1] > s[0])
    True
    """

    fallback_threat_score = 0.5
    # Nothing to route: no set_partial_fit_request / set_score_request methods
    # (their generated docstrings also break the docs build).
    __metadata_request__partial_fit = {"classes": metadata_routing.UNUSED}

    def __init__(self, n_features: int = 2**20, ngram_range: tuple = (3, 5), domain_weight: float = 0.5,
                 lm_order: int = 5, lm_strength: float = 2.0, lm_bits: int = 18, lm_folds: int = 5,
                 alpha: float | str = "auto", max_iter: int = 15, class_weight="balanced",
                 benign_weight: float = 2.0, private_suffixes: bool = True, max_len: int = 2048,
                 random_state: int | None = 0, on_bad_input: str = "fallback", ip_model=None) -> None:
        self.n_features = n_features
        self.ngram_range = ngram_range
        self.domain_weight = domain_weight
        self.lm_order = lm_order
        self.lm_strength = lm_strength
        self.lm_bits = lm_bits
        self.lm_folds = lm_folds
        self.alpha = alpha
        self.max_iter = max_iter
        self.class_weight = class_weight
        self.benign_weight = benign_weight
        self.private_suffixes = private_suffixes
        self.max_len = max_len
        self.random_state = random_state
        self.on_bad_input = on_bad_input
        self.ip_model = ip_model

    # ------------------------------------------------------------------ setup
    def _validate_params(self) -> None:
        self._check_on_bad_input()
        if not 0 <= int(self.lm_order) <= 8:
            raise InvalidParameterError(f"lm_order must be in [0, 8], got {self.lm_order!r}")
        if not 8 <= int(self.lm_bits) <= 26:
            raise InvalidParameterError(f"lm_bits must be in [8, 26], got {self.lm_bits!r}")
        if not float(self.lm_strength) > 0:
            raise InvalidParameterError(f"lm_strength must be > 0, got {self.lm_strength!r}")
        if not int(self.lm_folds) >= 2:
            raise InvalidParameterError(f"lm_folds must be >= 2, got {self.lm_folds!r}")
        if not (self.alpha == "auto" if isinstance(self.alpha, str) else float(self.alpha) > 0):
            raise InvalidParameterError(f"alpha must be > 0 or 'auto', got {self.alpha!r}")
        if not float(self.benign_weight) > 0:
            raise InvalidParameterError(f"benign_weight must be > 0, got {self.benign_weight!r}")
        if not int(self.max_iter) >= 1:
            raise InvalidParameterError(f"max_iter must be >= 1, got {self.max_iter!r}")
        check_ip_model(self.ip_model)

    def _new_features(self) -> URLFeatures:
        return URLFeatures(n_features=self.n_features, ngram_range=self.ngram_range,
                           domain_weight=self.domain_weight, private_suffixes=self.private_suffixes,
                           max_len=self.max_len, seed=0).fit()

    def _class_weights(self, y) -> dict:
        """``class_weight`` as explicit weights (from this batch, so ``partial_fit`` keeps them), benign ones scaled."""
        weights = self.class_weight
        if isinstance(weights, str) and weights == "balanced":
            present = np.unique(y)
            w = compute_class_weight("balanced", classes=present, y=y)
            weights = {c: float(v) for c, v in zip(present.tolist(), w)}
        weights = dict(weights or {})
        weights.update({c: 1.0 for c in self.classes_.tolist() if c not in weights})
        benign = self.classes_[1 - self._malicious_column()].item()
        weights[benign] = weights[benign] * float(self.benign_weight)
        return weights

    def _new_model(self, y) -> SGDClassifier:
        weights = self._class_weights(y)
        alpha = self._alpha(len(y))
        return SGDClassifier(loss="log_loss", penalty="l2", alpha=alpha, max_iter=self._epochs(len(y), alpha),
                             tol=None, class_weight=weights, random_state=self.random_state, average=False)

    #: ``alpha="auto"`` is this over the number of training URLs (3e-6 at the
    #: ~100k URLs of the temporal benchmark's cross-validation folds, where it won).
    _AUTO_ALPHA_TIMES_N = 0.3

    def _alpha(self, n: int) -> float:
        if isinstance(self.alpha, str):
            return self._AUTO_ALPHA_TIMES_N / max(n, 1)
        return float(self.alpha)

    #: ``fit`` makes at least this many times ``alpha ** -0.75`` SGD updates (see :meth:`_epochs`).
    _MIN_UPDATES_FACTOR = 20.0

    def _epochs(self, n: int, alpha: float) -> int:
        """Epochs of ``fit``: ``max_iter``, or more where ``n`` is small.

        scikit-learn's "optimal" learning rate is ``1 / (alpha * (t0 + t))``
        with ``t0 = alpha ** -0.75`` for the log loss (5,600 updates at
        ``alpha=1e-5``): until ``t`` passes ``t0`` the steps stay near
        ``alpha ** -0.25`` (18), far too large to settle. A hundred URLs times
        15 epochs never get there, and the fit ends wherever the last big
        steps left it (benign training URLs scored 0.6 - 0.98). Enough epochs
        for ``t`` to reach ``20 * t0`` fix that; large sets keep ``max_iter``.
        """
        updates = self._MIN_UPDATES_FACTOR * alpha ** -0.75
        return max(int(self.max_iter), int(np.ceil(updates / max(n, 1))))

    def _ragged(self, X) -> RaggedArray:
        X = X if isinstance(X, list) else list(X) if not isinstance(X, (str, bytes)) else X
        ragged = _to_ragged(X, int(self.max_len))
        handle_bad_items(ragged.missing, "not a str or bytes URL", self.on_bad_input, items=X,
                         fallback_desc="threat_score 0.5")
        return ragged

    def _labels01(self, y) -> np.ndarray:
        y = np.asarray(y)
        malicious = self._malicious_column()
        return (y == self.classes_[malicious]).astype(np.int64)

    # --------------------------------------------------------------- features
    def _lm_features(self, data, spans, table) -> np.ndarray:
        n = spans.shape[0]
        if int(self.lm_order) == 0:
            return np.zeros((n, len(LM_FEATURES)))
        lp = ku.lm_logprob(data, spans[:, 3], spans[:, 4], table, int(self.lm_order),
                           float(self.lm_strength), 1.0 / 64.0)
        symbols = (spans[:, 4] - spans[:, 3] + 1).astype(np.float64)
        out = np.empty((n, len(LM_FEATURES)))
        out[:, 0] = lp[:, 0] / symbols
        out[:, 1] = lp[:, 1] / symbols
        out[:, 2] = out[:, 1] - out[:, 0]
        out[:, 3] = 0.1 * (lp[:, 1] - lp[:, 0])
        return out

    def _side_features(self, data, spans, lex, lm) -> np.ndarray:
        """The language-model columns, then the IP-literal host block when ``ip_model`` is set."""
        if self.ip_model is None:
            return lm
        return np.hstack([lm, ip_block(self.ip_model, data, spans, lex[:, _IP_HOST] > 0)])

    def _fitted_side_features(self, data, spans, lex) -> np.ndarray:
        """:meth:`_side_features` with the fitted language models (scoring and online updates)."""
        return self._side_features(data, spans, lex, self._lm_features(data, spans, self.lm_table_))

    def _dense_names(self) -> list[str]:
        return list(ku.LEXICAL_FEATURES) + list(LM_FEATURES) + ip_block_names(self.ip_model)

    def _lm_table(self) -> np.ndarray:
        return np.zeros(((1 << int(self.lm_bits)) + 1, 2), dtype=np.float64)

    def _lm_add(self, table, ragged, spans, y01, rows) -> None:
        if int(self.lm_order) == 0 or rows.size == 0:
            return
        # Each distinct (label, class) counts once: one host with 4,000 URLs is one label.
        keys = ku.span_hashes(ragged.data, spans[rows, 3], spans[rows, 4])
        pair = keys ^ (y01[rows].astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15))
        _, first = np.unique(pair, return_index=True)
        keep = rows[np.sort(first)]
        ku.lm_update(ragged.data, spans[keep, 3], spans[keep, 4], y01[keep], table, int(self.lm_order))

    def _oof_lm_features(self, ragged, spans, y01, usable) -> np.ndarray:
        """Language-model features of training rows from models that did not see their label."""
        lm = np.zeros((len(ragged), len(LM_FEATURES)))
        if int(self.lm_order) == 0:
            return lm
        keys = ku.span_hashes(ragged.data, spans[:, 3], spans[:, 4])
        fold = (keys % np.uint64(int(self.lm_folds))).astype(np.int64)
        for k in range(int(self.lm_folds)):
            inside = fold[usable] == k
            table = self._lm_table()
            self._lm_add(table, ragged, spans, y01, usable[~inside])
            rows = usable[inside]
            if rows.size:
                lm[rows] = self._lm_features(ragged.data, spans[rows], table)
        return lm

    #: Standard deviation of each standardised dense column. The hashed block has
    #: unit norm; 0.1 keeps the 53 dense columns from dominating the SGD steps
    #: (1.0 made SGD unstable on the benchmark's training folds).
    _DENSE_GAIN = 0.1
    #: Rows scored per kernel call (bounds the peak memory of threat_score).
    _CHUNK = 65536

    def _dense(self, lex, lm) -> np.ndarray:
        """Lexical (log1p-scaled) and language-model columns, standardised with the training statistics."""
        dense = np.hstack([URLFeatures.scale_lexical(lex), lm])
        dense -= self.dense_mean_
        dense *= self.dense_scale_
        return dense

    def _fit_dense_scaling(self, lex, lm) -> None:
        dense = np.hstack([URLFeatures.scale_lexical(lex), lm])
        self.dense_mean_ = dense.mean(axis=0) if len(dense) else np.zeros(dense.shape[1])
        std = dense.std(axis=0) if len(dense) else np.ones(dense.shape[1])
        self.dense_scale_ = self._DENSE_GAIN / np.where(std > 1e-12, std, 1.0)

    def _design(self, ragged, spans, lex, lm) -> sp.csr_matrix:
        return self.features_.csr(ragged, spans, self._dense(lex, lm))

    def _matrix(self, X):
        ragged = self._ragged(X)
        lex, spans = self.features_.lexical_ragged(ragged)
        lm = self._fitted_side_features(ragged.data, spans, lex)
        return ragged, self._design(ragged, spans, lex, lm)

    # -------------------------------------------------------------- training
    def fit(self, X, y) -> "URLClassifier":
        """Fit on a batch of URLs and binary labels (1 / True = malicious)."""
        self._validate_params()
        y = np.asarray(y)
        ragged = self._ragged(X)
        if len(ragged) != len(y):
            raise InvalidParameterError(f"X has {len(ragged)} items but y has {len(y)} labels")
        self.classes_ = np.unique(y)
        if len(self.classes_) != 2:
            raise InvalidParameterError(f"URLClassifier needs exactly 2 classes, got {self.classes_.tolist()}")
        self.features_ = self._new_features()
        y01 = self._labels01(y)
        usable = np.flatnonzero(~ragged.missing)
        lex, spans = self.features_.lexical_ragged(ragged)
        lm = self._side_features(ragged.data, spans, lex, self._oof_lm_features(ragged, spans, y01, usable))
        self.lm_table_ = self._lm_table()
        self._lm_add(self.lm_table_, ragged, spans, y01, usable)
        self.feature_names_ = self._dense_names()
        self._fit_dense_scaling(lex[usable], lm[usable])
        design = self._design(ragged, spans, lex, lm)[usable]
        self.model_ = self._new_model(y[usable])
        self.model_.fit(design, y[usable])
        self.n_samples_seen_ = int(usable.size)
        return self

    def partial_fit(self, X, y, classes=None) -> "URLClassifier":
        """Update online with a batch: the language models score it, then learn it.

        ``classes`` is needed on the first call (as for scikit-learn's
        ``partial_fit``) unless ``y`` holds both classes.
        """
        self._validate_params()
        y = np.asarray(y)
        if not hasattr(self, "model_"):
            self.classes_ = np.unique(y if classes is None else np.asarray(classes))
            if len(self.classes_) != 2:
                raise InvalidParameterError("partial_fit needs both classes on the first call (pass classes=)")
            self.features_ = self._new_features()
            self.lm_table_ = self._lm_table()
            self.feature_names_ = self._dense_names()
            self.model_ = self._new_model(y)
            self.n_samples_seen_ = 0
        ragged = self._ragged(X)
        if len(ragged) != len(y):
            raise InvalidParameterError(f"X has {len(ragged)} items but y has {len(y)} labels")
        usable = np.flatnonzero(~ragged.missing)
        if usable.size == 0:
            return self
        lex, spans = self.features_.lexical_ragged(ragged)
        lm = self._fitted_side_features(ragged.data, spans, lex)
        if not hasattr(self, "dense_mean_"):
            # From scratch: standardise with the first batch (the LM columns use
            # the empty models' values there, so only the lexical part is informed).
            self._fit_dense_scaling(lex[usable], lm[usable])
        design = self._design(ragged, spans, lex, lm)[usable]
        self.model_.partial_fit(design, y[usable], classes=self.classes_)
        self._lm_add(self.lm_table_, ragged, spans, self._labels01(y), usable)
        self.n_samples_seen_ += int(usable.size)
        return self

    # --------------------------------------------------------------- scoring
    def decision_function(self, X) -> np.ndarray:
        """Log-odds of the malicious class (0 for bad items)."""
        check_is_fitted(self)
        ragged = self._ragged(X)
        # float32 weights: half the memory traffic of the random gathers, ~1e-7 relative error.
        coef = self.model_.coef_.ravel().astype(np.float32)
        intercept = float(self.model_.intercept_[0])
        out = np.empty(len(ragged))
        for start in range(0, len(ragged), self._CHUNK):
            stop = min(start + self._CHUNK, len(ragged))
            part = RaggedArray(ragged.data, ragged.offsets[start:stop + 1], ragged.missing[start:stop])
            lex, spans = self.features_.lexical_ragged(part)
            lm = self._fitted_side_features(part.data, spans, lex)
            # Same as model_.decision_function(design), fused: no matrix is built.
            out[start:stop] = self.features_.linear_scores(part, spans, self._dense(lex, lm), coef, intercept)
        if self._malicious_column() != 1:
            out = -out
        out[ragged.missing] = 0.0
        return out

    def predict_proba(self, X) -> np.ndarray:
        """Columns follow ``classes_``; bad items get ``[0.5, 0.5]``."""
        z = self.decision_function(X)
        p = 1.0 / (1.0 + np.exp(-np.clip(z, -700, 700)))
        out = np.empty((z.shape[0], 2))
        m = self._malicious_column()
        out[:, m] = p
        out[:, 1 - m] = 1.0 - p
        return out

    def predict(self, X) -> np.ndarray:
        """The malicious class where its probability exceeds 0.5."""
        z = self.decision_function(X)
        m = self._malicious_column()
        return np.where(z > 0, self.classes_[m], self.classes_[1 - m])

    def threat_score(self, X) -> np.ndarray:
        """Probability that each URL is malicious (0.5 for bad items)."""
        check_is_fitted(self)
        return np.clip(self.predict_proba(X)[:, self._malicious_column()], 0.0, 1.0)

    def explain(self, X, *, top_k: int = 5) -> list[Explanation]:
        """The features and n-grams whose terms pushed each log-odds most (weight = log-odds)."""
        check_is_fitted(self)
        X = list(X)
        scores = self.threat_score(X)  # the scoring path (warns once about bad items)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", BadInputWarning)
            ragged, design = self._matrix(X)
        sign = 1.0 if self._malicious_column() == 1 else -1.0
        coef = self.model_.coef_.ravel() * sign
        d = len(self.feature_names_)
        out = []
        for i in range(len(ragged)):
            if ragged.missing[i]:
                out.append(Explanation(i, 0.5, fallback=True, note="not a str or bytes URL"))
                continue
            score = float(scores[i])
            row = design.getrow(i)
            row.sum_duplicates()  # grams that share a column count together
            cols, vals = row.indices, row.data
            terms = coef[cols] * vals
            grams = None
            contribs = []
            for j in np.argsort(-np.abs(terms), kind="stable")[:top_k]:
                c = int(cols[j])
                if terms[j] == 0:
                    continue
                if c < d:
                    contribs.append(Contribution(self.feature_names_[c], float(vals[j]), float(terms[j])))
                else:
                    if grams is None:
                        grams = self.features_.gram_columns(X[i])
                    texts = grams.get(c - d, ["?"])
                    contribs.append(Contribution("ngram", " | ".join(dict.fromkeys(texts)), float(terms[j])))
            out.append(Explanation(i, score, tuple(contribs)))
        return out

    def __setstate__(self, state: dict) -> None:
        # Files saved before ``benign_weight`` existed weighted both classes alike.
        super().__setstate__({"benign_weight": 1.0, **state})

    def __getstate__(self) -> dict:
        state = super().__getstate__()
        model = state.get("model_")
        if model is not None and "_loss_function_" in vars(model):
            # SGDClassifier keeps a Cython loss object that safe persistence cannot
            # write; partial_fit rebuilds it and scoring never reads it.
            model = copy.copy(model)
            del model._loss_function_
            state["model_"] = model
        return state

    @classmethod
    def _generic_check_data(cls) -> dict:
        rng = np.random.RandomState(0)
        words = ["news", "shop", "blog", "maps", "mail", "docs", "wiki", "cloud"]
        benign = [f"https://www.{words[rng.randint(8)]}{rng.randint(5)}.com/{words[rng.randint(8)]}"
                  for _ in range(40)]
        bad = [f"http://{words[rng.randint(8)]}-secure-login{rng.randint(99)}.xyz/verify.php?id={rng.randint(9999)}"
               for _ in range(40)]
        X_test = ["https://www.maps3.com/wiki", "http://paypal-secure-login.top/verify.php", "", "%%%:://[",
                  "no scheme at all", b"\xff\xfe", None]
        return {"X": benign + bad, "y": [0] * 40 + [1] * 40, "X_test": X_test,
                "params": {"n_features": 2**12, "lm_bits": 12, "max_iter": 5}}

