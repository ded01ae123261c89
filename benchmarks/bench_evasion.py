"""Evasion suite: how often cheap obfuscations make a detector miss what it caught.

For each detector, malicious items that the detector flags in their plain
form (score at or above the threshold) are transformed by each obfuscation;
the evasion rate is the share that then falls to or below the threshold (or,
for rules, no longer matches; a fallback score for an unparsable item counts
as a miss). Lower is better.

* URLClassifier (threshold 0.5; trained on the bundled domain sample, split
  by registered domain; evaluated on held-out C2 domains written as URLs):
  percent-encoding, upper case, an IDN homoglyph, a userinfo prefix
  (``https://paypal.com@host``), long benign-looking padding.
* SignatureMatcher and IPReputationClassifier on addresses: the same IPv4
  written in decimal, hex, octal, with leading zeros, and as IPv4-mapped IPv6.
  Rules: a list of the bundled Tor exits; model threshold 0.5.
* ByteFrequencyModel on HTTP parameter attacks (bundled sample; threshold at
  FPR 1% of held-out normal values): URL-encoding, double encoding, base64,
  case toggling, SQL comment insertion, padding with normal text.
* ProtocolAnomalyModel on the same attacks wrapped into HTTP requests
  (threshold at FPR 1% of held-out normal requests), same transformations.
* File polyglots and disguises (prefix padding, a zip appended to a JPEG,
  NUL padding, truncation) are the FileTypeDetector robustness suite: see
  its section and ``tests/test_filetype.py``.
"""

from __future__ import annotations

import base64
import ipaddress
import urllib.parse
import warnings

import numpy as np

from _common import write_result
from secml_detect import ByteFrequencyModel, IPReputationClassifier, SignatureMatcher, URLClassifier

warnings.simplefilter("ignore")


def evasion_rate(score, items, transforms, threshold):
    base = score(items)
    # Flagged means strictly above the threshold, so a fallback score equal to it counts as a miss.
    caught = [x for x, s in zip(items, base) if s > threshold]
    out = {}
    for name, fn in transforms.items():
        changed = [fn(x) for x in caught]
        out[name] = float(np.mean(score(changed) <= threshold)) if caught else float("nan")
    return out, len(caught), len(items)


def url_suite():
    from sklearn.model_selection import GroupShuffleSplit

    from secml_detect.datasets.urls import load_domain_sample, registered_domains

    domains, y = load_domain_sample()
    groups = registered_domains(domains)
    train, test = next(GroupShuffleSplit(n_splits=1, test_size=0.4, random_state=0).split(domains, y, groups))
    clf = URLClassifier(n_features=2**16, random_state=0).fit([domains[i] for i in train], y[train])
    bad = [f"http://{domains[i]}/login/verify.php?id=123" for i in test if y[i] == 1]
    homoglyph = str.maketrans({"a": "\u0430", "e": "\u0435", "o": "\u043e"})
    transforms = {
        "percent-encode path": lambda u: u.split("/login")[0] + "/" + urllib.parse.quote("login/verify.php", safe="").replace("o", "%6F"),
        "upper case": lambda u: u.upper(),
        "IDN homoglyph host": lambda u: u.translate(homoglyph),
        "userinfo prefix": lambda u: u.replace("http://", "http://accounts.google.com@"),
        "long benign padding": lambda u: u + "&ref=" + "news/article/technology/" * 40,
    }
    return evasion_rate(clf.threat_score, bad, transforms, 0.5)


def ip_forms():
    def decimal(ip):
        return str(int(ipaddress.IPv4Address(ip)))

    def hexa(ip):
        return hex(int(ipaddress.IPv4Address(ip)))

    def octal(ip):
        return ".".join("0" + format(int(p), "o") for p in ip.split("."))

    def zeros(ip):
        return ".".join(f"{int(p):03d}" for p in ip.split("."))

    def mapped(ip):
        return f"::ffff:{ip}"

    return {"decimal": decimal, "hex": hexa, "octal": octal, "leading zeros": zeros, "IPv4-mapped IPv6": mapped}


def ip_suite():
    from secml_detect.datasets.ips import int_to_ipv4, load_tor_exit_history, sample_background_ipv4

    tor = load_tor_exit_history(bundled=True)
    known = tor.before("2021-01-01").ips
    rules = SignatureMatcher(indicators={"ip": known}).fit()
    rules_res = evasion_rate(lambda xs: rules.threat_score([{"dst_ip": x} for x in xs]), known[:500], ip_forms(), 0.5)
    background = int_to_ipv4(sample_background_ipv4(len(known), exclude=tor.ips, random_state=0))
    clf = IPReputationClassifier().fit(known + background, [1] * len(known) + [0] * len(background))
    new = tor.between("2021-01-01", "2022-01-01").ips
    model_res = evasion_rate(clf.threat_score, new, ip_forms(), 0.5)
    return rules_res, model_res


def payload_suite():
    from secml_detect.datasets.http import load_http_params_sample

    values, kinds, labels = load_http_params_sample()
    normal = [v for v, y in zip(values, labels) if y == 0]
    attacks = [v for v, y in zip(values, labels) if y == 1]
    model = ByteFrequencyModel().fit(normal[:300])
    held = np.sort(model.threat_score(normal[300:]))
    threshold = held[int(np.ceil(0.99 * len(held))) - 1]
    transforms = payload_transforms(normal)
    return evasion_rate(model.threat_score, attacks, transforms, threshold)


def protocol_suite():
    from secml_detect import ProtocolAnomalyModel
    from secml_detect.datasets.http import http_requests_from_values, load_http_params_sample

    values, kinds, labels = load_http_params_sample()
    normal = [v for v, y in zip(values, labels) if y == 0]
    attacks = [v for v, y in zip(values, labels) if y == 1]
    model = ProtocolAnomalyModel().fit(http_requests_from_values(normal[:300], normal[:300], seed=1))

    def score(batch):
        # Each attack value is wrapped into a request of its own, placed reproducibly.
        return model.threat_score(http_requests_from_values(batch, normal[:300], seed=7))

    held = np.sort(model.threat_score(http_requests_from_values(normal[300:], normal[:300], seed=2)))
    threshold = held[int(np.ceil(0.99 * len(held))) - 1]
    return evasion_rate(score, attacks, payload_transforms(normal), threshold)


def payload_transforms(normal):
    return {
        "URL-encode": lambda v: urllib.parse.quote(v, safe=""),
        "double URL-encode": lambda v: urllib.parse.quote(urllib.parse.quote(v, safe=""), safe=""),
        "base64": lambda v: base64.b64encode(v.encode()).decode(),
        "case toggling": lambda v: "".join(c.upper() if i % 2 else c.lower() for i, c in enumerate(v)),
        "SQL comments": lambda v: v.replace(" ", "/**/"),
        "normal-text padding": lambda v: v + " " + " ".join(normal[:20]),
    }


def main() -> None:
    rows, sections = [], []
    for system, (rates, n_caught, n_all) in (
        ("URLClassifier", url_suite()),
        ("SignatureMatcher (Tor exit list)", ip_suite()[0]),
        ("IPReputationClassifier", ip_suite()[1]),
        ("ByteFrequencyModel (HTTP params)", payload_suite()),
        ("ProtocolAnomalyModel (HTTP requests)", protocol_suite()),
    ):
        for name, rate in rates.items():
            rows.append({"system": system, "task": name, "metric": "evasion rate", "value": rate})
        sections.append(f"{system}: {n_caught} of {n_all} malicious items caught in plain form were transformed.")
    write_result("bench_evasion", "Evasion suite", rows, notes=__doc__.split("\n\n", 1)[1], sections=sections)


if __name__ == "__main__":
    main()
