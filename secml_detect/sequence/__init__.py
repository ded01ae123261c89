"""Call sequences and process baselines.

* :class:`APICallSequenceModel`: generative n-gram model of normal call
  sequences (system calls, API calls, log keys), smoothed across context
  lengths and across entities.
* :class:`APICallSequenceClassifier`: the discriminative companion for
  labelled sequences (for example malware families).
* :class:`SequenceKNNModel`: novelty of a whole trace, its distance to the
  nearest normal traces over TF-IDF n-gram vectors.
* :func:`select_order` / :func:`heldout_log_loss`: the n-gram order chosen
  from normal sequences only, by held-out surprise per call.
* :class:`ProcessBaseline`: learned allow-lists of processes and network
  destinations per deployment / container, observed then locked.
"""

from .baseline import ProcessBaseline
from .classifier import APICallSequenceClassifier
from .knn import SequenceKNNModel
from .ngram import APICallSequenceModel
from .selection import heldout_log_loss, select_order

__all__ = ["APICallSequenceModel", "APICallSequenceClassifier", "ProcessBaseline", "SequenceKNNModel", "heldout_log_loss",
           "select_order"]
