"""Exporters ADP -> training formats and ATIF, one module per format, registered by name.

>>> from experio.adp.exporters import exporter_names
>>> exporter_names()
['agentlab', 'atif', 'openai', 'openhands', 'sweagent', 'trl']
"""

import importlib
import pkgutil

from experio.adp.exporters._base import (
    EXPORTERS,
    ExportContext,
    ExportError,
    Exporter,
    exporter_names,
    format_function,
    get_exporter,
    register_exporter,
    tool_headers,
)

for _m in pkgutil.iter_modules(__path__):
    if not _m.name.startswith("_"):
        importlib.import_module(f"{__name__}.{_m.name}")

__all__ = [
    "EXPORTERS",
    "ExportContext",
    "ExportError",
    "Exporter",
    "exporter_names",
    "format_function",
    "get_exporter",
    "register_exporter",
    "tool_headers",
]
