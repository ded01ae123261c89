"""Call sequences and process baselines.

* :class:`APICallSequenceModel`: generative n-gram model of normal call
  sequences (system calls, API calls, log keys), smoothed across context
  lengths and across entities.
* :class:`APICallSequenceClassifier`: the discriminative companion for
  labelled sequences (for example malware families).
* :class:`ProcessBaseline`: learned allow-lists of processes and network
  destinations per deployment / container, observed then locked.
"""

from .baseline import ProcessBaseline
from .classifier import APICallSequenceClassifier
from .ngram import APICallSequenceModel

__all__ = ["APICallSequenceModel", "APICallSequenceClassifier", "ProcessBaseline"]
