"""MiniWoB++: web tasks in a real headless Chromium, seen as compact text with element refs.

    >>> from experio.envs import Task, make_env
    >>> with make_env("miniwob") as env:          # the browser starts on the first reset
    ...     step = env.reset(Task("miniwob", "click-button", seed=0))
    ...     step = env.step("click(ref=5)")
    >>> step.reward, step.success

The observation of that reset:

    Task: Click on the "okay" button.
    Page:
    [4] div "donec lacus, ridiculus"
    [5] button "okay"
    [6] button "okay"
    [7] textbox
    [8] button "next"
    [9] div "enim id at"

Pages come from the `miniwob` package (its wheel ships the task pages) and run in Debian's
`chromium` + `chromium-driver` (install: `apt-get update && apt-get install -y chromium
chromium-driver`, or `scripts/install_browser.sh`). One browser serves every task: a reset to
another task loads that task's page in the same browser.

Actions (tool calls; see `TOOLS`), mapped onto miniwob's action space:
    click(ref)              CLICK_ELEMENT
    type(ref, text)         FOCUS_ELEMENT_AND_TYPE_TEXT, after clearing the field (text replaces it)
    select(ref, option)     picks a <select> option by its text (miniwob has no select action;
                            the page sees the same input/change events a user's pick fires)
    scroll(direction, ref)  SCROLL_UP_COORDS / SCROLL_DOWN_COORDS at the element (or page) centre
    press(key)              PRESS_KEY, e.g. "<Enter>", "<Tab>", "C-a"

Time limit: MiniWoB++ pages end an episode after a wall-clock limit (10 s on most pages) and
scale the reward down with elapsed time. A language model thinks slower than that, so by
default there is no time limit and the reward is the task's raw reward (the agent loop's turn
budget bounds the episode). `time_limit="task"` keeps each page's own limit and the official
time-scaled reward; a number sets the limit in seconds. Success is reward > 0.
"""

from __future__ import annotations

import difflib
import importlib.util
import json
import os
import re
import shutil
import subprocess
import weakref
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from .base import Step, Task, ToolSpec, bind_call, format_call, parse_call
from .errors import EnvSetupError, EpisodeStateError, InvalidActionError, TaskError

# Simple tasks, easiest first; each is checked headless by a scripted solver in tests/test_envs_miniwob.py.
DEFAULT_TASKS = [
    "click-test",
    "click-test-2",
    "click-button",
    "click-link",
    "click-dialog",
    "click-dialog-2",
    "click-tab",
    "focus-text",
    "focus-text-2",
    "enter-text",
    "click-checkboxes",
    "choose-list",
]
# More tasks the same scripted solvers pass; not in the default stream.
EXTRA_TASKS = [
    "click-test-transfer",
    "click-option",
    "click-widget",
    "click-collapsible",
    "enter-password",
    "login-user",
    "unicode-test",
    "click-button-sequence",
]

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
INSTALL_HINT = "apt-get update && apt-get install -y chromium chromium-driver (or run scripts/install_browser.sh)"
_NO_LIMIT_MS = 2**31 - 1  # the largest delay setTimeout accepts (~24.8 days)
_PAGE_CENTRE = (80.0, 130.0)  # middle of the 160x160 task area below the 50 px instruction bar


def _ref(description: str) -> dict[str, Any]:
    return {"type": "integer", "description": description}


TOOLS = [
    ToolSpec("click", "Click the element [ref].", {
        "type": "object", "properties": {"ref": _ref("the [number] of an element on the page")}, "required": ["ref"]}),
    ToolSpec("type", "Replace the text in the text field [ref] with `text` (clicks the field first).", {
        "type": "object",
        "properties": {"ref": _ref("the [number] of a text field"), "text": {"type": "string", "description": "text to enter"}},
        "required": ["ref", "text"]}),
    ToolSpec("select", "Choose `option` (its visible text) in the dropdown [ref].", {
        "type": "object",
        "properties": {"ref": _ref("the [number] of a select"), "option": {"type": "string", "description": "the option's text"}},
        "required": ["ref", "option"]}),
    ToolSpec("scroll", "Scroll the page, or the element [ref], up or down.", {
        "type": "object",
        "properties": {"direction": {"type": "string", "enum": ["up", "down"]}, "ref": _ref("element to scroll (optional)")},
        "required": ["direction"]}),
    ToolSpec("press", 'Press a key or key combination, e.g. "<Enter>", "<Tab>", "<Backspace>", "C-a".', {
        "type": "object", "properties": {"key": {"type": "string", "description": "the key"}}, "required": ["key"]}),
]

_TEXT_INPUTS = {"text", "password", "email", "number", "search", "tel", "url", "date", "time"}
_KINDS = {"a": "link", "input_text": "textbox", "input_submit": "button", "input_button": "button"}


@dataclass(frozen=True)
class Element:
    """One DOM element as miniwob reports it; `ref` > 0 for elements, < 0 for text nodes."""

    ref: int
    parent: int
    tag: str
    text: str
    value: str
    id: str
    classes: str
    left: float
    top: float
    width: float
    height: float
    focused: bool

    @property
    def kind(self) -> str:
        """Short role name: textbox, password, checkbox, radio, button, link, select, ..."""
        return _KINDS.get(self.tag, self.tag[6:] if self.tag.startswith("input_") else self.tag)

    @property
    def is_text_field(self) -> bool:
        return self.tag == "textarea" or (self.tag.startswith("input_") and self.tag[6:] in _TEXT_INPUTS)

    @property
    def visible(self) -> bool:
        return self.left + self.width > 0 and self.top + self.height > 0

    @classmethod
    def from_miniwob(cls, e: dict[str, Any]) -> "Element":
        return cls(
            ref=int(e["ref"]), parent=int(e["parent"]), tag=str(e["tag"]), text=str(e["text"] or ""),
            value=str(e["value"] or ""), id=str(e["id"] or ""), classes=str(e["classes"] or ""),
            left=float(e["left"][0]), top=float(e["top"][0]), width=float(e["width"][0]),
            height=float(e["height"][0]), focused=bool(e["flags"][0]),
        )


# -- the page as text ------------------------------------------------------------------


def _clip(text: str, n: int = 80) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"


def render_page(elements: list[Element], selects: dict[int, tuple[list[str], str]] | None = None) -> tuple[str, list[int]]:
    """Page text, one line per meaningful element, and the refs it shows.

    Containers without text of their own are left out (their contents are shown); a label
    around one checkbox or radio is shown as that input with the label's text; buttons and
    links show the text inside them; plain text nodes are quoted, without a ref (they cannot
    be targeted).
    """
    selects = selects or {}
    children: dict[int, list[Element]] = {}
    for e in elements:
        children.setdefault(e.parent, []).append(e)

    def descendants(e: Element) -> list[Element]:
        out = []
        for c in children.get(e.ref, []):
            out.append(c)
            if c.ref > 0:
                out.extend(descendants(c))
        return out

    def inner_text(e: Element) -> str:
        if e.text:
            return e.text
        return " ".join(d.text for d in descendants(e) if d.text and not d.tag.startswith("input_"))

    lines: list[str] = []
    refs: list[int] = []

    def show(e: Element, text: str) -> None:
        parts = [f"[{e.ref}] {e.kind}"]
        if text.strip():
            parts.append(json.dumps(_clip(text), ensure_ascii=False))
        if e.id and not re.fullmatch(r"ui-id-\d+", e.id):
            parts.append(f"id={e.id}")
        if e.tag in ("input_checkbox", "input_radio"):
            parts.append("checked" if e.value == "True" else "unchecked")
        elif e.is_text_field and e.value:
            parts.append("value=" + json.dumps(_clip(e.value), ensure_ascii=False))
        if e.ref in selects:
            options, chosen = selects[e.ref]
            parts.append("value=" + json.dumps(chosen, ensure_ascii=False))
            parts.append("options: " + ", ".join(json.dumps(o, ensure_ascii=False) for o in options))
        if e.focused:
            parts.append("focused")
        lines.append(" ".join(parts))
        refs.append(e.ref)

    def walk(e: Element) -> None:
        if e.tag == "t":
            if e.visible and e.text.strip():
                lines.append(json.dumps(_clip(e.text), ensure_ascii=False))
            return
        kids = children.get(e.ref, [])
        if e.tag == "label":
            inputs = [d for d in descendants(e) if d.tag in ("input_checkbox", "input_radio")]
            if len(inputs) == 1:
                show(inputs[0], inner_text(e))
                return
        if e.tag in ("button", "a", "select", "textarea", "label") or e.tag.startswith("input_"):
            show(e, "" if e.is_text_field else inner_text(e))
            return
        if not kids:
            if e.visible and e.text.strip():
                show(e, e.text)
            return
        for c in kids:
            walk(c)

    for root in children.get(0, []):
        walk(root)
    return "\n".join(lines), refs


# -- the browser -------------------------------------------------------------------------


def find_browser(chromium: str | None = None, chromedriver: str | None = None) -> tuple[str, str]:
    """Paths of chromium and chromedriver: arguments, $MINIWOB_CHROME_BINARY/$MINIWOB_CHROMEDRIVER, PATH."""
    found = []
    for given, env, names in (
        (chromium, "MINIWOB_CHROME_BINARY", ("chromium", "chromium-browser")),
        (chromedriver, "MINIWOB_CHROMEDRIVER", ("chromedriver",)),
    ):
        path = given or os.environ.get(env) or next((p for n in names if (p := shutil.which(n))), None)
        if not path or not Path(path).is_file():
            what = names[0] if given is None else given
            raise EnvSetupError(f"MiniWoB++ needs {what} but it was not found; install it with: {INSTALL_HINT}")
        found.append(path)
    return found[0], found[1]


def task_page(name: str) -> Path:
    """The HTML page of a MiniWoB++ task in the installed `miniwob` package; TaskError if unknown."""
    spec = importlib.util.find_spec("miniwob")
    if spec is None or not spec.submodule_search_locations:
        raise EnvSetupError("the miniwob package is not installed; run: pip install 'miniwob>=1.1'")
    pages = Path(list(spec.submodule_search_locations)[0]) / "html" / "miniwob"
    if name.startswith("flight.") or not re.fullmatch(r"[a-z0-9-]+", name or ""):
        raise TaskError(f"unknown MiniWoB++ task {name!r} (FlightWoB tasks are not supported)")
    page = pages / f"{name}.html"
    if not page.is_file():
        close = difflib.get_close_matches(name, [p.stem for p in pages.glob("*.html")], n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise TaskError(f"unknown MiniWoB++ task {name!r}{hint}")
    return page


@lru_cache(maxsize=1)
def _instance_class() -> type:
    """miniwob's browser instance (a thread owning the driver), with our binaries, flags and cleanup."""
    from miniwob.selenium_instance import SeleniumInstance
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.wait import WebDriverWait

    class Instance(SeleniumInstance):
        browser: tuple[str, str]
        error: BaseException | None = None  # why the driver did not start (raised in the caller's thread)

        def create_driver(self) -> None:
            try:
                self._create_driver()
            except Exception as e:  # runs in the instance thread: keep it for _hard_reset_instance
                self.error = e
                self.close()

        def _create_driver(self) -> None:
            chromium, chromedriver = self.browser
            options = webdriver.ChromeOptions()
            for flag in CHROMIUM_FLAGS:
                options.add_argument(flag)
            options.binary_location = chromium
            # chromedriver leads a process group of its own, which the chromium it starts joins:
            # the watchdog kills that group, and Ctrl-C in a terminal reaches only this process.
            service = Service(executable_path=chromedriver, popen_kw={"start_new_session": True})
            self.driver = webdriver.Chrome(service=service, options=options)
            self.watchdog = _watch(service.process.pid)
            self.driver.implicitly_wait(5)
            self.driver.get(self.url)
            WebDriverWait(self.driver, 5).until(EC.element_to_be_clickable((By.ID, self.SYNC_SCREEN_ID)))
            self.inner_width, self.inner_height = self.driver.execute_script(
                "return [window.innerWidth, window.innerHeight];"
            )

        def close(self) -> None:
            """Quit chromium and chromedriver; safe to call twice and from any thread."""
            self.died = True
            driver = self.__dict__.pop("driver", None)
            if driver is not None:
                try:
                    driver.quit()
                except Exception:  # chromedriver hung or broke: the watchdog ends it below
                    pass
            watchdog = self.__dict__.pop("watchdog", None)
            if watchdog is not None:  # EOF: it kills whatever is left of the browser's group
                watchdog.stdin.close()
                watchdog.wait(10)

    return Instance


@lru_cache(maxsize=1)
def _browser_env_class() -> type:
    """miniwob's gymnasium environment on our `Instance`; one browser serves every task."""
    from miniwob.environment import MiniWoBEnvironment
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.wait import WebDriverWait

    Instance = _instance_class()

    class BrowserEnv(MiniWoBEnvironment):
        def __init__(self, subdomain: str, browser: tuple[str, str]):
            self.browser = browser
            super().__init__(subdomain=subdomain)

        def _hard_reset_instance(self) -> None:
            if getattr(self, "instance", None):
                _stop_instance(self.instance)
            self.instance = Instance(index=0, **self.instance_kwargs)
            self.instance.browser = self.browser
            self.instance.start()
            self.instance.call(lambda: None)  # queued behind the driver's start: wait for it
            self.instance.wait()
            if self.instance.error is not None:
                _stop_instance(self.instance)
                raise self.instance.error

        def open_task(self, subdomain: str) -> None:
            """Load another task's page in the same browser."""
            from miniwob.fields import get_field_extractor
            from miniwob.selenium_instance import DEFAULT_BASE_URL

            self.subdomain = subdomain
            self.instance_kwargs["subdomain"] = subdomain
            inst = self.instance
            inst.url = f"{DEFAULT_BASE_URL}{subdomain}.html"
            inst.field_extractor = get_field_extractor(subdomain)
            inst.driver.get(inst.url)
            WebDriverWait(inst.driver, 5).until(EC.element_to_be_clickable((By.ID, inst.SYNC_SCREEN_ID)))

    return BrowserEnv


def _quit(holder: dict[str, Any]) -> None:
    """Close the browser held in `holder` (if any). Called by `close()`, and by a weakref
    finalizer when the environment is garbage-collected or the interpreter exits without it."""
    env = holder.pop("env", None)
    instance = getattr(env, "instance", None)
    if instance is not None:
        _stop_instance(instance)


def _stop_instance(instance: Any, timeout: float = 10.0) -> None:
    """End a miniwob instance thread and its browser, whatever state the thread is in.

    The thread owns the driver, so it is asked to quit first; if it is gone or does not answer
    in time, the driver is quit from here (and the watchdog kills what is left).
    """
    if instance.is_alive():
        instance.call(instance.close)
        instance.join(timeout)
    instance.close()


# Runs beside us and outlives a crash of this process (a segfault or SIGKILL runs no `finally`
# and no atexit): it waits for end-of-file on a pipe that only we hold, then kills the browser's
# process group. `close()` closes the pipe itself after quitting the browser.
_WATCHDOG = 'read _; kill -9 -"$1" 2>/dev/null; exit 0'


def _watch(group: int) -> subprocess.Popen:
    """Start the watchdog of process group `group` (chromedriver's pid)."""
    return subprocess.Popen(["sh", "-c", _WATCHDOG, "experio-browser-watchdog", str(group)], stdin=subprocess.PIPE,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)


# -- the environment ---------------------------------------------------------------------


class MiniWoBEnv:
    """MiniWoB++ tasks in one headless Chromium; see the module docstring."""

    name = "miniwob"
    tools = TOOLS
    answers = False  # a page is solved by acting; there is no final answer

    def __init__(
        self,
        *,
        time_limit: float | Literal["task"] | None = None,
        chromium: str | None = None,
        chromedriver: str | None = None,
    ):
        if not (time_limit is None or time_limit == "task" or (isinstance(time_limit, (int, float)) and time_limit > 0)):
            raise TaskError(f'time_limit must be None, "task" or a positive number of seconds, got {time_limit!r}')
        self.time_limit = time_limit
        self._paths = (chromium, chromedriver)
        self._holder: dict[str, Any] = {}  # the browser env; finalised at exit if close() is not called
        self._finalizer = weakref.finalize(self, _quit, self._holder)
        self.task: Task | None = None
        self.elements: list[Element] = []
        self.utterance = ""
        self._page = ""
        self._refs: list[int] = []
        self._selects: dict[int, tuple[list[str], str]] = {}
        self._done = True

    # -- protocol ----------------------------------------------------------------------
    def reset(self, task: Task) -> Step:
        if task.env != self.name:
            raise TaskError(f"task {task.id} is for {task.env!r}, not {self.name!r}")
        task_page(task.name)
        env = self._browser(task.name)
        if self.time_limit != "task":
            ms = _NO_LIMIT_MS if self.time_limit is None else int(self.time_limit * 1000)
            env.instance.driver.execute_script(f"core.EPISODE_MAX_TIME = {ms};")
        env.set_record_screenshots(False)
        obs, _ = env.reset(seed=task.seed)
        self.task, self._done = task, False
        self.utterance = obs["utterance"]
        self._read(obs)
        return Step(self._observation(), admissible=self._admissible(), info={"task": task.id, "goal": self.utterance})

    def step(self, action: str) -> Step:
        if self.task is None or self._done:
            raise EpisodeStateError(
                "the episode is over; call reset(task) first" if self.task else "call reset(task) before step"
            )
        function, kwargs = self.parse_action(action)
        env = self._holder["env"]
        obs, _, done, _, meta = env.step(self._to_miniwob(env, function, kwargs))
        raw = float(meta.get("raw_reward") or 0.0)
        reward = (raw if self.time_limit is None else float(meta.get("env_reward") or 0.0)) if done else 0.0
        info = {"task": self.task.id, "raw_reward": raw if done else 0.0, "reason": meta.get("reason"),
                "elapsed": round(float(meta.get("elapsed", 0.0)), 3)}
        self._done = bool(done)
        if done:
            self.elements, self._refs, self._selects = [], [], {}
            outcome = "solved" if reward > 0 else "failed"
            text = f"Task: {self.utterance}\nThe episode is over: {outcome} (reward {reward:.2f})."
            return Step(text, reward=reward, done=True, success=reward > 0, admissible=[], info=info)
        self._read(obs)
        return Step(self._observation(), reward=0.0, done=False, success=False,
                    admissible=self._admissible(), info=info)

    def parse_action(self, action: str) -> tuple[str, dict[str, Any]]:
        """`click(ref=12)` -> ('click', {'ref': 12}); positional arguments are named: `click(12)`."""
        function, args, kwargs = parse_call(str(action))
        return function, bind_call(self.tools, function, args, kwargs)

    def format_action(self, function: str, kwargs: dict[str, Any]) -> str:
        return format_call(function, bind_call(self.tools, function, [], kwargs))

    def submit_answer(self, answer: str) -> Step:
        raise EpisodeStateError("a MiniWoB++ task is solved by acting on the page, not by an answer (its answers is False)")

    def close(self) -> None:
        _quit(self._holder)
        self.task, self._done = None, True

    def __enter__(self) -> "MiniWoBEnv":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals ---------------------------------------------------------------------
    def _browser(self, task_name: str) -> Any:
        env = self._holder.get("env")
        if env is None:
            browser = find_browser(*self._paths)
            os.environ.setdefault("SE_OFFLINE", "true")  # never let selenium's manager go online
            try:
                env = _browser_env_class()(task_name, browser)
            except ImportError as e:
                raise EnvSetupError(f"MiniWoB++ needs the miniwob package ({e}); run: pip install 'miniwob>=1.1'") from None
            except Exception as e:
                raise EnvSetupError(
                    f"could not start Chromium for MiniWoB++ ({type(e).__name__}: {str(e).strip()[:300]}); "
                    f"check that {browser[0]} and {browser[1]} are the same version, or reinstall: {INSTALL_HINT}"
                ) from e
            self._holder["env"] = env
        elif env.subdomain != task_name:
            env.open_task(task_name)
        return env

    def _read(self, obs: dict[str, Any]) -> None:
        self.elements = [Element.from_miniwob(e) for e in obs["dom_elements"]]
        select_refs = [e.ref for e in self.elements if e.tag == "select"]
        self._selects = {}
        if select_refs:
            driver = self._holder["env"].instance.driver
            found = driver.execute_script(
                "return arguments[0].map(function (r) { var el = core.previousDOMInfo[r];"
                " if (!el || !el.options) return null;"
                " var opts = Array.from(el.options).map(function (o) { return o.text.trim(); });"
                " return [opts, el.selectedIndex >= 0 ? opts[el.selectedIndex] : '']; });",
                select_refs,
            )
            self._selects = {r: (list(v[0]), str(v[1])) for r, v in zip(select_refs, found) if v}
        self._page, self._refs = render_page(self.elements, self._selects)

    def _observation(self) -> str:
        return f"Task: {self.utterance}\nPage:\n{self._page}"

    def _admissible(self) -> list[str]:
        out = [f"click(ref={r})" for r in self._refs]
        for ref, (options, _) in self._selects.items():
            out += [format_call("select", {"ref": ref, "option": o}) for o in options]
        return out

    def _element(self, ref: int) -> Element:
        for e in self.elements:
            if e.ref == ref and ref > 0:
                return e
        shown = ", ".join(str(r) for r in self._refs)
        raise InvalidActionError(f"there is no element [{ref}] on the page; the elements are [{shown}]")

    def _to_miniwob(self, env: Any, function: str, kwargs: dict[str, Any]) -> dict[str, Any]:
        """The miniwob action for a checked tool call; raises InvalidActionError before touching the page."""
        from miniwob.action import ActionTypes

        if function == "click":
            self._element(kwargs["ref"])
            return env.create_action(ActionTypes.CLICK_ELEMENT, ref=kwargs["ref"])
        if function == "type":
            e = self._element(kwargs["ref"])
            if not e.is_text_field:
                fields = ", ".join(f"[{x.ref}] {x.kind}" for x in self.elements if x.is_text_field) or "none"
                raise InvalidActionError(f"[{e.ref}] is a {e.kind}, not a text field; the text fields are: {fields}")
            if e.value:  # type replaces the text, as a user selecting all and typing would
                env.instance.driver.execute_script("core.previousDOMInfo[arguments[0]].value = '';", e.ref)
            return env.create_action(ActionTypes.FOCUS_ELEMENT_AND_TYPE_TEXT, ref=e.ref, text=kwargs["text"])
        if function == "select":
            e = self._element(kwargs["ref"])
            if e.ref not in self._selects:
                names = ", ".join(f"[{r}]" for r in self._selects) or "none on this page"
                raise InvalidActionError(f"[{e.ref}] is a {e.kind}, not a dropdown; the dropdowns are: {names}")
            options = self._selects[e.ref][0]
            wanted = kwargs["option"].strip()
            index = next((i for i, o in enumerate(options) if o == wanted), None)
            if index is None:
                index = next((i for i, o in enumerate(options) if o.lower() == wanted.lower()), None)
            if index is None:
                raise InvalidActionError(
                    f"dropdown [{e.ref}] has no option {wanted!r}; its options are "
                    + ", ".join(json.dumps(o, ensure_ascii=False) for o in options)
                )
            env.instance.driver.execute_script(
                "var el = core.previousDOMInfo[arguments[0]]; el.focus(); el.selectedIndex = arguments[1];"
                " el.dispatchEvent(new Event('input', {bubbles: true}));"
                " el.dispatchEvent(new Event('change', {bubbles: true}));",
                e.ref, index,
            )
            return env.create_action(ActionTypes.NONE)
        if function == "scroll":
            import numpy as np

            if "ref" in kwargs:
                e = self._element(kwargs["ref"])
                x, y = e.left + e.width / 2, e.top + e.height / 2
            else:
                x, y = _PAGE_CENTRE
            kind = ActionTypes.SCROLL_UP_COORDS if kwargs["direction"] == "up" else ActionTypes.SCROLL_DOWN_COORDS
            return env.create_action(kind, coords=np.array([x, y], dtype=np.float32))
        if function == "press":
            keys = list(env.action_space_config.allowed_keys)
            if kwargs["key"] not in keys:
                examples = ", ".join(json.dumps(k) for k in ("<Enter>", "<Tab>", "<Backspace>", "a", "C-a"))
                raise InvalidActionError(
                    f"press(): unknown key {kwargs['key']!r}; keys are single characters, special keys in "
                    f"angle brackets and C-/S- combinations, e.g. {examples}"
                )
            return env.create_action(ActionTypes.PRESS_KEY, key=keys.index(kwargs["key"]))
        raise InvalidActionError(f"unknown action {function!r}")  # unreachable: bind_call checked the name
