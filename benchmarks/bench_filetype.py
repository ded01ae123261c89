"""FileTypeDetector vs Magika and libmagic (python-magic), side by side in one run.

Data: the held-out ``test`` split of the corpus built by
``benchmarks/filetype_corpus.py`` (files of this machine labelled by magic
numbers, shebangs and content-checked extensions, plus derived and synthetic
files for rare types; near-duplicates grouped so that a group sits on one side
only; 30 % of the groups are held out). The shipped model was trained by
``benchmarks/filetype_train.py`` on the ``train`` split only.

Labels: each peer's answers are mapped onto our label names (Magika
``pebin`` -> ``pe``, ``jar``/``apk`` -> ``zip``, ``bzip`` -> ``bzip2``, ...;
libmagic MIME types ``text/x-shellscript`` -> ``shell``, ...). "Shared" rows
score only the held-out files whose true type the peer can name; an answer
outside the label set, or ``unknown``, counts as wrong for every system.
Speed: files/s over the held-out paths, page cache warm for everyone, one
process, best of three timed runs after a warm-up run (the machine is shared,
so the best run is the least disturbed one); Magika's speed is timed on a
fixed subset of ``MAGIKA_SPEED_FILES`` paths (best of two), its accuracy on
up to ``MAGIKA_MAX_FILES``. Peak memory is measured separately per batch size
(RSS growth and tracemalloc peak).
Robustness: ``secml_detect.filetype.samples.robustness_cases`` (disguised and
damaged inputs); "safe" = correct or ``unknown``.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.metrics import accuracy_score, f1_score

from _common import best_of, measure, write_result
from secml_detect.filetype import FileTypeDetector
from secml_detect.filetype.samples import robustness_cases

CORPUS = Path(os.environ.get("FILETYPE_CORPUS", "/work/cache/filetype"))
MAGIKA_MAX_FILES = int(os.environ.get("MAGIKA_MAX_FILES", "4000"))
MAGIKA_SPEED_FILES = int(os.environ.get("MAGIKA_SPEED_FILES", "400"))

MAGIKA_MAP = {"pebin": "pe", "bzip": "bzip2", "jar": "zip", "apk": "zip", "crt": "pem", "otf": "ttf",
              "jsonl": "json", "tsv": "csv"}
MIME_MAP = {
    "application/x-executable": "elf", "application/x-sharedlib": "elf", "application/x-pie-executable": "elf",
    "application/x-object": "elf", "application/x-coredump": "elf",
    "application/x-dosexec": "pe", "application/vnd.microsoft.portable-executable": "pe",
    "application/x-mach-binary": "macho",
    "text/x-shellscript": "shell", "text/x-script.python": "python", "text/x-python": "python",
    "text/x-perl": "perl", "text/x-ruby": "ruby", "text/x-php": "php", "application/javascript": "javascript",
    "text/javascript": "javascript", "text/x-c": "c", "text/x-c++": "cpp", "application/x-java-applet": "javabytecode",
    "application/x-bytecode.python": "pythonbytecode", "image/jpeg": "jpeg", "image/png": "png", "image/gif": "gif",
    "image/bmp": "bmp", "image/x-ms-bmp": "bmp", "image/x-icon": "ico", "image/vnd.microsoft.icon": "ico",
    "image/tiff": "tiff", "image/webp": "webp", "image/svg+xml": "svg", "application/pdf": "pdf",
    "application/postscript": "postscript", "application/zip": "zip", "application/java-archive": "zip",
    "application/gzip": "gzip", "application/x-gzip": "gzip", "application/x-xz": "xz", "application/x-bzip2": "bzip2",
    "application/x-tar": "tar", "application/vnd.debian.binary-package": "deb", "text/html": "html",
    "text/xml": "xml", "application/xml": "xml", "application/json": "json", "text/csv": "csv",
    "text/troff": "troff", "text/plain": "txt", "text/x-diff": "diff", "font/sfnt": "ttf", "font/ttf": "ttf",
    "application/x-font-ttf": "ttf", "font/woff2": "woff2", "application/x-gettext-translation": "mo",
    "text/x-po": "po", "application/vnd.sqlite3": "sqlite", "application/x-sqlite3": "sqlite",
    "text/x-makefile": "makefile", "text/x-tcl": "tcl", "application/x-pem-file": "pem",
    "text/x-ruby-script": "ruby", "text/x-msdos-batch": "batch", "text/x-tex": "latex",
}
# Labels each peer can name at all (after mapping).
LIBMAGIC_LABELS = set(MIME_MAP.values()) - {"latex"}


def magika_labels() -> set[str]:
    from magika import Magika

    return {MAGIKA_MAP.get(str(t), str(t)) for t in Magika().get_output_content_types()}


def scores(y, pred, labels) -> tuple[float, float]:
    y, pred = np.asarray(y), np.asarray(pred)
    mask = np.isin(y, list(labels))
    if not mask.any():
        return float("nan"), float("nan")
    present = sorted(set(y[mask]))
    return (float(accuracy_score(y[mask], pred[mask])),
            float(f1_score(y[mask], pred[mask], labels=present, average="macro", zero_division=0)))


def run_ours(det, paths):
    with measure() as m:
        res = det.detect(paths)
    seconds = best_of(lambda: det.predict(paths), repeat=3)
    return [r.label for r in res], [r.best_guess for r in res], m, len(paths) / seconds


def run_magika(paths):
    from magika import Magika

    t0 = time.perf_counter()
    mg = Magika()
    load_s = time.perf_counter() - t0
    out = []
    with measure() as m:
        for i in range(0, len(paths), 256):
            for r in mg.identify_paths([Path(p) for p in paths[i:i + 256]]):
                lab = str(r.output.label) if r.ok else "unknown"
                out.append(MAGIKA_MAP.get(lab, lab))
    step = max(1, len(paths) // MAGIKA_SPEED_FILES)  # every type, in corpus proportions
    speed_paths = [Path(p) for p in paths[::step][:MAGIKA_SPEED_FILES]]
    seconds = best_of(lambda: mg.identify_paths(speed_paths), repeat=2)
    return out, m, load_s, mg, len(speed_paths) / seconds


def run_libmagic(paths):
    import magic

    mg = magic.Magic(mime=True)

    def label_all():
        out = []
        for p in paths:
            try:
                mime = mg.from_file(p)
            except Exception:  # noqa: BLE001 - libmagic raises on unreadable files
                mime = "unknown"
            out.append(MIME_MAP.get(mime, "unknown"))
        return out

    with measure() as m:
        out = label_all()
    seconds = best_of(label_all, repeat=3)
    return out, m, mg, len(paths) / seconds


def memory_vs_batch(det, paths, sizes):
    rows = []
    for n in sizes:
        batch = (paths * (n // len(paths) + 1))[:n]
        with measure() as m:
            det.threat_score(batch)
        rows.append((n, m.peak_mb, m.items_per_s(n)))
    return rows


def main() -> int:
    manifest = CORPUS / "manifest.jsonl"
    if not manifest.exists():
        print(f"no corpus at {CORPUS}: run benchmarks/filetype_corpus.py first", file=sys.stderr)
        return 1
    recs = [json.loads(line) for line in open(manifest)]
    test = [r for r in recs if r["split"] == "test" and os.path.exists(r["path"])]
    paths = [r["path"] for r in test]
    y = np.array([r["label"] for r in test])
    for p in paths:  # warm the page cache for every system alike
        with open(p, "rb") as fh:
            fh.read(1 << 16)

    t0 = time.perf_counter()
    det = FileTypeDetector.pretrained()
    load_s = time.perf_counter() - t0
    det.predict(paths[:50])  # compile/load outside the timings
    ours, ours_guess, m_ours, ours_fps = run_ours(det, paths)

    rng = np.random.RandomState(0)
    sub = np.sort(rng.choice(len(paths), min(len(paths), MAGIKA_MAX_FILES), replace=False))
    mg_paths = [paths[i] for i in sub]
    mg_pred, m_mg, mg_load_s, mg, mg_fps = run_magika(mg_paths)
    lm_pred, m_lm, lm, lm_fps = run_libmagic(paths)

    mg_labels = magika_labels() & set(det.classes_)
    lm_labels = LIBMAGIC_LABELS & set(det.classes_)
    ours_arr, guess_arr = np.array(ours), np.array(ours_guess)
    rows = []
    task = f"held-out files ({len(paths)}, {len(set(y))} types)"
    acc, mf1 = scores(y, ours_arr, set(det.classes_))
    gacc, gmf1 = scores(y, guess_arr, set(det.classes_))
    rows += [
        {"system": "FileTypeDetector", "task": task, "metric": "accuracy (unknown = wrong)", "value": acc,
         "items_per_s": ours_fps, "peak_mem_mb": m_ours.peak_mb, "ratio_to_peer": ours_fps / mg_fps},
        {"system": "FileTypeDetector", "task": task, "metric": "macro-F1 (unknown = wrong)", "value": mf1},
        {"system": "FileTypeDetector", "task": task, "metric": "accuracy of best guess (no abstain)", "value": gacc},
        {"system": "FileTypeDetector", "task": task, "metric": "share answered unknown",
         "value": float(np.mean(ours_arr == "unknown"))},
    ]
    y_sub, ours_sub, guess_sub = y[sub], ours_arr[sub], guess_arr[sub]
    task_mg = f"labels shared with Magika ({len(mg_labels)} types, {int(np.isin(y_sub, list(mg_labels)).sum())} files)"
    for name, pred in (("FileTypeDetector", ours_sub), ("Magika 1.0.3", np.array(mg_pred))):
        a, f = scores(y_sub, pred, mg_labels)
        row = {"system": name, "task": task_mg, "metric": "accuracy", "value": a}
        if name == "Magika 1.0.3":
            row.update({"items_per_s": mg_fps, "peak_mem_mb": m_mg.peak_mb})
        rows += [row, {"system": name, "task": task_mg, "metric": "macro-F1", "value": f}]
    task_lm = f"labels shared with libmagic ({len(lm_labels)} types, {int(np.isin(y, list(lm_labels)).sum())} files)"
    for name, pred in (("FileTypeDetector", ours_arr), ("libmagic (python-magic, MIME)", np.array(lm_pred))):
        a, f = scores(y, pred, lm_labels)
        row = {"system": name, "task": task_lm, "metric": "accuracy", "value": a}
        if name.startswith("libmagic"):
            row.update({"items_per_s": lm_fps, "peak_mem_mb": m_lm.peak_mb})
        else:
            row["ratio_to_peer"] = ours_fps / lm_fps
        rows += [row, {"system": name, "task": task_lm, "metric": "macro-F1", "value": f}]

    # Robustness suite, all three systems.
    cases = robustness_cases()
    ours_rob = [r.label for r in det.detect([c.content for c in cases])]
    mg_rob = []
    for c in cases:
        r = mg.identify_bytes(c.content)
        lab = str(r.output.label) if r.ok else "unknown"
        mg_rob.append({"empty": "empty"}.get(lab, MAGIKA_MAP.get(lab, lab)))
    lm_rob = []
    for c in cases:
        mime = lm.from_buffer(c.content) if c.content else "application/x-empty"
        lm_rob.append("empty" if mime == "application/x-empty" else MIME_MAP.get(mime, "unknown"))
    rob_task = f"robustness suite ({len(cases)} disguised/damaged inputs)"
    for name, pred in (("FileTypeDetector", ours_rob), ("Magika 1.0.3", mg_rob), ("libmagic", lm_rob)):
        safe = np.mean([p in c.accept or p == "unknown" for c, p in zip(cases, pred)])
        rows.append({"system": name, "task": rob_task, "metric": "correct or unknown", "value": float(safe)})

    # Memory vs batch size.
    mem = memory_vs_batch(det, paths, [256, 2048, 16384, 65536])
    mg_mem = []
    for n in (256, 2048):
        batch = [Path(p) for p in (mg_paths * (n // len(mg_paths) + 1))[:n]]
        with measure() as m:
            mg.identify_paths(batch)
        mg_mem.append((n, m.peak_mb, m.items_per_s(n)))
    for n, mb, fps in mem:
        rows.append({"system": "FileTypeDetector", "task": f"batch of {n} paths", "metric": "peak memory",
                     "peak_mem_mb": mb})
    for n, mb, fps in mg_mem:
        rows.append({"system": "Magika 1.0.3", "task": f"batch of {n} paths", "metric": "peak memory",
                     "peak_mem_mb": mb})

    per_label = {}
    for lab in sorted(set(y)):
        mk = y == lab
        per_label[lab] = {"n": int(mk.sum()), "ours": float(np.mean(ours_arr[mk] == lab))}
    confusions = {}
    for t, p in zip(y, ours_arr):
        if t != p:
            confusions[f"{t}->{p}"] = confusions.get(f"{t}->{p}", 0) + 1
    top_conf = sorted(confusions.items(), key=lambda kv: -kv[1])[:12]
    sections = [
        f"Model load: FileTypeDetector {load_s:.2f}s, Magika {mg_load_s:.2f}s. Speed ratio vs Magika "
        f"{ours_fps / mg_fps:.1f}x, vs libmagic {ours_fps / lm_fps:.1f}x (files/s: ours {ours_fps:,.0f}, "
        f"Magika {mg_fps:,.0f}, libmagic {lm_fps:,.0f}).",
        "Per-type accuracy of FileTypeDetector (unknown = wrong): " + ", ".join(
            f"{k} {v['ours']:.2f} ({v['n']})" for k, v in per_label.items()) + ".",
        "Most frequent errors (true->answer): " + ", ".join(f"{k} {v}" for k, v in top_conf) + ".",
    ]
    write_result("bench_filetype", "FileTypeDetector vs Magika and libmagic", rows,
                 notes=__doc__.split("\n\n", 1)[1].strip(), sections=sections)
    for r in rows:
        print({k: (round(v, 4) if isinstance(v, float) else v) for k, v in r.items()})
    for s in sections:
        print(s)
    return 0


if __name__ == "__main__":
    sys.exit(main())
