"""Tool registry of ``agenttuning_webshop``: WebShop search and click (AgentInstruct webshop split).

The descriptions are the docstrings of the official ``api.py`` of this dataset
(data from the ADP release, MIT), rendered exactly as the official exporters
show them to the model.

>>> from experio.adp.tools import get_toolset
>>> len(get_toolset("agenttuning_webshop").names()) > 0
True
"""

from experio.adp.tools._base import ToolSet, register_toolset

API_TEXT = (
    'click(element: str)\n'
    '    Click an element on the webpage by its visible label or ID.\n'
    '    \n'
    '    Args:\n'
    '        element (str): The label or identifier of the clickable item.\n'
    '    \n'
    '    Example:\n'
    '        click("B0977H69D1")\n'
    '        click("Buy Now")\n'
    '\n'
    'search(keywords: str)\n'
    '    Perform a search on the web interface using the specified keywords.\n'
    '    \n'
    '    Args:\n'
    '        keywords (str): The search query string.\n'
    '    \n'
    '    Example:\n'
    '        search("3.25 ounce (pack of 3) protein serving jerky price < 50.00")\n'
    '\n'
)

TOOLSET = register_toolset(
    ToolSet.from_api_text(
        dataset="agenttuning_webshop",
        environment="execute_ipython_cell",
        api_text=API_TEXT,
        extends=(),
    )
)
