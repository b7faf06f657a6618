"""Tool registry of ``nebius_SWE-agent-trajectories``: SWE-agent file-viewer and editor commands (Nebius SWE-agent trajectories).

The descriptions are the docstrings of the official ``api.py`` of this dataset
(data from the ADP release, MIT), rendered exactly as the official exporters
show them to the model.

>>> from experio.adp.tools import get_toolset
>>> len(get_toolset("nebius_SWE-agent-trajectories").names()) > 0
True
"""

from experio.adp.tools._base import ToolSet, register_toolset

API_TEXT = (
    'create(filename: str)\n'
    '    Create and open a new file with the given name.\n'
    '    \n'
    '    Args:\n'
    '    ----\n'
    '        filename (str): The name of the file to create.\n'
    '\n'
    'edit(start_line: int, end_line: int, replacement_text: str)\n'
    "    Replace lines from start_line to end_line (inclusive) with the given text in the open file. The replacement text is terminated by a line with only 'end_of_edit' on it. All of the replacement text will be entered, so make sure your indentation is formatted properly. Python files will be checked for syntax errors after the edit. If the system detects a syntax error, the edit will not be executed. Simply try to edit the file again, but make sure to read the error message and modify the edit command you issue accordingly. Issuing the same command a second time will just lead to the same error message again. Please note that THE EDIT COMMAND REQUIRES PROPER INDENTATION. If you'd like to add the line '        pr int(x)' you must fully write that out, with all those spaces before the code! Indentation is important and code that is not indented correctly will fail and require fixing before it can be run.\n"
    '    \n'
    '    Args:\n'
    '    ----\n'
    '        start_line (int): The line number to start the edit at.\n'
    '        end_line (int): The line number to end the edit at (inclusive).\n'
    '        replacement_text (str): The text to replace the current selection with.\n'
    '\n'
    'find_file(file_name: str, dir: str = None)\n'
    '    Find all files with the given name in the specified directory. If dir is not provided, search in the current directory.\n'
    '    \n'
    '    Args:\n'
    '    ----\n'
    '        file_name (str): The name of the file to search for.\n'
    '        dir (str, optional): The directory to search in (if not provided, search in the current directory).\n'
    '\n'
    'goto(line_number: int)\n'
    '    Move the window to show the specified line number.\n'
    '    \n'
    '    Args:\n'
    '    ----\n'
    '        line_number (int): The line number to move the window to.\n'
    '\n'
    'open(path: str, line_number: int = None)\n'
    '    Open the file at the given path in the editor. If line_number is provided, the window will be moved to include that line.\n'
    '    \n'
    '    Args:\n'
    '    ----\n'
    '        path (str): The path to the file to open.\n'
    '        line_number (int, optional): The line number to move the window to (if not provided, the window will start at the top of the file).\n'
    '\n'
    'scroll_down()\n'
    '    Move the window down {WINDOW} lines.\n'
    '\n'
    'scroll_up()\n'
    '    Move the window up {WINDOW} lines.\n'
    '\n'
    'search_dir(search_term: str, dir: str = None)\n'
    '    Search for the search_term in all files in the specified directory. If dir is not provided, search in the current directory.\n'
    '    \n'
    '    Args:\n'
    '    ----\n'
    '        search_term (str): The term to search for.\n'
    '        dir (str, optional): The directory to search in (if not provided, search in the current directory).\n'
    '\n'
    'search_file(search_term: str, file: str = None)\n'
    '    Search for the search_term in the specified file. If file is not provided, search in the current open file.\n'
    '    \n'
    '    Args:\n'
    '    ----\n'
    '        search_term (str): The term to search for.\n'
    '        file (str, optional): The file to search in (if not provided, search in the current open file).\n'
    '\n'
    'submit()\n'
    '    Submit your current code and terminate the interactive session.\n'
    '\n'
)

TOOLSET = register_toolset(
    ToolSet.from_api_text(
        dataset="nebius_SWE-agent-trajectories",
        environment="execute_bash",
        api_text=API_TEXT,
        extends=(),
    )
)
