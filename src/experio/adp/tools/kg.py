"""Tool registry of ``agenttuning_kg``: Freebase knowledge-graph queries (AgentInstruct kg split).

The descriptions are the docstrings of the official ``api.py`` of this dataset
(data from the ADP release, MIT), rendered exactly as the official exporters
show them to the model.

>>> from experio.adp.tools import get_toolset
>>> len(get_toolset("agenttuning_kg").names()) > 0
True
"""

from experio.adp.tools._base import ToolSet, register_toolset

API_TEXT = (
    'argmax(variable: str, attribute: str)\n'
    '    Return the entity with the maximum value of the given attribute.\n'
    '    \n'
    '    Use this function to find the entity with the highest value for the\n'
    '    specified attribute within a variable. Requires attributes to be known.\n'
    '    \n'
    '    Example: argmax("#2", "age")\n'
    '\n'
    'argmin(variable: str, attribute: str)\n'
    '    Return the entity with the minimum value of the given attribute.\n'
    '    \n'
    '    Use this function to find the entity with the lowest value for the\n'
    '    specified attribute within a variable. Requires attributes to be known.\n'
    '    \n'
    '    Example: argmin("#2", "age")\n'
    '\n'
    'count(variable: str)\n'
    '    Count the number of entities in a variable.\n'
    '    \n'
    '    Returns the number of distinct entities represented by the variable.\n'
    '    \n'
    '    Example: count("#4")\n'
    '\n'
    'get_attributes(variable: str)\n'
    '    Get all numerical attributes of a variable.\n'
    '    \n'
    '    This function helps to identify which attributes can be used in a\n'
    '    superlative query (e.g., max/min age). Only use this when a question\n'
    '    involves ranking or finding extremums.\n'
    '    \n'
    '    Example: get_attributes("#3")\n'
    '\n'
    'get_neighbors(variable: str, relation: str)\n'
    '    Get all entities connected to a variable via a specific relation.\n'
    '    \n'
    '    This function retrieves a new variable containing all entities that are\n'
    '    connected to the input variable by the given relation. This is typically\n'
    '    used after get_relations to determine which relation to follow.\n'
    '    \n'
    '    Example: get_neighbors("Barack Obama", "people.person.profession")\n'
    '\n'
    'get_relations(variable: str)\n'
    '    Get all relations connected to an entity or variable in the knowledge base.\n'
    '    \n'
    '    This function helps to explore the knowledge graph by retrieving all relations\n'
    '    (i.e., edges) that are associated with the given variable, which can be either\n'
    '    a concrete entity (e.g., "Barack Obama") or a variable placeholder (e.g., "#0").\n'
    '    \n'
    '    Example: get_relations("Barack Obama")\n'
    '\n'
    'intersection(variable1: str, variable2: str)\n'
    '    Compute the intersection of two variables.\n'
    '    \n'
    '    This function returns a new variable that includes only the entities\n'
    '    shared between the two input variables. The input variables must be\n'
    '    of the same type.\n'
    '    \n'
    '    Example: intersection("#1", "#2")\n'
    '\n'
)

TOOLSET = register_toolset(
    ToolSet.from_api_text(
        dataset="agenttuning_kg",
        environment="execute_ipython_cell",
        api_text=API_TEXT,
        extends=(),
    )
)
