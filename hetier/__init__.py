"""hetier: memory placement for homomorphically encrypted DNN inference.

The Python API (``hetier/api.py``, semantically versioned): trace a model (``trace``), read a
trace (``open_trace``, ``info``, ``load_trace``), say what to simulate (``machine``, ``stack``,
``Scenario`` / ``scenario``) and predict it (``simulate``), ask for answers (``advise``,
``sweep``, ``cheapest_within``), read results as pyarrow tables (``open_results``,
``open_sweep``, ``runs_table``, ``measured_runs``), get the report's plotly figures
(``report_figures``, ``sweep_figures``), and measure this machine (``calibrate``,
``calibrate_memory``), check predictions against it (``confirm``) and fit a stack profile to
measurements (``fit``); ``export_model`` writes a zoo model as ONNX. docs/python-api.md shows
each in use.

The names load on first use (PEP 562): ``import hetier`` itself imports nothing heavy (no
TenSEAL, SimPy, plotly or Dask). Subpackages (``hetier.tracer``, ``hetier.simulator``, ...) are
internal.
"""

from __future__ import annotations

from typing import Any

from hetier.version import __version__

# the API's names (hetier/api.py __all__), spelled out so that help(hetier) and dir(hetier) list them
__all__ = [
    "__version__",
    "model_names", "trace", "open_trace", "info", "load_trace", "export_model",
    "machine_names", "machine", "stack_names", "stack", "Scenario", "scenario", "simulate",
    "advise", "Advice", "sweep", "cheapest_within",
    "save_results", "runs_table", "open_results", "open_sweep", "measured_runs",
    "report_figures", "sweep_figures",
    "calibrate", "calibrate_memory", "confirm", "fit",
    "HetierError", "UsageError",
]


def __getattr__(name: str) -> Any:
    """Load an API name from hetier.api on first use."""
    if name in __all__:
        import hetier.api as api

        return getattr(api, name)
    raise AttributeError(f"module 'hetier' has no attribute '{name}'")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
