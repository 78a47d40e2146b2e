"""Placement policies for flat (App Direct / NUMA / CXL) machines, one module each.

Importing this package imports every module in it, so each ``Policy`` subclass registers
itself under its ``name``; ``get_policy("interleave:0.25", machine)`` builds one.
"""

import importlib
import pkgutil

from hetier.simulator.policies.base import (ALIASES, POLICIES, Policy, ScheduledPolicy, TensorInfo, get_policy,
                                            policy_class)

for _m in pkgutil.iter_modules(__path__):
    if _m.name != "base":
        importlib.import_module(f"{__name__}.{_m.name}")

__all__ = ["ALIASES", "POLICIES", "Policy", "ScheduledPolicy", "TensorInfo", "get_policy", "policy_class"]
