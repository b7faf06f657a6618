"""Tool registry of ``codeactinstruct``: Helper functions of the CodeActInstruct environments.

The descriptions are the docstrings of the official ``api.py`` of this dataset
(data from the ADP release, MIT), rendered exactly as the official exporters
show them to the model.

>>> from experio.adp.tools import get_toolset
>>> len(get_toolset("codeactinstruct").names()) > 0
True
"""

from experio.adp.tools._base import ToolSet, register_toolset

API_TEXT = (
    'clean(object: str, receptacle: str) -> str\n'
    '    Clean an object with a receptacle.\n'
    '    \n'
    '    This is used for interacting with a household environment.\n'
    '    \n'
    '    For example: clean("cloth 1", "sinkbasin 1")\n'
    '\n'
    'close_receptacle(receptacle: str) -> str\n'
    '    Close a receptacle.\n'
    '    \n'
    '    This is used for interacting with a household environment.\n'
    '    \n'
    '    For example: close_receptacle("microwave 1")\n'
    '\n'
    'cool(object: str, receptacle: str) -> str\n'
    '    Cool an object with a receptacle.\n'
    '    \n'
    '    This is used for interacting with a household environment.\n'
    '    \n'
    '    For example: cool("bottle 1", "fridge 1")\n'
    '\n'
    'goto(receptacle: str) -> str\n'
    '    Go to a location of the receptacle.\n'
    '    \n'
    '    This is used for interacting with a household environment.\n'
    '    \n'
    '    For example: goto("drawer 1")\n'
    '\n'
    'heat(object: str, receptacle: str) -> str\n'
    '    Heat an object with a receptacle.\n'
    '    \n'
    '    This is used for interacting with a household environment.\n'
    '    \n'
    '    For example: heat("egg 1", "microwave 1")\n'
    '\n'
    'look() -> str\n'
    '    Look around. It will return what you see in the room.\n'
    '    \n'
    '    This is used for interacting with a household environment.\n'
    '    \n'
    '    For example: look()\n'
    '\n'
    'open_receptacle(receptacle: str) -> str\n'
    '    Open a receptacle.\n'
    '    \n'
    '    This is used for interacting with a household environment.\n'
    '    \n'
    '    For example: open_receptacle("fridge 1")\n'
    '\n'
    'put(object: str, receptacle: str) -> str\n'
    '    Put an object in/on a receptacle.\n'
    '    \n'
    '    This is used for interacting with a household environment.\n'
    '    \n'
    '    For example: put("mug 1", "desk 2")\n'
    '\n'
    'take_from(object: str, receptacle: str) -> str\n'
    '    Take an object from a receptacle.\n'
    '    \n'
    '    This is used for interacting with a household environment.\n'
    '    \n'
    '    For example: take_from("mug 1", "shelf 2")\n'
    '\n'
    'toggle(object_or_receptacle: str) -> str\n'
    '    Toggle an object or receptacle.\n'
    '    \n'
    '    This is used for interacting with a household environment.\n'
    '    \n'
    '    For example: toggle("light 2")\n'
    '\n'
    'use(receptacle: str) -> str\n'
    '    Use a receptacle.\n'
    '    \n'
    '    This is used for interacting with a household environment.\n'
    '    \n'
    '    For example: use("lamp 1")\n'
    '\n'
    'wikipedia_search(query: str) -> str\n'
    '    Search Wikipedia for a given query.\n'
    '    \n'
    '    This tool provides access to a vast collection of articles covering a wide range of topics.\n'
    '    It can be used to retrieve accurate and comprehensive information about specific keywords or topics.\n'
    '    \n'
    '    For example: wikipedia_search("Photosynthesis")\n'
    '\n'
)

TOOLSET = register_toolset(
    ToolSet.from_api_text(
        dataset="codeactinstruct",
        environment="execute_ipython_cell",
        api_text=API_TEXT,
        extends=(),
    )
)
