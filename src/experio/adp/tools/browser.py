"""Tool registry ``browser``: the BrowserGym default actions.

OpenHands' ``browser`` tool and AgentLab accept these. Web datasets
(``nnetnav-live``, ``go-browse-wa``) extend this set. The text is the AgentLab
action space of the official ADP exporter (data, MIT).

>>> from experio.adp.tools import get_toolset
>>> "click" in get_toolset("browser").names()
True
"""

from experio.adp.tool_specs import AGENTLAB_ACTION_SPACE
from experio.adp.tools._base import ToolSet, register_toolset


def _blocks(action_space: str) -> str:
    start = action_space.index("noop(")
    end = action_space.index("Only a single action can be provided at once.")
    return action_space[start:end]


TOOLSET = register_toolset(
    ToolSet.from_api_text(
        dataset="browser", environment="browser", api_text=_blocks(AGENTLAB_ACTION_SPACE)
    )
)

# go-browse-wa has no api.py of its own: its actions are BrowserGym defaults.
GO_BROWSE = register_toolset(
    ToolSet(dataset="go-browse-wa", environment="browser", tools=(), extends=("browser",))
)
