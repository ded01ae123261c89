"""Train the FileTypeDetector model shipped in ``secml_detect/filetype/model/``.

Usage::

    python benchmarks/filetype_corpus.py            # builds /work/cache/filetype
    python benchmarks/filetype_train.py [--corpus /work/cache/filetype] [--select]

Trains on the ``train`` split of the corpus only (so ``bench_filetype.py``
measures the shipped model on held-out files) and writes ``filetype.smd``
(secml_detect's safe format) and ``metadata.json`` (label set, corpus
description, version, parameters). With ``--select`` it only compares a few
settings on a validation part of the train split (20 % of the train groups),
prints them and records them under ``model_selection`` in ``metadata.json``;
the defaults are the result of that comparison.
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import json
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.metrics import accuracy_score, f1_score

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from secml_detect import __version__  # noqa: E402
from secml_detect.filetype.detector import METADATA_FILE, MODEL_FILE, FileTypeDetector  # noqa: E402
from secml_detect.filetype.samples import robustness_cases  # noqa: E402
from secml_detect.persistence import save  # noqa: E402

CANDIDATES = [
    {"C": 10.0},
    {"C": 3.0},
    {"C": 30.0},
    {"C": 10.0, "augment": False},
    {"C": 10.0, "ngram_max": 2},
    {"C": 10.0, "n_hash": 1 << 13},
]


def load_corpus(corpus: Path):
    recs = [json.loads(line) for line in open(corpus / "manifest.jsonl")]
    return recs


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", default="/work/cache/filetype")
    ap.add_argument("--select", action="store_true", help="compare candidate settings first")
    ap.add_argument("--out", default=str(MODEL_FILE))
    args = ap.parse_args(argv)
    corpus = Path(args.corpus)
    recs = load_corpus(corpus)
    train = [r for r in recs if r["split"] == "train"]
    X = [r["path"] for r in train]
    y = np.array([r["label"] for r in train])
    groups = np.array([r["group"] for r in train])
    val = np.array([int(hashlib.sha1(f"val{g}".encode()).hexdigest()[:8], 16) % 5 == 0 for g in groups])
    Xa = [x for x, v in zip(X, val) if not v]
    Xv = [x for x, v in zip(X, val) if v]
    if args.select:
        rows = []
        for params in CANDIDATES:
            t = time.time()
            det = FileTypeDetector(**params).fit(Xa, y[~val])
            fit_s = time.time() - t
            proba = det.predict_proba(Xv)
            guess = det.classes_[proba.argmax(1)]
            cases = robustness_cases()
            rob = det.predict([c.content for c in cases])
            rows.append({"params": params, "fit_seconds": round(fit_s, 1),
                         "robustness_safe": round(float(np.mean([p in c.accept or p == "unknown"
                                                                 for c, p in zip(cases, rob)])), 4),
                         "val_accuracy": round(float(accuracy_score(y[val], guess)), 4),
                         "val_macro_f1": round(float(f1_score(y[val], guess, average="macro")), 4),
                         "model_mb_float32": round(det.weights_.nbytes / 1e6, 2)})
            print(rows[-1], flush=True)
        meta_path = Path(args.out).parent / METADATA_FILE.name
        meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
        meta["model_selection"] = {"validation": "20 % of the train groups (fitted on the other 80 %)",
                                   "candidates": rows}
        meta_path.write_text(json.dumps(meta, indent=1, default=str) + "\n")
        return 0
    # Temperature: fit on 80 % of the train groups, minimise the log-loss on the other 20 %.
    t = time.time()
    probe = FileTypeDetector().fit(Xa, y[~val])
    best_t, best_nll, table = 1.0, np.inf, []
    for temp in (0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5, 0.6, 0.8, 1.0):
        probe.set_params(temperature=temp)
        proba = probe.predict_proba(Xv)
        col = np.searchsorted(probe.classes_, y[val])
        known = np.isin(y[val], probe.classes_)
        nll = float(-np.mean(np.log(np.clip(proba[known, col[known]], 1e-12, 1))))
        conf = proba.max(axis=1)
        guess = probe.classes_[proba.argmax(axis=1)]
        sure = conf >= 0.5
        table.append({"temperature": temp, "val_log_loss": round(nll, 4), "val_unknown_share": round(float(1 - sure.mean()), 4),
                      "val_accuracy_when_answered": round(float(np.mean(guess[sure] == y[val][sure])), 4)})
        print(table[-1], flush=True)
        if nll < best_nll:
            best_t, best_nll = temp, nll
    print(f"temperature {best_t} (validation fit {time.time() - t:.0f}s)", flush=True)
    t = time.time()
    det = FileTypeDetector(temperature=best_t).fit(X, y)
    fit_s = time.time() - t
    summary = json.loads((corpus / "summary.json").read_text())
    meta_path = Path(args.out).parent / METADATA_FILE.name
    old_meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
    sources = collections.Counter(r["source"] for r in train)
    meta = {
        "name": "secml_detect filetype model",
        "model_version": "1.0",
        "secml_detect_version": __version__,
        "trained": time.strftime("%Y-%m-%d"),
        "labels": det.classes_.tolist(),
        "reserved_answers": ["unknown", "empty"],
        "types_of_interest_default": list(__import__(
            "secml_detect.filetype.detector", fromlist=["x"]).DEFAULT_TYPES_OF_INTEREST),
        "params": det.get_params(),
        "corpus": {
            "description": ("Files of one Debian 12 development machine (/usr, /etc, /opt, apt archive, "
                            "pyenv Pythons, a virtualenv) labelled by magic numbers, shebangs and "
                            "content-checked extensions, de-duplicated (SHA-256) and grouped by "
                            "near-duplicate keys; plus derived files (man pages decompressed to troff, class "
                            "files from jars, tar/xz/bzip2 made from corpus files) and synthetic ones "
                            "(Pillow images, matplotlib PDF/SVG/PostScript, Ruby/PowerShell/batch "
                            "templates, patched PE files). Built by benchmarks/filetype_corpus.py."),
            "train_files": len(train),
            "train_sources": dict(sources),
            "per_label_train": dict(collections.Counter(y.tolist())),
            "cap_per_label": summary.get("cap"),
            "split": "group-wise 70/30 (train/test); this model saw only the train part",
        },
        "fit_seconds": round(fit_s, 1),
        "model_selection": old_meta.get("model_selection"),
        "temperature_selection": {"validation": "20 % of the train groups (model fitted on the other 80 %)",
                                  "table": table, "chosen": best_t},
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    save(det, out, metadata={"labels": meta["labels"], "model_version": meta["model_version"]})
    (out.parent / METADATA_FILE.name).write_text(json.dumps(meta, indent=1, default=str) + "\n")
    print(f"trained on {len(train)} files, {len(det.classes_)} types in {fit_s:.0f}s -> {out} "
          f"({out.stat().st_size / 1e6:.2f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
