"""Cut the development data into a pseudo development set and a pseudo evaluation set.

``python benchmarks/pseudo_heldout.py OUT`` writes ``OUT/dev`` and ``OUT/eval``,
each laid out like ``../shared/datasets``, cut the way the real evaluation set
was cut from the full sources (see ``../shared/datasets/README.md``): a later
period for the dated lists, attack types and some normals kept apart for
ADFA-LD, part of the traces or sessions for the others, and part of the
OpenDNS domains standing in for the random-domains list. Then rehearse the
independent evaluation with::

    SECML_DETECT_DATA=OUT/dev SECML_DETECT_EVAL_DATA=OUT/eval \\
        python benchmarks/bench_heldout.py --rehearsal

Files keep their columns; the evaluation files get other names on purpose
(the loaders must find them by pattern). Datasets that the real evaluation set
does not cut are linked into ``OUT/dev`` unchanged.
"""

from __future__ import annotations

import csv
import hashlib
import sys
from pathlib import Path

from _common import REPO_ROOT  # noqa: F401  (puts the repository on sys.path)
from secml_detect.datasets import dataset_files, shared_data_home

OPENPHISH_CUT = "2026-02-01"
DATASHIELD_CUT = "2026-03-01"
ADFA_EVAL_TYPES = {"Hydra_SSH", "Meterpreter"}
LINKED = ("url_iscx2016_raw", "ioc_signature_base", "ip_tor_exit_history", "ip_provider_ranges",
          "http_params_morzeux")


def _bucket(text: str, n: int) -> int:
    return int(hashlib.sha1(text.encode("utf-8", "surrogatepass")).hexdigest(), 16) % n


def _split_csv(name: str, out: Path, eval_name: str, goes_to_eval) -> None:
    csv.field_size_limit(2**31 - 1)
    (src,) = dataset_files(name, "*.csv")
    with open(src, newline="", encoding="utf-8", errors="surrogateescape") as fh:
        reader = csv.DictReader(fh)
        fields, rows = reader.fieldnames, list(reader)
    for part, file_name in (("dev", src.name), ("eval", eval_name)):
        folder = out / part / name
        folder.mkdir(parents=True, exist_ok=True)
        with open(folder / file_name, "w", newline="", encoding="utf-8", errors="surrogateescape") as fh:
            writer = csv.DictWriter(fh, fields)
            writer.writeheader()
            writer.writerows(r for r in rows if goes_to_eval(r) == (part == "eval"))


def _split_lines(name: str, out: Path, files: dict) -> None:
    """``files``: source file name -> (dev name, eval name); one line in 3 goes to eval, by hash."""
    for src_name, (dev_name, eval_name) in files.items():
        (src,) = dataset_files(name, src_name)
        lines = [line for line in src.read_text(encoding="utf-8").splitlines() if line.strip()]
        for part, file_name in (("dev", dev_name), ("eval", eval_name)):
            folder = out / part / name
            folder.mkdir(parents=True, exist_ok=True)
            kept = [line for line in lines if (_bucket(line, 3) == 0) == (part == "eval")]
            (folder / file_name).write_text("\n".join(kept) + "\n", encoding="utf-8")


def main(out: Path) -> None:
    home = shared_data_home()
    _split_csv("url_openphish_feed_history", out, "openphish_firstseen_from_2026-02.csv",
               lambda r: r["first_seen_utc"][:10] >= OPENPHISH_CUT)
    _split_csv("ip_datashield_blocklist", out, "datashield_first_seen_from_2026-03.csv",
               lambda r: r["first_seen_utc"][:10] >= DATASHIELD_CUT)
    _split_csv("adfa_ld", out, "adfa_ld_traces_heldout.csv",
               lambda r: r["attack_type"] in ADFA_EVAL_TYPES or (r["split"] == "validation"
                                                                 and _bucket(r["syscalls"], 3) == 0))
    _split_csv("apicalls_malapi2019", out, "malapi_heldout.csv", lambda r: _bucket(r["api_calls"], 10) < 3)
    _split_lines("logs_hdfs_deeplog", out, {"hdfs_train_normal.txt": ("hdfs_train_normal.txt", "hdfs_test_normal"),
                                            "hdfs_abnormal_sample.txt": ("hdfs_abnormal_sample.txt",
                                                                         "hdfs_test_abnormal")})
    _split_lines("domain_opendns_benign", out, {"opendns-top-domains.txt": ("opendns-top-domains.txt",
                                                                            "opendns-random-domains.txt")})
    for name in LINKED:
        link = out / "dev" / name
        if not link.exists():
            link.symlink_to(home / name, target_is_directory=True)
    print(f"wrote {out / 'dev'} and {out / 'eval'}")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    main(Path(sys.argv[1]))
