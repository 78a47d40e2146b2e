"""How a machine organises its memory, one module per kind (flat tiers, DRAM cache, ...).

Importing this package imports every module in it, so each ``MemorySystem`` subclass registers
itself under the machine ``mode`` it implements; ``memory_system_for(machine)`` names the class.
"""

import importlib
import pkgutil

from hetier.simulator.memory_systems.base import MEMORY_SYSTEMS, MemorySystem, OpTraffic, memory_system_for

for _m in pkgutil.iter_modules(__path__):
    if _m.name != "base":
        importlib.import_module(f"{__name__}.{_m.name}")

__all__ = ["MEMORY_SYSTEMS", "MemorySystem", "OpTraffic", "memory_system_for"]
