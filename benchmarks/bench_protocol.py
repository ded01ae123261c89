"""ProtocolAnomalyModel vs PAYL (ByteFrequencyModel) and IsolationForest on HTTP requests.

Data: Morzeux HttpParamsDataset (``../shared/datasets/http_params_morzeux``,
train file; values from CSIC 2010 normal traffic vs tool-generated attacks, so
results are also given per attack type). Split: a random half of the normal
values (seed 0) is the training pool, the other half plus every attack is the
test set; no value is in both.

Wrapping: values become HTTP/1.1 requests to a fictitious shop (service
``shop``). A seeded RNG picks the endpoint (12 endpoints, GET with a query
string or POST with a form body, 1-4 parameters). Training requests fill
their parameters with training values, each used exactly once (so
leave-one-out calibration sees no duplicates). Every test value (held-out
normal or attack) makes one test request: it goes into a random parameter,
the other parameters get held-out normal values (drawn with replacement). Headers (Host, User-Agent, Accept,
Accept-Language, Cookie with a random session id, Content-Type/Length for
POST) complete the request; values are percent-encoded. Parameter choice is
independent of the value ("random assignment"): per-parameter models cannot
exploit value types, so this is the hard, honest setting. All request-level
detectors see the same raw request bytes; PAYL is also run on the bare
values (the setting of bench_payl, told where the value is).

Shrinkage: 24 endpoints whose parameters each hold one value type (numbers,
e-mails, single words, several words, codes mixing letters and digits); 8
endpoints are busy (120 training requests each), 16 have 5-50. Training
values are drawn without replacement from the training pool of their type. Attacks go into
random parameters. Hierarchical = one model over all endpoints; no pooling =
one model per endpoint fitted on that endpoint's requests only. On the test
requests of the low-data endpoints (200 normal + 200 attack each): mean of
per-endpoint AUCs, AUC of the pooled threat scores, and the false-positive
rate that ``predict`` (contamination 1%) actually gives on their normal
requests. Parameter tampering: 200 more requests per low-data endpoint where
one parameter holds a *normal* value of another type (an e-mail where a number
belongs): no attack syntax, only a departure from that parameter's pattern.

Speed: requests/s of ``score_samples`` on the test requests (parsing
included, after a warm-up call, best of 3), one process, numba and BLAS on one
thread; also on the normal test requests alone (attack values are longer and
mostly unseen n-grams, so they cost more than typical traffic). The benchmark
machine is shared (load average above its 2 cores), so wall-clock rates
understate a dedicated core: ``items_per_cpu_s`` divides by the CPU time the
process actually got (``time.process_time``).
"""

from __future__ import annotations

import os

for _var in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
from sklearn.ensemble import IsolationForest  # noqa: E402
from sklearn.metrics import roc_auc_score  # noqa: E402

from _common import best_of, cpu_seconds, measure, write_result  # noqa: E402
from secml_detect import ByteFrequencyModel  # noqa: E402
from secml_detect._kernels.bytes import byte_histograms  # noqa: E402
from secml_detect._ragged import to_ragged_bytes  # noqa: E402
from secml_detect.datasets.http import (  # noqa: E402
    build_http_request,
    http_requests_from_values,
    load_http_params,
)
from secml_detect.protocol import ProtocolAnomalyModel  # noqa: E402


def cpu_rate(fn, n: int, repeat: int = 3) -> float:
    """Items per CPU-second of ``fn`` (best of ``repeat``): the one-core rate, robust to a busy machine."""
    seconds = cpu_seconds(fn, repeat)
    return n / seconds if seconds > 0 else float("inf")


def detection_at_fpr(y, scores, fpr):
    """Share of attacks scored above the threshold that flags ``fpr`` of the normals."""
    normal = np.sort(scores[y == 0])
    threshold = normal[int(np.ceil((1 - fpr) * len(normal))) - 1]
    return float(np.mean(scores[y == 1] > threshold))


def quality(y, s):
    return {"auc": float(roc_auc_score(y, s)), "det@1%": detection_at_fpr(y, s, 0.01),
            "det@0.1%": detection_at_fpr(y, s, 0.001)}


def value_type(v: str) -> str:
    if v.isdigit():
        return "number"
    if "@" in v:
        return "email"
    if any(c.isdigit() for c in v) and any(c.isalpha() for c in v) and " " not in v:
        return "code"
    if " " in v:
        return "words"
    return "word"


def main(quick: bool = False) -> None:
    values, kinds, labels = load_http_params()
    y_all = np.array(labels)
    kinds = np.array(kinds)
    rng = np.random.RandomState(0)
    normal = np.flatnonzero(y_all == 0)
    train = np.sort(rng.choice(normal, len(normal) // 2, replace=False))
    test = np.setdiff1d(np.arange(len(values)), train)
    if quick:
        train = train[:3000]
        test = np.r_[np.intersect1d(test, normal)[:3000], np.setdiff1d(test, normal)[:3000]]
    train_pool = [values[i] for i in train]
    test_pool = [values[i] for i in np.intersect1d(test, normal)]

    X_train = http_requests_from_values(train_pool, seed=1)
    attack_idx = np.setdiff1d(test, normal)
    X_normal_test = http_requests_from_values(test_pool, test_pool, seed=2)
    X_test = X_normal_test + http_requests_from_values([values[i] for i in attack_idx], test_pool, seed=3)
    y = np.r_[np.zeros(len(X_normal_test), dtype=int), np.ones(len(attack_idx), dtype=int)]
    k_test = np.r_[np.full(len(X_normal_test), "norm"), kinds[attack_idx]]
    rows, sections = [], []

    def report(system, scores, train_s, ips, mem, extra=None):
        q = quality(y, scores)
        row = {"system": system, "task": "HTTP requests (Morzeux values wrapped)", "metric": "ROC-AUC",
               "value": q["auc"], "det_fpr_1pct": q["det@1%"], "det_fpr_0.1pct": q["det@0.1%"],
               "train_s": train_s, "items_per_s": ips, "peak_mem_mb": mem}
        for kind in ("sqli", "xss", "path-traversal", "cmdi"):
            sel = (k_test == kind) | (y == 0)
            qk = quality(y[sel], scores[sel])
            row[f"{kind}_auc"] = qk["auc"]
            row[f"{kind}_det_1pct"] = qk["det@1%"]
            row[f"{kind}_det_0.1pct"] = qk["det@0.1%"]
        row.update(extra or {})
        rows.append(row)
        for key, label in (("det_fpr_1pct", "detection @ FPR 1%"), ("det_fpr_0.1pct", "detection @ FPR 0.1%")):
            rows.append({"system": system, "task": row["task"], "metric": label, "value": row[key]})
        print(system, {k: (round(v, 4) if isinstance(v, float) else v) for k, v in row.items()
                       if k not in ("system", "task", "metric")}, flush=True)

    def run(fit, score, X_fit, X_score):
        """Fit (timed), score once for quality and memory, then best-of-3 wall and CPU rates."""
        start = time.perf_counter()
        est = fit(X_fit)
        fit_s = time.perf_counter() - start
        with measure(trace_python=False) as m:
            s = -score(est, X_score)
        ips = len(X_score) / best_of(lambda: score(est, X_score))
        extra = {"items_per_cpu_s": cpu_rate(lambda: score(est, X_score), len(X_score))}
        return est, s, fit_s, ips, m.peak_mb, extra

    def histos(X):
        r = to_ragged_bytes(X)
        h = byte_histograms(r.data, r.offsets)
        return h / np.maximum(h.sum(axis=1, keepdims=True), 1)

    # --- ours (a tiny fit first, so that numba compilation is not counted as training time)
    ProtocolAnomalyModel().fit(X_train[:20]).score_samples(X_test[:20])
    model, s_ours, fit_s, ours_ips, mem, extra = run(lambda X: ProtocolAnomalyModel().fit(X),
                                                     lambda est, X: est.score_samples(X), X_train, X_test)
    extra.update({
        "observed_fpr_at_contamination_1pct": float(np.mean(model.predict(X_normal_test) == -1)),
        "items_per_s_normal_traffic": len(X_normal_test) / best_of(lambda: model.score_samples(X_normal_test)),
        "items_per_cpu_s_normal_traffic": cpu_rate(lambda: model.score_samples(X_normal_test), len(X_normal_test)),
        "n_train_requests": len(X_train), "n_test_normal": len(X_normal_test), "n_test_attack": len(attack_idx)})
    report("ProtocolAnomalyModel", s_ours, fit_s, ours_ips, mem, extra)

    # --- PAYL on the same requests, and on the bare values
    _, s_payl, fit_s, payl_ips, mem, extra = run(lambda X: ByteFrequencyModel().fit(X),
                                                 lambda est, X: est.score_samples(X), X_train, X_test)
    report("ByteFrequencyModel (PAYL, whole request)", s_payl, fit_s, payl_ips, mem, extra)
    # bare values: each normal test value on its own, each attack value on its own
    test_values = test_pool + [values[i] for i in attack_idx]
    y_values = np.r_[np.zeros(len(test_pool), dtype=int), np.ones(len(attack_idx), dtype=int)]
    _, s_payl_v, fit_s, ips, mem, extra = run(lambda X: ByteFrequencyModel().fit(X),
                                              lambda est, X: est.score_samples(X), train_pool, test_values)
    q = quality(y_values, s_payl_v)
    rows.append({"system": "ByteFrequencyModel (PAYL, bare values: told where the value is)",
                 "task": "HTTP parameter values (not requests)", "metric": "ROC-AUC", "value": q["auc"],
                 "det_fpr_1pct": q["det@1%"], "det_fpr_0.1pct": q["det@0.1%"], "train_s": fit_s,
                 "items_per_s": ips, "peak_mem_mb": mem, **extra})
    bare = rows[-1]
    print(bare, flush=True)
    for key, label in (("det_fpr_1pct", "detection @ FPR 1%"), ("det_fpr_0.1pct", "detection @ FPR 0.1%")):
        rows.append({"system": bare["system"], "task": bare["task"], "metric": label, "value": bare[key]})

    # --- IsolationForest over byte histograms of the requests
    _, s_if, fit_s, if_ips, mem, extra = run(lambda X: IsolationForest(random_state=0).fit(histos(X)),
                                             lambda est, X: est.score_samples(histos(X)), X_train, X_test)
    report("IsolationForest (byte histograms of the request)", s_if, fit_s, if_ips, mem, extra)
    rows[0]["ratio_to_peer"] = ours_ips / payl_ips
    rows[0]["peer"] = "ByteFrequencyModel (PAYL, whole request)"
    main_rows = [r for r in rows if r["metric"] == "ROC-AUC"]
    table = ["| system | attack type | ROC-AUC | det. @ FPR 1% | det. @ FPR 0.1% |", "|---|---|---|---|---|"]
    for r in main_rows:
        for kind in ("sqli", "xss", "path-traversal", "cmdi"):
            if f"{kind}_auc" in r:
                table.append(f"| {r['system']} | {kind} ({int((k_test == kind).sum())}) | {r[f'{kind}_auc']:.4f} | "
                             f"{r[f'{kind}_det_1pct']:.3f} | {r[f'{kind}_det_0.1pct']:.3f} |")
    sections.append("Per attack type (all normal test requests against each type):\n\n" + "\n".join(table))
    ours = rows[0]
    sections.append(
        f"ProtocolAnomalyModel: trained in {ours['train_s']:.2f} s on {ours['n_train_requests']} requests "
        f"(PAYL {main_rows[1]['train_s']:.3f} s, IsolationForest {main_rows[3]['train_s']:.2f} s); "
        f"{ours['items_per_s']:,.0f} requests/s wall-clock on the test mix, "
        f"{ours['items_per_s_normal_traffic']:,.0f} on normal requests alone; per CPU-second of one core "
        f"{ours['items_per_cpu_s']:,.0f} and {ours['items_per_cpu_s_normal_traffic']:,.0f}. "
        f"With contamination=0.01 it flags {100 * ours['observed_fpr_at_contamination_1pct']:.2f}% of the "
        f"held-out normal requests.")

    # --- h11 parse cost of the same requests (why the parser is our own)
    try:
        import h11

        def h11_parse(reqs):
            for raw in reqs:
                conn = h11.Connection(h11.SERVER)
                conn.receive_data(raw)
                try:
                    while True:
                        ev = conn.next_event()
                        if ev is h11.NEED_DATA or isinstance(ev, h11.EndOfMessage):
                            break
                except h11.RemoteProtocolError:
                    pass

        sample = X_test[:3000]
        start = time.perf_counter()
        h11_parse(sample)
        h11_rate = len(sample) / (time.perf_counter() - start)
        sections.append(f"h11 alone parses {h11_rate:,.0f} requests/s on these requests; the whole model scores "
                        f"{ours_ips:,.0f} requests/s including its own parser.")
        rows[0]["h11_parse_only_per_s"] = h11_rate
    except ImportError:  # pragma: no cover
        pass

    # --- shrinkage experiment
    shrink_rows = shrinkage(values, y_all, train, test, quick)
    rows.extend(shrink_rows)
    write_result("bench_protocol", "ProtocolAnomalyModel vs PAYL and IsolationForest (HTTP requests)", rows,
                 notes=__doc__.split("\n\n", 1)[1], sections=sections)


def shrinkage(values, y_all, train, test, quick):
    rng = np.random.RandomState(2)
    types = ["number", "email", "code", "words", "word"]
    pools_train = {t: [] for t in types}
    pools_test = {t: [] for t in types}
    for i in train:
        pools_train[value_type(values[i])].append(values[i])
    test_normal = [i for i in test if y_all[i] == 0]
    for i in test_normal:
        pools_test[value_type(values[i])].append(values[i])
    n_end = 24
    endpoints, param_types = [], []
    for e in range(n_end):
        k = rng.randint(1, 4)
        ts = [types[rng.randint(len(types))] for _ in range(k)]
        names = [f"{t}_{e}_{j}" for j, t in enumerate(ts)]
        endpoints.append(("GET" if e % 2 else "POST", f"/app/ep{e}", names))
        param_types.append(ts)
    busy = list(range(8))
    low = list(range(8, n_end))
    n_train = {e: (120 if e in busy else int(rng.randint(5, 51))) for e in range(n_end)}
    unused = {t: list(rng.permutation(pools_train[t])) for t in types}
    reused = [0]

    def draw(pool, t):
        if pool is pools_train:  # training values without replacement (honest leave-one-out calibration)
            if not unused[t]:
                unused[t] = list(rng.permutation(pools_train[t]))
                reused[0] += 1
            return unused[t].pop()
        return pool[t][rng.randint(len(pool[t]))]

    def requests(e, count, pool, attack_values=None, swap=False):
        method, path, names = endpoints[e]
        reqs = []
        for c in range(count):
            slot = rng.randint(len(names))
            params = []
            for j, name in enumerate(names):
                if attack_values is not None and j == slot:
                    params.append((name, attack_values[c]))
                elif swap and j == slot:  # parameter tampering: a normal value of another type
                    other = [t for t in types if t != param_types[e][j]]
                    params.append((name, draw(pool, other[rng.randint(len(other))])))
                else:
                    params.append((name, draw(pool, param_types[e][j])))
            reqs.append(build_http_request(rng, method, path, params, host="app.example"))
        return reqs

    train_by_e = {e: requests(e, n_train[e], pools_train) for e in range(n_end)}
    attacks = [values[i] for i in test if y_all[i] == 1]
    n_norm_test, n_att_test = (100, 100) if quick else (200, 200)
    test_by_e = {}
    for e in low:
        att = [attacks[rng.randint(len(attacks))] for _ in range(n_att_test)]
        test_by_e[e] = (requests(e, n_norm_test, pools_test) + requests(e, n_att_test, pools_test, att),
                        np.r_[np.zeros(n_norm_test), np.ones(n_att_test)],
                        requests(e, n_att_test, pools_test, swap=True))
    X_all = [r for e in range(n_end) for r in train_by_e[e]]
    start = time.perf_counter()
    hier = ProtocolAnomalyModel().fit(X_all)
    hier_fit = time.perf_counter() - start
    results = {}
    start = time.perf_counter()
    per = {e: ProtocolAnomalyModel().fit(train_by_e[e]) for e in low}
    per_fit = time.perf_counter() - start
    for name, get in (("hierarchical", lambda e: hier), ("no pooling (one model per endpoint)", lambda e: per[e])):
        aucs, pooled_s, pooled_y, dets, fprs, swaps = [], [], [], [], [], []
        for e in low:
            X, yy, X_swap = test_by_e[e]
            s = get(e).threat_score(X)
            s_swap = get(e).threat_score(X_swap)
            swaps.append(roc_auc_score(np.r_[np.zeros(n_norm_test), np.ones(len(X_swap))],
                                       np.r_[s[yy == 0], s_swap]))
            fprs.append(float(np.mean(get(e).predict([x for x, t in zip(X, yy) if t == 0]) == -1)))
            aucs.append(roc_auc_score(yy, s))
            dets.append(detection_at_fpr(yy, s, 0.01))
            pooled_s.append(s)
            pooled_y.append(yy)
        results[name] = {"mean_auc": float(np.mean(aucs)), "min_auc": float(np.min(aucs)),
                         "pooled_auc": float(roc_auc_score(np.concatenate(pooled_y), np.concatenate(pooled_s))),
                         "mean_det_1pct": float(np.mean(dets)), "fpr": float(np.mean(fprs)),
                         "max_fpr": float(np.max(fprs)), "swap_auc": float(np.mean(swaps)),
                         "min_swap_auc": float(np.min(swaps))}
    rows = []
    for name, r in results.items():
        row = {"system": f"ProtocolAnomalyModel, {name}",
               "task": f"shrinkage: {len(low)} low-data endpoints (5-50 training requests each)",
               "metric": "mean per-endpoint ROC-AUC", "value": r["mean_auc"], "min_endpoint_auc": r["min_auc"],
               "pooled_threat_score_auc": r["pooled_auc"], "mean_det_fpr_1pct": r["mean_det_1pct"],
               "observed_fpr_at_contamination_1pct": r["fpr"], "worst_endpoint_fpr": r["max_fpr"],
               "train_s": hier_fit if name == "hierarchical" else per_fit,
               "n_train_low": [n_train[e] for e in low], "training_pool_reshuffles": reused[0]}
        print(row, flush=True)
        rows.append(row)
        rows.append({"system": row["system"], "task": row["task"], "metric": "min per-endpoint ROC-AUC",
                     "value": r["min_auc"]})
        rows.append({"system": row["system"], "task": row["task"],
                     "metric": "mean per-endpoint ROC-AUC, parameter tampering (value of another type)",
                     "value": r["swap_auc"], "min_endpoint_auc": r["min_swap_auc"]})
        rows.append({"system": row["system"], "task": row["task"],
                     "metric": "mean observed FPR at contamination 1%", "value": r["fpr"]})
        rows.append({"system": row["system"], "task": row["task"],
                     "metric": "worst endpoint's observed FPR at contamination 1%", "value": r["max_fpr"]})
    rows[0]["learned_alphas"] = {k: np.asarray(v).tolist() for k, v in hier.alphas_.items()}
    rows[0]["note"] = ("strength towards the parent per level (global, service, endpoint, parameter): "
                       "learned by empirical Bayes")
    return rows


if __name__ == "__main__":
    main(quick="--quick" in sys.argv)
