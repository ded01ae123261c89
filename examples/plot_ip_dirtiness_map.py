"""
The spatial map of IP dirtiness
===============================

Bad addresses cluster: the same /16s and /24s are listed again and again.
:class:`secml_detect.IPSpatialFeatures` turns that into features with
empirical-Bayes smoothing (a /16 seen once is not called 100% bad). Here the
bundled Tor exit sample (first seen before 2021) against background addresses
gives, for every /16 (first octet across, second octet down), the smoothed
share of listed addresses, and we check how well those neighbourhoods rank
exits first seen in 2021.
"""

import matplotlib.pyplot as plt
import numpy as np
from sklearn.metrics import roc_auc_score

from secml_detect.datasets.ips import int_to_ipv4, ipv4_to_int, load_tor_exit_history, sample_background_ipv4
from secml_detect.hierarchy import BetaBinomialHierarchy

tor = load_tor_exit_history(bundled=True)
known = ipv4_to_int(tor.before("2021-01-01").ips)
background = sample_background_ipv4(len(known), exclude=tor.ips, random_state=0)
ips = np.r_[known, background].astype(np.int64)
listed = np.r_[np.ones(len(known)), np.zeros(len(background))]
hierarchy = BetaBinomialHierarchy().fit([ips >> 24, ips >> 16], listed)

# Smoothed rate of every /16 (unseen ones back off to their /8, then the global rate).
grid = np.arange(65536, dtype=np.int64)
rates = hierarchy.rates([grid >> 8, grid])[:, 1].reshape(256, 256)

fig, ax = plt.subplots(figsize=(5.5, 4.5))
im = ax.imshow(rates.T, cmap="magma", origin="upper", vmin=0, vmax=1)
ax.set_xlabel("first octet")
ax.set_ylabel("second octet")
ax.set_title("Smoothed share of Tor exits per /16 (before 2021)")
fig.colorbar(im, ax=ax, shrink=0.8)
fig.tight_layout()

# %%
# Do the neighbourhoods predict where the next listings appear?
new = ipv4_to_int(tor.between("2021-01-01", "2022-01-01").ips).astype(np.int64)
fresh_bg = sample_background_ipv4(len(new), exclude=tor.ips, random_state=1).astype(np.int64)
query = np.r_[new, fresh_bg]
score = hierarchy.rates([query >> 24, query >> 16])[:, 1]
print(f"ROC-AUC of the /16 rate for exits first seen in 2021: {roc_auc_score(np.r_[np.ones(len(new)), np.zeros(len(fresh_bg))], score):.3f}")
print("most listed /16s:", [int_to_ipv4([int(k) << 16])[0] + "/16" for k in np.argsort(-rates.ravel(), kind='stable')[:3]])
