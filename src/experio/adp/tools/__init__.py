"""Per-dataset tool registries (the role of the official ``api.py`` files).

>>> from experio.adp.tools import get_toolset
>>> get_toolset("agenttuning_alfworld").known("go")
True
"""

from experio.adp.tools._base import (
    Param,
    Tool,
    ToolSet,
    find_toolset,
    get_toolset,
    parse_api_text,
    parse_tool,
    register_toolset,
    toolset_names,
)
from experio.adp.tools import (  # noqa: F401  (importing registers them)
    alfworld,
    browser,
    codeact,
    kg,
    nnetnav,
    openhands,
    swe_agent,
    webshop,
)

__all__ = [
    "Param",
    "Tool",
    "ToolSet",
    "find_toolset",
    "get_toolset",
    "parse_api_text",
    "parse_tool",
    "register_toolset",
    "toolset_names",
]
