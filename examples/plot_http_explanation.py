"""
Why an HTTP request is anomalous, parameter by parameter
========================================================

:class:`secml_detect.ProtocolAnomalyModel` learns normal traffic only: for
each endpoint and parameter, the value's length, character classes,
structure and byte sequences, pooled hierarchically (service -> endpoint ->
parameter) so that thin parameters borrow strength from their peers. Its
explanation names the field and the component that made a request unlikely.
"""

import matplotlib.pyplot as plt

from secml_detect import ProtocolAnomalyModel
from secml_detect.datasets.http import http_requests_from_values, load_http_params_sample

values, kinds, labels = load_http_params_sample()
normal = [v for v, y in zip(values, labels) if y == 0]
model = ProtocolAnomalyModel().fit(http_requests_from_values(normal, normal, seed=1))

attack = http_requests_from_values(["1' OR '1'='1' --"], normal, seed=5)[0]
print(attack.split(b"\r\n", 1)[0].decode())
explanation = model.explain([attack], top_k=6)[0]
print(f"threat_score = {explanation.threat_score:.4f}")
for c in explanation.contributions:
    print(f"  {c.weight:7.1f} nats  {c.name}: {c.value}")

fig, ax = plt.subplots(figsize=(7, 3.2))
names = [c.name.replace(" at /shop/cart/add", "") for c in explanation.contributions][::-1]
ax.barh(names, [c.weight for c in explanation.contributions][::-1], color="tab:red")
ax.set_xlabel("contribution to the surprise (nats)")
ax.set_title("One SQL injection, explained")
fig.tight_layout()
