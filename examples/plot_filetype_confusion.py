"""
Confusion matrix of file types on this machine's files
======================================================

The shipped :class:`secml_detect.FileTypeDetector` labels files by content
(first and last KiB). Here it labels files of this Python installation whose
extension tells what they should be (``.py``, ``.so``, ``.pyc``, ``.json``,
``.html``, ``.png``, ``.gz``, ``.zip``...); the extension is only a rough
ground truth, so some "errors" are files that lie about their type.
"""

import random
import sys
from pathlib import Path

import matplotlib.pyplot as plt
from sklearn.metrics import ConfusionMatrixDisplay

from secml_detect import FileTypeDetector

EXTENSIONS = {".py": "python", ".so": "elf", ".pyc": "pythonbytecode", ".json": "json", ".html": "html",
              ".png": "png", ".gz": "gzip", ".zip": "zip", ".css": "css", ".js": "javascript", ".xml": "xml"}
root = Path(sys.prefix)
by_label = {}
for path in root.rglob("*"):
    label = EXTENSIONS.get(path.suffix)
    if label and path.is_file() and path.stat().st_size > 64:
        by_label.setdefault(label, []).append(path)
random.seed(0)
paths, truth = [], []
for label, found in sorted(by_label.items()):
    for path in random.sample(found, min(40, len(found))):
        paths.append(str(path))
        truth.append(label)

det = FileTypeDetector.pretrained()
predicted = [r.label if r.ok else "error" for r in det.detect(paths)]
accuracy = sum(p == t for p, t in zip(predicted, truth)) / len(truth)
print(f"{len(paths)} files, agreement with the extension: {accuracy:.3f}")

labels = sorted(set(truth) | set(predicted))
fig, ax = plt.subplots(figsize=(7, 6))
ConfusionMatrixDisplay.from_predictions(truth, predicted, labels=labels, ax=ax, colorbar=False,
                                        xticks_rotation=60, cmap="Blues")
ax.set_xlabel("predicted (content)")
ax.set_ylabel("expected (extension)")
fig.tight_layout()
