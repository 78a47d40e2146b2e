"""hetier: memory placement for homomorphically encrypted DNN inference.

Subpackages: ``hetier.tracer`` (real encrypted runs -> Arrow traces), ``hetier.models`` (the
DNN IR and architectures), ``hetier.simulator`` and ``hetier.analysis``. Nothing heavy
(tenseal, plotly) is imported here.
"""

__version__ = "0.1.0"
__all__ = ["__version__", "HetierError", "UsageError"]

from hetier.errors import HetierError, UsageError  # noqa: E402
