"""Tool registry ``openhands``: the OpenHands agent's native tools.

``swe-gym_openhands_sampled_trajectories`` records calls to these directly
(``str_replace_editor``); code actions map onto ``execute_bash`` /
``execute_ipython_cell``. The OpenAI / TRL exporters take their JSON schemas
from here.

>>> from experio.adp.tools import get_toolset
>>> get_toolset("openhands").get("str_replace_editor").required_names()
['command', 'path']
"""

from experio.adp.tools._base import Param, Tool, ToolSet, register_toolset


def _tool(name: str, doc: str, *params: Param) -> Tool:
    sig = ", ".join(f"{p.name}: {p.type}" + (f" = {p.default}" if p.default else "") for p in params)
    body = "".join(f"    {line}\n" for line in doc.splitlines())
    return Tool(name=name, params=params, text=f"{name}({sig})\n{body}\n")


EXECUTE_BASH = _tool(
    "execute_bash",
    "Execute a bash command in the terminal.",
    Param("command", "str", None, "The bash command to execute."),
)
EXECUTE_IPYTHON_CELL = _tool(
    "execute_ipython_cell",
    "Run a cell of Python code in an IPython environment.",
    Param("code", "str", None, "The Python code to execute."),
)
BROWSER = _tool(
    "browser",
    "Interact with the browser using Python code calling BrowserGym actions.",
    Param("code", "str", None, "The BrowserGym action(s) to execute, e.g. click('12')."),
)
FINISH = _tool(
    "finish",
    "Signal that the task is finished, with a final message to the user.",
    Param("message", "str", None, "Final message to the user."),
    Param("task_completed", "str", "'true'", "Whether the task was completed."),
)
STR_REPLACE_EDITOR = _tool(
    "str_replace_editor",
    "Custom editing tool for viewing, creating and editing files.",
    Param("command", "str", None, "One of view, create, str_replace, insert, undo_edit."),
    Param("path", "str", None, "Absolute path to file or directory."),
    Param("file_text", "str", "None", "Content of the file to create (create)."),
    Param("old_str", "str", "None", "String in the file to replace (str_replace)."),
    Param("new_str", "str", "None", "Replacement or inserted string."),
    Param("insert_line", "int", "None", "Insert after this line (insert)."),
    Param("view_range", "list[int]", "None", "Line range [start, end] to view."),
)

TOOLSET = register_toolset(
    ToolSet(
        dataset="openhands",
        environment="execute_bash",
        tools=(EXECUTE_BASH, EXECUTE_IPYTHON_CELL, BROWSER, FINISH, STR_REPLACE_EDITOR),
    )
)

SWE_GYM = register_toolset(
    ToolSet(
        dataset="swe-gym_openhands_sampled_trajectories",
        environment="execute_bash",
        tools=(),
        extends=("openhands",),
    )
)
