"""Tool registry of ``nnetnav-live``: NNetNav browser actions beyond the BrowserGym defaults.

The descriptions are the docstrings of the official ``api.py`` of this dataset
(data from the ADP release, MIT), rendered exactly as the official exporters
show them to the model.

>>> from experio.adp.tools import get_toolset
>>> len(get_toolset("nnetnav-live").names()) > 0
True
"""

from experio.adp.tools._base import ToolSet, register_toolset

API_TEXT = (
    'keyboard_press(key: str) -> None\n'
    '    Press a combination of keys.\n'
    '    \n'
    '    Accepts the logical key names that are emitted in the keyboardEvent.key property\n'
    '    of the keyboard events: Backquote, Minus, Equal, Backslash, Backspace, Tab,\n'
    '    Delete, Escape, ArrowDown, End, Enter, Home, Insert, PageDown, PageUp,\n'
    '    ArrowRight, ArrowUp, F1 - F12, Digit0 - Digit9, KeyA - KeyZ, etc. You can\n'
    '    alternatively specify a single character you\'d like to produce such as "a" or "#".\n'
    '    Following modification shortcuts are also supported: Shift, Control, Alt, Meta,\n'
    '    ShiftLeft, ControlOrMeta. ControlOrMeta resolves to Control on Windows and Linux\n'
    '    and to Meta on macOS.\n'
    '    \n'
    '    Args:\n'
    '    ----\n'
    '        key (str): The key or key combination to press.\n'
    '\n'
    'new_tab() -> None\n'
    '    Open a new tab.\n'
    '\n'
    'tab_close() -> None\n'
    '    Close the current tab.\n'
    '\n'
    'tab_focus(index: int) -> None\n'
    '    Bring tab to front (activate tab).\n'
    '    \n'
    '    Args:\n'
    '    ----\n'
    '        index (int): The index of the tab to focus.\n'
    '\n'
    'type(bid: str, text: str, press_enter_after: int = 1) -> None\n'
    '    Type the given text into an element with the given id.\n'
    '    \n'
    '    Args:\n'
    '    ----\n'
    '        bid (str): The browser ID of the element to type into.\n'
    '        text (str): The text to type.\n'
    '        press_enter_after (int): Whether to press enter after typing the text. Defaults to 1. 0 means, do not press enter.\n'
    '\n'
)

TOOLSET = register_toolset(
    ToolSet.from_api_text(
        dataset="nnetnav-live",
        environment="browser",
        api_text=API_TEXT,
        extends=('browser',),
    )
)
