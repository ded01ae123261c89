"""
Content types of files with the shipped model
=============================================

Load the pre-trained :class:`secml_detect.FileTypeDetector`, label a few
synthetic files and the files of this Python installation, and rank them by
``threat_score`` (the probability of executable content).
"""

import os
import sys
from collections import Counter

from secml_detect import FileTypeDetector
from secml_detect.filetype.samples import make_samples

det = FileTypeDetector.pretrained()
samples = make_samples()
for (name, content), result in zip(samples.items(), det.detect(list(samples.values()))):
    print(f"{name:15s} -> {result.label:15s} confidence {result.confidence:.2f}  threat {result.threat_score:.2f}")

# Real files: the interpreter and its standard library (bounded reads, unreadable paths reported).
root = os.path.dirname(os.__file__)
paths = [sys.executable] + [os.path.join(root, n) for n in sorted(os.listdir(root))[:200]]
paths.append(root)  # a directory: reported with ok=False, never an exception
results = det.detect(paths)
print(Counter(r.label if r.ok else f"error: {r.error}" for r in results).most_common(8))
readable = [(p, r) for p, r in zip(paths, results) if r.ok]
top = sorted(readable, key=lambda pr: -pr[1].threat_score)[:3]
for path, r in top:
    print(f"{r.threat_score:.2f} {r.label:12s} {path}")
