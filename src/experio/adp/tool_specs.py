"""Tool specification texts shared by the tool registries and the exporters.

The BrowserGym action space as the official AgentLab exporter shows it (data, MIT, see
tests/data/adp/NOTICE.md): the `browser` tool registry parses its function blocks, and the
AgentLab exporter puts the whole text in its prompts. It lives here, below both, so neither
sub-package imports the other for it.

>>> AGENTLAB_ACTION_SPACE.startswith("# Action Space")
True
"""

AGENTLAB_ACTION_SPACE = (
    '# Action Space\n'
    '17 different types of actions are available.\n'
    '\n'
    'noop(wait_ms: float = 1000)\n'
    '    Description: Do nothing, and optionally wait for the given time (in milliseconds).\n'
    '    Examples:\n'
    '        noop()\n'
    '\n'
    '        noop(500)\n'
    '\n'
    'send_msg_to_user(text: str)\n'
    '    Description: Sends a message to the user.\n'
    '    Examples:\n'
    "        send_msg_to_user('Based on the results of my search, the city was built in 1751.')\n"
    '\n'
    'scroll(delta_x: float, delta_y: float)\n'
    '    Description: Scroll horizontally and vertically. Amounts in pixels, positive for right or down scrolling, negative for left or up scrolling. Dispatches a wheel event.\n'
    '    Examples:\n'
    '        scroll(0, 200)\n'
    '\n'
    '        scroll(-50.2, -100.5)\n'
    '\n'
    'fill(bid: str, value: str)\n'
    '    Description: Fill out a form field. It focuses the element and triggers an input event with the entered text. It works for <input>, <textarea> and [contenteditable] elements.\n'
    '    Examples:\n'
    "        fill('237', 'example value')\n"
    '\n'
    "        fill('45', 'multi-line\\nexample')\n"
    '\n'
    '        fill(\'a12\', \'example with "quotes"\')\n'
    '\n'
    'select_option(bid: str, options: str | list[str])\n'
    '    Description: Select one or multiple options in a <select> element. You can specify option value or label to select. Multiple options can be selected.\n'
    '    Examples:\n'
    "        select_option('a48', 'blue')\n"
    '\n'
    "        select_option('c48', ['red', 'green', 'blue'])\n"
    '\n'
    "click(bid: str, button: Literal['left', 'middle', 'right'] = 'left', modifiers: list[typing.Literal['Alt', 'Control', 'ControlOrMeta', 'Meta', 'Shift']] = [])\n"
    '    Description: Click an element.\n'
    '    Examples:\n'
    "        click('a51')\n"
    '\n'
    "        click('b22', button='right')\n"
    '\n'
    "        click('48', button='middle', modifiers=['Shift'])\n"
    '\n'
    "dblclick(bid: str, button: Literal['left', 'middle', 'right'] = 'left', modifiers: list[typing.Literal['Alt', 'Control', 'ControlOrMeta', 'Meta', 'Shift']] = [])\n"
    '    Description: Double click an element.\n'
    '    Examples:\n'
    "        dblclick('12')\n"
    '\n'
    "        dblclick('ca42', button='right')\n"
    '\n'
    "        dblclick('178', button='middle', modifiers=['Shift'])\n"
    '\n'
    'hover(bid: str)\n'
    '    Description: Hover over an element.\n'
    '    Examples:\n'
    "        hover('b8')\n"
    '\n'
    'press(bid: str, key_comb: str)\n'
    '    Description: Focus the matching element and press a combination of keys. It accepts the logical key names that are emitted in the keyboardEvent.key property of the keyboard events: Backquote, Minus, Equal, Backslash, Backspace, Tab, Delete, Escape, ArrowDown, End, Enter, Home, Insert, PageDown, PageUp, ArrowRight, ArrowUp, F1 - F12, Digit0 - Digit9, KeyA - KeyZ, etc. You can alternatively specify a single character you\'d like to produce such as "a" or "#". Following modification shortcuts are also supported: Shift, Control, Alt, Meta, ShiftLeft, ControlOrMeta. ControlOrMeta resolves to Control on Windows and Linux and to Meta on macOS.\n'
    '    Examples:\n'
    "        press('88', 'Backspace')\n"
    '\n'
    "        press('a26', 'ControlOrMeta+a')\n"
    '\n'
    "        press('a61', 'Meta+Shift+t')\n"
    '\n'
    'focus(bid: str)\n'
    '    Description: Focus the matching element.\n'
    '    Examples:\n'
    "        focus('b455')\n"
    '\n'
    'clear(bid: str)\n'
    '    Description: Clear the input field.\n'
    '    Examples:\n'
    "        clear('996')\n"
    '\n'
    'drag_and_drop(from_bid: str, to_bid: str)\n'
    '    Description: Perform a drag & drop. Hover the element that will be dragged. Press left mouse button. Move mouse to the element that will receive the drop. Release left mouse button.\n'
    '    Examples:\n'
    "        drag_and_drop('56', '498')\n"
    '\n'
    'upload_file(bid: str, file: str | list[str])\n'
    '    Description: Click an element and wait for a "filechooser" event, then select one or multiple input files for upload. Relative file paths are resolved relative to the current working directory. An empty list clears the selected files.\n'
    '    Examples:\n'
    "        upload_file('572', 'my_receipt.pdf')\n"
    '\n'
    "        upload_file('63', ['/home/bob/Documents/image.jpg', '/home/bob/Documents/file.zip'])\n"
    '\n'
    'report_infeasible(reason: str)\n'
    '    Description: Notifies the user that their instructions are infeasible.\n'
    '    Examples:\n'
    "        report_infeasible('I cannot follow these instructions because there is no email field in this form.')\n"
    '\n'
    'go_back()\n'
    '    Description: Navigate to the previous page in history.\n'
    '    Examples:\n'
    '        go_back()\n'
    '\n'
    'go_forward()\n'
    '    Description: Navigate to the next page in history.\n'
    '    Examples:\n'
    '        go_forward()\n'
    '\n'
    'goto(url: str)\n'
    '    Description: Navigate to a url.\n'
    '    Examples:\n'
    "        goto('http://www.example.com')\n"
    '\n'
    'Only a single action can be provided at once. Example:\n'
    'fill(\'a12\', \'example with "quotes"\')\n'
    '\n'
    '\n'
    'Here are examples of actions with chain-of-thought reasoning:\n'
    '\n'
    '\n'
    '{"thought": "I now need to click on the Submit button to send the form. I will use the click action on the button, which has bid 12.", "action": "click(\'12\')"}\n'
    '\n'
    '{"thought": "I found the information requested by the user, I will send it to the chat.", "action": "send_msg_to_user(\'The price for a 15 inch laptop is 1499 USD.\')"}\n'
    '\n'
    '{"thought": "I have finished navigating to the Products page. I will inform the user that I have completed the task.", "action": "send_msg_to_user(\'I have finished navigating to the Products page.\')"}'
)
