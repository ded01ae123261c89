"""Independent evaluation: models trained on the development data, scored on an evaluation set of the same form.

Run ``SECML_DETECT_EVAL_DATA=/path/to/evaluation/datasets python benchmarks/bench_heldout.py [section ...]``.
The evaluation folder holds dataset folders laid out like ``../shared/datasets``
(the same folder names and file formats; file names may differ: loaders find
files by pattern). Every model is fitted on the development data alone (the
usual data home: ``SECML_DETECT_DATA`` or ``../shared/datasets``) with its
library defaults, exactly as the other benchmarks fit it, and never sees an
evaluation item before scoring it; no threshold or setting is chosen on the
evaluation set. Items of the evaluation set that also occur in the development
data (the same URL, address, registered domain or trace) are left out of the
test, so every number is about items no model has seen. A section whose
dataset is absent from the evaluation folder is skipped and says so.

* **url**: URLClassifier and the char n-gram LR peer, trained as split (b) of
  ``bench_url`` but on every development OpenPhish URL; test: the evaluation
  OpenPhish URLs (all new ones, and those of registered domains never seen in
  development) against (b)'s held-out benign URLs plus the evaluation OpenDNS
  domains written as ``http(s)://domain/``.
* **domains**: bare domains. Malware: split (c) of ``bench_url`` (its training
  part) scored on its held-out malware domains against the evaluation OpenDNS
  domains (random resolved domains, far less popular than the top list the
  model saw). Phishing: every development phishing registered domain trains;
  the evaluation's new phishing registered domains are the positives.
* **ip**: IPReputationClassifier trained on every development listing (the
  10% hash sample) plus as many background addresses; test: evaluation
  listings of the same sample not listed in development, against fresh
  background at 1:1 and 1:10; baseline "same /24 listed in development".
* **adfa**: APICallSequenceModel (order by held-out log-loss on the training
  normals, mean surprise, as in ``bench_sequence``) trained on the development
  training normals; test: evaluation normals and attacks (attack types absent
  from development are reported apart).
* **hdfs**: APICallSequenceModel (order 3, max surprise, 1% out-of-fold
  threshold) and the DeepLog-style top-9 rule trained on every development
  normal session; test: the evaluation sessions.
* **malapi**: APICallSequenceClassifier (order 2) trained on every development
  trace; test: the evaluation traces, macro-F1.

``python benchmarks/pseudo_heldout.py OUT`` cuts the development data the way the
evaluation set was cut (a later period, attack types and classes kept apart)
into ``OUT/dev`` and ``OUT/eval``, to rehearse this script without the real
evaluation set; its numbers are written to ``results/bench_heldout_rehearsal.json``
only when ``--rehearsal`` is given.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import sys  # noqa: E402
import warnings  # noqa: E402
import zlib  # noqa: E402

import numpy as np  # noqa: E402
from sklearn.metrics import f1_score, roc_auc_score  # noqa: E402

from _common import chosen_sections, write_result  # noqa: E402
from bench_ip import _baseline_scores, _quiet_scores, recall_at_precision  # noqa: E402
from bench_sequence import quality as session_quality  # noqa: E402
from bench_url import bare_domain_split, in_test, peer, tpr_at_fpr  # noqa: E402
from secml_detect import IPReputationClassifier, URLClassifier  # noqa: E402
from secml_detect.datasets import DatasetNotFoundError, data_home, evaluation_data_home  # noqa: E402
from secml_detect.datasets.ips import (int_to_ipv4, load_datashield_blocklist, load_tor_exit_history,  # noqa: E402
                                       sample_background_ipv4)
from secml_detect.ip import parse_addresses  # noqa: E402
from secml_detect.datasets.sequences import load_adfa_ld, load_hdfs, load_malapi  # noqa: E402
from secml_detect.datasets.urls import (load_iscx_urls, load_opendns_random, load_opendns_top,  # noqa: E402
                                        load_openphish, registered_domains)
from secml_detect.sequence import APICallSequenceClassifier, APICallSequenceModel, select_order  # noqa: E402

REHEARSAL_NOTE = (
    "**This is the rehearsal**, not the independent evaluation set: ``pseudo_heldout.py`` cut the development "
    "data into a pseudo development part and a pseudo evaluation part (OpenPhish URLs first seen from 2026-02-01, "
    "Data-Shield entries first seen from 2026-03-01, the ADFA-LD attack types Hydra_SSH and Meterpreter with a "
    "third of the validation normals, a third of the HDFS lines, 30% of the Mal-API traces and a third of the "
    "OpenDNS top domains as the stand-in for the random-domains list, all by hash or date), and the models were "
    "fitted on the first part only. The numbers say that the pipeline holds up on unseen items of the same "
    "sources; the real evaluation set comes from later periods and other sources.")
MAX_TEST = 20_000  # evaluation positives per task (a seeded sample beyond it)


def _cap(items: list, seed: int = 0) -> list:
    if len(items) <= MAX_TEST:
        return items
    keep = np.sort(np.random.RandomState(seed).choice(len(items), MAX_TEST, replace=False))
    return [items[i] for i in keep]


def _as_urls(domains) -> list[str]:
    return [("https://" if zlib.crc32(d.encode()) % 2 else "http://") + d + "/" for d in domains]


def _ranking_rows(rows, task, system, y, s) -> None:
    for metric, value in (("ROC-AUC", roc_auc_score(y, s)), ("TPR @ FPR 1e-3", tpr_at_fpr(y, s, 1e-3)),
                          ("TPR @ FPR 1e-2", tpr_at_fpr(y, s, 1e-2))):
        rows.append({"system": system, "task": task, "metric": metric, "value": float(value)})
    print(task, system, rows[-3]["value"], rows[-2]["value"], flush=True)


def _score_both(rows, task, X_train, y_train, X_test, y_test) -> None:
    clf = URLClassifier().fit(X_train, y_train)
    hv, lr = peer()
    lr.fit(hv.transform(X_train), y_train)
    task = f"{task} (test {int(np.sum(y_test == 1))} mal / {int(np.sum(y_test == 0))} ben)"
    _ranking_rows(rows, task, "URLClassifier", y_test, clf.threat_score(X_test))
    _ranking_rows(rows, task, "char 3-5-gram LR (peer)", y_test, lr.decision_function(hv.transform(X_test)))


def _dev_urls() -> tuple:
    top = [d.lower() for d in load_opendns_top()]
    iscx_urls, iscx_labels, iscx_kinds = load_iscx_urls()
    phish, _ = load_openphish()
    return top, iscx_urls, iscx_kinds, phish


def _eval_domains(eval_home) -> list[str]:
    with data_home(eval_home):
        try:
            return [d.lower() for d in load_opendns_random()]
        except DatasetNotFoundError:
            return []


def url(rows: list, eval_home) -> None:
    top, iscx_urls, iscx_kinds, phish = _dev_urls()
    with data_home(eval_home):
        new_phish, _ = load_openphish()
    seen = set(phish)
    new_phish = _cap(sorted(set(new_phish) - seen))
    benign = [u for u, k in zip(iscx_urls, iscx_kinds) if k == "benign"] + _as_urls(top)
    held = in_test(registered_domains(benign))
    train_domains = set(registered_domains(phish)) | {d for d, t in zip(registered_domains(benign), held) if not t}
    extra = [d for d in _eval_domains(eval_home) if d not in train_domains]
    X_train = phish + [u for u, t in zip(benign, held) if not t]
    y_train = np.r_[np.ones(len(phish)), np.zeros(int((~held).sum()))].astype(int)
    ben_test = [u for u, t in zip(benign, held) if t] + _as_urls(extra)
    unseen = [u for u, d in zip(new_phish, registered_domains(new_phish)) if d not in train_domains]
    for label, pos in (("new OpenPhish URLs", new_phish), ("new OpenPhish URLs of unseen registered domains", unseen)):
        if pos:
            _score_both(rows, f"evaluation set: {label} vs held-out benign + evaluation OpenDNS domains", X_train,
                        y_train, pos + ben_test, np.r_[np.ones(len(pos)), np.zeros(len(ben_test))].astype(int))


def domains(rows: list, eval_home) -> None:
    extra = _eval_domains(eval_home)
    if not extra:
        raise DatasetNotFoundError("no OpenDNS random-domains list in the evaluation folder")
    top, iscx_urls, iscx_kinds, phish = _dev_urls()
    top_set = set(top)
    X_train, y_train, X_held, y_held, top_held = bare_domain_split(top, iscx_urls, iscx_kinds)
    benign_test = sorted(set(registered_domains(extra)) - set(X_train) - set(X_held))
    mal_test = [d for d, y in zip(X_held, y_held) if y == 1]
    _score_both(rows, "evaluation set: bare domains, held-out C2 + malware vs evaluation OpenDNS domains",
                X_train, y_train, mal_test + benign_test,
                np.r_[np.ones(len(mal_test)), np.zeros(len(benign_test))].astype(int))
    dev_phish = sorted(set(registered_domains(phish, private=True)) - top_set)
    with data_home(eval_home):
        try:
            new_phish, _ = load_openphish()
        except DatasetNotFoundError:
            return
    new_reg = sorted(set(registered_domains(new_phish, private=True)) - set(dev_phish) - top_set - set(benign_test))
    top_train = [d for d, t in zip(top, top_held) if not t]
    if new_reg:
        new_reg = _cap(new_reg)
        _score_both(rows, "evaluation set: bare domains, new phishing registered domains vs evaluation OpenDNS domains",
                    dev_phish + top_train, np.r_[np.ones(len(dev_phish)), np.zeros(len(top_train))].astype(int),
                    new_reg + benign_test, np.r_[np.ones(len(new_reg)), np.zeros(len(benign_test))].astype(int))


def ip(rows: list, eval_home) -> None:
    dev = load_datashield_blocklist()
    with data_home(eval_home):
        new = load_datashield_blocklist()
    dev_v4 = _ipv4_ints(dev.ips)
    new_v4 = _ipv4_ints(new.ips, keep_all=True)
    new = new.select((new_v4 >= 0) & ~np.isin(new_v4, dev_v4))
    test = _cap(new.ips)
    if not test:
        raise DatasetNotFoundError("no evaluation IPv4 listing that development does not already hold")
    tor = load_tor_exit_history(version=None).ips
    listed_anywhere = _ipv4_ints(load_datashield_blocklist(sample="all").ips)
    with data_home(eval_home):
        listed_anywhere = np.r_[listed_anywhere, _ipv4_ints(load_datashield_blocklist(sample="all").ips)]
    bg = sample_background_ipv4(len(dev) + 10 * len(test), exclude=listed_anywhere, random_state=0)
    clf = IPReputationClassifier(tor_exits=tor).fit(dev.ips + int_to_ipv4(bg[:len(dev)]),
                                                    np.r_[np.ones(len(dev)), np.zeros(len(dev))])
    when = f"{str(new.first_seen.min())[:10]} .. {str(new.first_seen.max())[:10]}"
    for ratio in (1, 10):
        X = test + int_to_ipv4(bg[len(dev):len(dev) + ratio * len(test)])
        y = np.r_[np.ones(len(test)), np.zeros(ratio * len(test))]
        s = _quiet_scores(clf, X)
        base = _baseline_scores(dev.ips, X).astype(float)
        task = f"evaluation set: {len(test):,} new listings first seen {when}, 1:{ratio} background"
        r_model, r_base = recall_at_precision(y, s), recall_at_precision(y, base)
        rows += [
            {"system": "IPReputationClassifier", "task": task, "metric": "ROC-AUC", "value": roc_auc_score(y, s)},
            {"system": "IPReputationClassifier", "task": task, "metric": "recall @ precision 0.9", "value": r_model,
             "ratio_to_peer": r_model / r_base if r_base > 0 else None},
            {"system": "baseline: same /24 listed in development", "task": task, "metric": "ROC-AUC",
             "value": roc_auc_score(y, base)},
            {"system": "baseline: same /24 listed in development", "task": task, "metric": "recall @ precision 0.9",
             "value": r_base}]
        print(task, rows[-4]["value"], r_model, r_base, flush=True)


def _ipv4_ints(ips, keep_all: bool = False) -> np.ndarray:
    """IPv4 addresses as integers: only the IPv4 ones, or -1 in place of the others (``keep_all``)."""
    parsed = parse_addresses(ips)
    v4 = np.where(parsed.kind == 4, parsed.v4.astype(np.int64), -1)
    return v4 if keep_all else v4[v4 >= 0]


def adfa(rows: list, eval_home) -> None:
    dev = load_adfa_ld()
    with data_home(eval_home):
        ev = load_adfa_ld()
    X_train = [s for s, sp in zip(dev["sequences"], dev["split"]) if sp == "train"]
    known = {tuple(s) for s in dev["sequences"]}
    keep = [i for i, s in enumerate(ev["sequences"]) if tuple(s) not in known]
    X = [ev["sequences"][i] for i in keep]
    y, kinds = ev["label"][keep], ev["attack_type"][keep]
    if not (y == 0).any():  # no evaluation normals: the development validation normals stand in
        extra = [s for s, sp in zip(dev["sequences"], dev["split"]) if sp == "validation"]
        X, y, kinds = extra + X, np.r_[np.zeros(len(extra), int), y], np.r_[[""] * len(extra), kinds]
    if not (y == 1).any():
        raise DatasetNotFoundError("no evaluation attack trace")
    order, _ = select_order(X_train, orders=range(1, 11))
    s = -APICallSequenceModel(order=order, aggregate="mean").fit(X_train).score_samples(X)
    system = f"APICallSequenceModel (order {order} by held-out log-loss, mean surprise)"
    dev_types = set(dev["attack_type"]) - {""}
    rows.append({"system": system, "task": f"evaluation set: ADFA-LD, {int((y == 0).sum())} normal + "
                 f"{int(y.sum())} attack traces unseen in development", "metric": "ROC-AUC", "value": roc_auc_score(y, s)})
    for kind in sorted(set(kinds) - {""}):
        sel = (y == 0) | (kinds == kind)
        where = "also in development" if kind in dev_types else "never seen in development"
        rows.append({"system": system, "task": f"evaluation set: ADFA-LD, attack type {kind} ({where})",
                     "metric": "ROC-AUC", "value": roc_auc_score(y[sel], s[sel])})
    print(rows[-1], flush=True)


def hdfs(rows: list, eval_home) -> None:
    seqs, labels = load_hdfs()
    with data_home(eval_home):
        X, y = load_hdfs()
    X_train = [s for s, lab in zip(seqs, labels) if lab == 0]
    task = f"evaluation set: HDFS, {int((y == 0).sum())} normal + {int(y.sum())} anomalous sessions"
    model = APICallSequenceModel(order=3, aggregate="max", window=1, contamination=0.01).fit(X_train)
    topg = APICallSequenceModel(order=3, aggregate="topg", top_g=9, calibration_folds=2).fit(X_train)
    count = -topg.score_samples(X)
    for system, flagged, scores in (
            ("APICallSequenceModel (order 3, max surprise)", model.predict(X) == -1, -model.score_samples(X)),
            ("DeepLog-style top-9 rule (same n-gram counts)", count >= 1, count)):
        both = (y == 0).any() and (y == 1).any()
        for metric, value in session_quality(y, flagged, scores if both else None).items():
            if both or metric in ("recall", "FPR"):
                rows.append({"system": system, "task": task, "metric": metric, "value": value})
    print(rows[-1], flush=True)


def malapi(rows: list, eval_home) -> None:
    seqs, fams = load_malapi()
    with data_home(eval_home):
        X, y = load_malapi()
    known = {tuple(s) for s in seqs}
    keep = [i for i, s in enumerate(X) if tuple(s) not in known]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf = APICallSequenceClassifier(order=2).fit(seqs, fams)
        pred = clf.predict([X[i] for i in keep])
    rows.append({"system": "APICallSequenceClassifier (order 2: n-grams up to 3 calls)",
                 "task": f"evaluation set: Mal-API-2019, {len(keep)} traces unseen in development", "metric": "macro-F1",
                 "value": f1_score(y[keep], pred.astype(str), average="macro")})
    print(rows[-1], flush=True)


SECTIONS = ("url", "domains", "ip", "adfa", "hdfs", "malapi")


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    rehearsal = "--rehearsal" in argv
    names = chosen_sections([a for a in argv if a != "--rehearsal"], SECTIONS)
    eval_home = evaluation_data_home()
    if eval_home is None:  # not an error: `make bench` runs every script, and most machines have no such set
        print("bench_heldout: skipped, SECML_DETECT_EVAL_DATA names no evaluation folder (see the docstring)")
        return
    rows, skipped = [], []
    for name in names:
        new: list[dict] = []
        try:
            globals()[name](new, eval_home)
        except DatasetNotFoundError as exc:
            print(f"section {name} skipped: {exc}", flush=True)
            skipped.append(f"{name} ({exc})")
        rows += [{**r, "section": name} for r in new]
        for r in new:
            print(f"  {r['system']} | {r['task']} | {r['metric']}: {r['value']}", flush=True)
    notes = __doc__.split("\n\n", 1)[1].strip()
    if skipped:
        notes += "\n\nSkipped, their data being absent from the evaluation folder: " + "; ".join(skipped) + "."
    if rehearsal:
        notes = REHEARSAL_NOTE + "\n\n" + notes
        write_result("bench_heldout_rehearsal", "Rehearsal of the independent evaluation (pseudo held-out split "
                     "of the development data)", rows, notes=notes, script="bench_heldout")
    else:
        write_result("bench_heldout", "Independent evaluation set: development-trained models on unseen data",
                     rows, notes=notes)


if __name__ == "__main__":
    main()
