"""HybridDetector: rules and models together, ranked alerts, analyst feedback, promotion."""

from .alert import Alert, severity_of
from .detector import HybridDetector

__all__ = ["HybridDetector", "Alert", "severity_of"]
