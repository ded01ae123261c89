"""Loaders for URL and domain data: shared datasets and a bundled sample.

Shared (``../shared/datasets``, see :mod:`secml_detect.datasets`):

* ``url_iscx2016_raw``: ISCX-URL-2016 benign / malware / phishing / spam URLs
  (:func:`load_iscx_urls`); the benign URLs come from only ~310 hosts, so
  split by registered domain (:func:`registered_domains`), never by row.
* ``url_openphish_feed_history``: OpenPhish URLs with the time each was
  first seen (:func:`load_openphish`), for temporal splits.
* ``domain_opendns_benign``: the OpenDNS top-10k popular domains
  (:func:`load_opendns_top`).
* ``ioc_signature_base``: C2 domains from signature-base's ``c2-iocs.txt``
  (:func:`load_c2_domains`).

Bundled (:func:`load_domain_sample`): 1,500 OpenDNS top domains (public
domain) and the C2 domains of signature-base (DRL 1.1, attribution in
``secml_detect/datasets/data/README.md``), for demos and tests.
"""

from __future__ import annotations

import csv
import html
import re

import numpy as np

from . import bundled_path, dataset_files, shared_dataset_path

__all__ = [
    "load_iscx_urls",
    "load_openphish",
    "load_opendns_top",
    "load_opendns_random",
    "load_c2_domains",
    "load_domain_sample",
    "registered_domains",
]

ISCX_FILES = {
    "benign": "Benign_list_big_final.csv",
    "malware": "Malware_dataset.csv",
    "phishing": "phishing_dataset.csv",
    "spam": "spam_dataset.csv",
}
_IPV4 = re.compile(r"^\d{1,3}(\.\d{1,3}){3}$")


def load_iscx_urls(kinds=("benign", "malware", "phishing", "spam"), *, dedupe: bool = True,
                   unescape: bool = True) -> tuple[list[str], np.ndarray, list[str]]:
    """ISCX-URL-2016 raw URLs.

    Parameters
    ----------
    kinds : sequence of {"benign", "malware", "phishing", "spam"}
    dedupe : bool, default=True
        Keep the first copy of each URL (the malware list has 2,691 distinct
        URLs among 11,566 rows); a URL listed under two kinds keeps the first.
    unescape : bool, default=True
        Undo HTML escaping (``&amp;``, repeatedly: some rows are escaped four
        times over), an artefact of the phishing list that a model could
        otherwise learn.

    Returns
    -------
    urls : list of str
    labels : ndarray of int (1 = malicious: malware, phishing, spam)
    kinds : list of str
    """
    urls, labels, out_kinds = [], [], []
    seen = set()
    for kind in kinds:
        path = shared_dataset_path("url_iscx2016_raw", ISCX_FILES[kind])
        with open(path, encoding="utf-8", errors="surrogateescape", newline="") as fh:
            reader = csv.reader(fh)
            next(reader, None)
            for row in reader:
                if not row or not row[0].strip():
                    continue
                url = row[0].strip()
                if unescape:
                    for _ in range(8):  # escaped up to four times over ("&amp;amp;amp;amp;")
                        plain = html.unescape(url)
                        if plain == url:
                            break
                        url = plain
                if dedupe:
                    if url in seen:
                        continue
                    seen.add(url)
                urls.append(url)
                labels.append(0 if kind == "benign" else 1)
                out_kinds.append(kind)
    return urls, np.array(labels, dtype=np.int64), out_kinds


def load_openphish() -> tuple[list[str], np.ndarray]:
    """OpenPhish URLs (all phishing) and the UTC time each was first seen.

    Every ``*.csv`` of the folder is read (a snapshot may come in parts, and
    an evaluation set of the same form may name its file after another
    period), in name order.

    Returns
    -------
    urls : list of str
    first_seen : ndarray of datetime64[s]
        URLs of the first commit (2024-10-12) are left-censored: they existed
        before.
    """
    urls, times = [], []
    for path in dataset_files("url_openphish_feed_history", "*.csv"):
        with open(path, encoding="utf-8", errors="surrogateescape", newline="") as fh:
            reader = csv.reader(fh)
            next(reader, None)
            for row in reader:
                if len(row) < 2:
                    continue
                urls.append(row[0])
                times.append(row[1][:19])
    return urls, np.array(times, dtype="datetime64[s]")


def _read_domains(pattern: str) -> list[str]:
    out = []
    for path in dataset_files("domain_opendns_benign", pattern):
        out += [line.strip() for line in open(path, encoding="utf-8") if line.strip()]
    return out


def load_opendns_top() -> list[str]:
    """The OpenDNS top-10k popular domains (2014; benign, malware domains removed).

    Reads the folder's ``*top*.txt`` files.
    """
    return _read_domains("*top*.txt")


def load_opendns_random() -> list[str]:
    """OpenDNS's random sample of resolved domains (benign, far less popular than the top list).

    Reads the folder's ``*random*.txt`` files: the list the development data
    keeps apart for evaluation, so this raises
    :class:`~secml_detect.datasets.DatasetNotFoundError` there.
    """
    return _read_domains("*random*.txt")


def load_c2_domains() -> list[str]:
    """Distinct C2 domain names (not IP addresses) from signature-base ``c2-iocs.txt``."""
    path = shared_dataset_path("ioc_signature_base", "c2-iocs.txt")
    return _parse_c2(open(path, encoding="utf-8", errors="replace"))


def _parse_c2(lines) -> list[str]:
    out, seen = [], set()
    for line in lines:
        entry = line.split(";")[0].strip().lower()
        if not entry or entry.startswith("#") or _IPV4.match(entry) or ":" in entry or "." not in entry:
            continue
        if entry not in seen:
            seen.add(entry)
            out.append(entry)
    return out


def load_domain_sample() -> tuple[list[str], np.ndarray]:
    """Bundled sample: popular domains (label 0) and C2 domains (label 1).

    Examples
    --------
    >>> domains, labels = load_domain_sample()
    >>> len(domains) == len(labels), sorted(set(labels.tolist()))
    (True, [0, 1])
    """
    domains, labels = [], []
    with open(bundled_path("url_domains_sample.tsv"), encoding="utf-8") as fh:
        for line in fh:
            if line.startswith("#") or not line.strip():
                continue
            label, domain = line.rstrip("\n").split("\t", 1)
            domains.append(domain)
            labels.append(int(label))
    return domains, np.array(labels, dtype=np.int64)


def registered_domains(urls, *, private: bool = False) -> list[str]:
    """Registered domain (label + public suffix) of each URL, for group splits.

    Uses the same parser and Public Suffix List as the classifier. With
    ``private=False`` (default) shared-hosting tenants such as
    ``x.azurewebsites.net`` group under ``azurewebsites.net`` (the stricter
    grouping for evaluation). IP hosts group by the address; unparsable
    items give ``""``.

    Examples
    --------
    >>> registered_domains(["https://a.b.example.co.uk/x", "tenant.azurewebsites.net", "http://1.2.3.4/"])
    ['example.co.uk', 'azurewebsites.net', '1.2.3.4']
    """
    from ..url import URLFeatures

    feats = URLFeatures(private_suffixes=private, n_features=1).fit()
    ragged = feats.to_ragged(list(urls))
    lex, spans = feats.lexical_ragged(ragged)
    buf = ragged.data.tobytes()
    out = []
    ip_col = feats.feature_names_.index("ip_host")
    for i in range(len(ragged)):
        hs, he, ss, ds, de = (int(v) for v in spans[i])
        if lex[i, ip_col]:
            out.append(buf[hs:he].decode("utf-8", "replace").lower())
        else:
            out.append(buf[ds:he].decode("utf-8", "replace").lower())
    return out
