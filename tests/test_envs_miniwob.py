"""MiniWoB++ in a real headless Chromium: one browser for the whole module."""

from __future__ import annotations

import re
import signal
import time

import pytest

pytest.importorskip("miniwob")

from experio.envs import (  # noqa: E402
    MINIWOB_EXTRA_TASKS,
    MINIWOB_TASKS,
    Environment,
    EnvSetupError,
    EpisodeStateError,
    InvalidActionError,
    MiniWoBEnv,
    Task,
    TaskError,
    make_env,
)
from experio.envs.miniwob_env import INSTALL_HINT, find_browser  # noqa: E402

try:
    find_browser()
except EnvSetupError as e:  # pragma: no cover - only where the browser is not installed
    pytest.skip(str(e), allow_module_level=True)


@pytest.fixture(scope="module")
def env():
    with make_env("miniwob") as env:
        yield env


def refs(env, kind=None, text=None):
    """Refs of the elements on the page of `kind` (textbox, button, ...) and/or with `text`."""
    out = []
    page = env._page.splitlines()
    for line in page:
        m = re.match(r'\[(\d+)\] (\S+)(?: "([^"]*)")?', line)
        if m and (kind is None or m.group(2) == kind) and (text is None or m.group(3) == text):
            out.append(int(m.group(1)))
    return out


def quoted(utterance):
    return re.findall(r'"([^"]*)"', utterance)


# Scripted solvers: read the task and the page text, yield actions. They check that every
# default task works headless end to end and that click/type/select map onto the page.
def solve(env):
    u, name = env.utterance, env.task.name
    if name == "click-test":
        yield f"click(ref={refs(env, 'button')[0]})"
    elif name in ("click-test-2", "click-test-transfer"):
        target = re.search(r"button (\w+)", u).group(1)
        yield f"click(ref={refs(env, 'button', target)[0]})"
    elif name in ("click-button", "unicode-test"):
        yield f"click(ref={refs(env, 'button', quoted(u)[0])[0]})"
    elif name == "click-link":
        yield f"click(ref={refs(env, 'span', quoted(u)[0])[0]})"
    elif name in ("click-dialog", "click-dialog-2"):
        target = quoted(u)[0]
        yield f"click(ref={refs(env, 'button', 'Close' if target == 'x' else target)[0]})"
    elif name == "click-tab":
        target = re.search(r"(Tab #\d+)", u).group(1)
        yield f"click(ref={refs(env, 'link', target)[0]})"
    elif name == "focus-text":
        yield f"click(ref={refs(env, 'textbox')[0]})"
    elif name == "focus-text-2":
        n = int(re.search(r"(\d+)(st|nd|rd|th)", u).group(1))
        yield f"click(ref={refs(env, 'textbox')[n - 1]})"
    elif name == "enter-text":
        yield f'type(ref={refs(env, "textbox")[0]}, text="{quoted(u)[0]}")'
        yield f"click(ref={refs(env, 'button', 'Submit')[0]})"
    elif name in ("click-checkboxes", "click-option"):
        m = re.match(r"Select (.*) and click Submit", u)
        wanted = [] if m.group(1) == "nothing" else re.split(r", | and ", m.group(1))
        kind = "checkbox" if name == "click-checkboxes" else "radio"
        for label in wanted:
            yield f"click(ref={refs(env, kind, label)[0]})"
        yield f"click(ref={refs(env, 'button', 'Submit')[0]})"
    elif name == "choose-list":
        target = re.match(r"Select (.*) from the list", u).group(1)
        yield f'select(ref={refs(env, "select")[0]}, option="{target}")'
        yield f"click(ref={refs(env, 'button', 'Submit')[0]})"
    elif name == "click-widget":
        kind = {"text": "textbox"}.get(quoted(u)[0], quoted(u)[0])
        yield f"click(ref={refs(env, kind)[0]})"
    elif name == "click-collapsible":
        yield f"click(ref={refs(env, 'h3')[0]})"
        yield f"click(ref={refs(env, 'button', 'Submit')[0]})"
    elif name == "enter-password":
        for ref in refs(env, "password"):
            yield f'type(ref={ref}, text="{quoted(u)[0]}")'
        yield f"click(ref={refs(env, 'button', 'Submit')[0]})"
    elif name == "login-user":
        user, password = quoted(u)
        yield f'type(ref={refs(env, "textbox")[0]}, text="{user}")'
        yield f'type(ref={refs(env, "password")[0]}, text="{password}")'
        yield f"click(ref={refs(env, 'button', 'Login')[0]})"
    elif name == "click-button-sequence":
        yield f"click(ref={refs(env, 'button', 'ONE')[0]})"
        yield f"click(ref={refs(env, 'button', 'TWO')[0]})"
    else:  # pragma: no cover
        raise AssertionError(f"no solver for {name}")


def run(env, task):
    step = env.reset(task)
    actions = []
    for action in solve(env):
        assert not step.done, f"{task.id} ended early after {actions}: {step}"
        if action.startswith(("click(", "select(")):
            assert action in step.admissible, f"{action} not admissible on {task.id}"
        step = env.step(action)
        actions.append(action)
    return step


def test_is_an_environment(env):
    assert isinstance(env, Environment)
    assert [t.name for t in env.tools] == ["click", "type", "select", "scroll", "press"]


@pytest.mark.parametrize("name", MINIWOB_TASKS + MINIWOB_EXTRA_TASKS)
def test_every_listed_task_is_solved_by_a_scripted_agent(env, name):
    for seed in (0, 1):
        step = run(env, Task("miniwob", name, seed))
        assert step.done and step.success, f"{name} seed {seed}: {step}"
        assert step.reward > 0.9 and step.info["raw_reward"] == step.reward  # no time limit: raw reward


def test_click_test_2_right_and_wrong_ref(env):
    step = env.reset(Task("miniwob", "click-test-2", 0))
    assert step.observation.startswith("Task: Click button ONE.\nPage:\n")
    assert '] button "ONE"' in step.observation and '] button "TWO"' in step.observation
    one, two = refs(env, "button", "ONE")[0], refs(env, "button", "TWO")[0]
    assert sorted(step.admissible) == sorted([f"click(ref={one})", f"click(ref={two})"])
    right = env.step(f"click(ref={one})")
    assert right.done and right.success and right.reward == 1.0
    assert "solved" in right.observation and right.admissible == []
    env.reset(Task("miniwob", "click-test-2", 0))
    wrong = env.step(f"click(ref={two})")
    assert wrong.done and not wrong.success and wrong.reward == -1.0
    with pytest.raises(EpisodeStateError, match="episode is over"):
        env.step(f"click(ref={one})")


def test_same_seed_same_page_other_seed_other_page(env):
    first = env.reset(Task("miniwob", "click-button", 3)).observation
    env.reset(Task("miniwob", "click-link", 3))
    again = env.reset(Task("miniwob", "click-button", 3)).observation
    other = env.reset(Task("miniwob", "click-button", 4)).observation
    assert first == again and first != other


def test_type_replaces_text_and_press_sends_keys(env):
    env.reset(Task("miniwob", "enter-text", 0))
    box = refs(env, "textbox")[0]
    env.step(f'type(ref={box}, text="first")')
    step = env.step(f'type({box}, "second")')  # positional arguments work too
    assert f'[{box}] textbox id=tt value="second" focused' in step.observation
    step = env.step('press(key="<Backspace>")')
    assert 'value="secon"' in step.observation and not step.done


def test_select_shows_options_and_sets_the_value(env):
    step = env.reset(Task("miniwob", "choose-list", 2))
    sel = refs(env, "select")[0]
    line = next(ln for ln in step.observation.splitlines() if ln.startswith(f"[{sel}] select"))
    options = re.findall(r'"([^"]*)"', line.split("options:")[1])
    assert len(options) >= 3
    assert [a for a in step.admissible if a.startswith("select(")] == [
        f'select(ref={sel}, option="{o}")' for o in options
    ]
    step = env.step(f'select(ref={sel}, option="{options[-1].lower()}")')  # case-insensitive match
    assert f'value="{options[-1]}"' in step.observation


def test_scroll_acts_without_ending_the_episode(env):
    env.reset(Task("miniwob", "click-tab", 0))
    assert not env.step('scroll(direction="down")').done
    assert not env.step(f'scroll(direction="up", ref={refs(env, "p")[0]})').done


def test_invalid_actions_raise_helpfully_and_change_nothing(env):
    step = env.reset(Task("miniwob", "enter-text", 1))
    box, submit = refs(env, "textbox")[0], refs(env, "button", "Submit")[0]
    cases = [
        ("click(ref=999)", rf"no element \[999\] on the page; the elements are \[{box}, {submit}\]"),
        ("click the submit button", "cannot parse action"),
        ("hover(ref=3)", r"unknown action 'hover'; the actions are: click\(ref: int\), type\(ref: int, text: str\)"),
        ("click()", r"click\(\) needs 'ref'"),
        (f'type(ref={submit}, text="x")', rf"\[{submit}\] is a button, not a text field; the text fields are: \[{box}\] textbox"),
        (f'select(ref={box}, option="x")', "not a dropdown; the dropdowns are: none on this page"),
        ('scroll(direction="left")', 'direction must be one of "up", "down"'),
        ('press(key="<F99>")', r"unknown key '<F99>'"),
    ]
    for action, message in cases:
        with pytest.raises(InvalidActionError, match=message):
            env.step(action)
    assert env.step(f"click(ref={box})").observation.startswith(step.observation.split("\n")[0])


def test_parse_and_format_action(env):
    assert env.parse_action('type(ref=3, text="hello")') == ("type", {"ref": 3, "text": "hello"})
    assert env.parse_action("click(12)") == ("click", {"ref": 12})
    assert env.format_action("select", {"ref": 4, "option": "Red"}) == 'select(ref=4, option="Red")'
    assert env.format_action("scroll", {"direction": "down", "ref": None}) == 'scroll(direction="down")'


def test_time_limit_task_gives_time_scaled_reward_and_timeouts(env):
    try:
        env.time_limit = "task"
        env.reset(Task("miniwob", "click-test", 0))
        step = env.step(f"click(ref={refs(env, 'button')[0]})")
        assert step.success and 0.5 < step.reward < 1.0 and step.info["raw_reward"] == 1.0
        env.time_limit = 0.3
        env.reset(Task("miniwob", "click-test", 0))
        time.sleep(0.6)
        step = env.step(f"click(ref={refs(env, 'button')[0]})")
        assert step.done and not step.success and step.reward == -1.0 and step.info["reason"] == "timed out"
    finally:
        env.time_limit = None


def test_timings(env):
    started = time.perf_counter()
    env.reset(Task("miniwob", "click-button", 0))
    reset = time.perf_counter() - started
    started = time.perf_counter()
    env.step(f"click(ref={refs(env, 'textbox')[0]})")
    step = time.perf_counter() - started
    assert reset < 2.0 and step < 1.0, (reset, step)


def test_unknown_task_and_wrong_env(env):
    with pytest.raises(TaskError, match="unknown MiniWoB\\+\\+ task 'click-buton'; did you mean click-button"):
        env.reset(Task("miniwob", "click-buton", 0))
    with pytest.raises(TaskError, match="FlightWoB"):
        env.reset(Task("miniwob", "flight.AA", 0))
    with pytest.raises(TaskError, match="is for 'textworld'"):
        env.reset(Task("textworld", "ws5-no10-ql5", 0))


def test_missing_browser_says_what_to_install(tmp_path):
    with pytest.raises(EnvSetupError, match=re.escape(INSTALL_HINT)):
        find_browser(chromium=str(tmp_path / "chromium"))
    env = MiniWoBEnv(chromedriver=str(tmp_path / "chromedriver"))
    with pytest.raises(EnvSetupError, match="apt-get install -y chromium chromium-driver"):
        env.reset(Task("miniwob", "click-test", 0))
    with pytest.raises(EpisodeStateError, match="call reset"):
        env.step("click(ref=4)")


def test_bad_time_limit():
    with pytest.raises(ValueError, match="time_limit"):
        MiniWoBEnv(time_limit=-1)


# -- browsers are closed on every exit path ---------------------------------------------------

psutil = pytest.importorskip("psutil")


def browser_processes(root_pid=None):
    """chromedriver and chromium processes below `root_pid` (default: this process)."""
    root = psutil.Process(root_pid) if root_pid else psutil.Process()
    return [p for p in root.children(recursive=True)
            if any(n in p.name() for n in ("chromedriver", "chromium", "chrome"))]


def test_an_exception_inside_an_episode_leaves_no_browser(tmp_path):
    from experio.agent import run_agent
    from experio.llm import ScriptedLLM

    before = {p.pid for p in browser_processes()}  # the module's shared browser, if started
    during = []

    def responder(prompt):
        during.extend(p.pid for p in browser_processes() if p.pid not in before)
        raise RuntimeError("the model crashed mid-episode")

    with pytest.raises(RuntimeError, match="crashed"):
        run_agent(ScriptedLLM(responder=responder), "miniwob", [Task("miniwob", "click-test", 0)], "react",
                  tmp_path / "run", progress=False)
    assert during, "the episode's browser was running when the model failed"
    left = [p for p in browser_processes() if p.pid not in before and p.status() != psutil.STATUS_ZOMBIE]
    assert not left, left


EXIT_SCRIPT = """
import os, sys
from experio.envs import Task, make_env
env = make_env("miniwob")
env.reset(Task("miniwob", "click-test", 0))
driver = env._holder["env"].instance.driver
print(driver.service.process.pid, flush=True)
if sys.argv[1] == "interrupt":
    raise KeyboardInterrupt
if sys.argv[1] == "error":
    raise RuntimeError("boom")
if sys.argv[1] == "crash":
    import time
    time.sleep(120)  # killed with SIGKILL: no finally, no atexit (as in a segfault)
"""  # "exit": the interpreter ends with the environment still open


@pytest.mark.parametrize("how", ["exit", "error", "interrupt", "crash"])
def test_interpreter_exit_closes_the_browser(how):
    import subprocess
    import sys

    started = time.time() - 1
    proc = subprocess.Popen([sys.executable, "-c", EXIT_SCRIPT, how], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    driver_pid = int(proc.stdout.readline())
    if how == "crash":
        proc.kill()
    stderr = proc.communicate(timeout=120)[1]
    assert proc.returncode == {"exit": 0, "error": 1, "interrupt": -signal.SIGINT, "crash": -signal.SIGKILL}[how], stderr
    deadline = time.time() + 10
    while psutil.pid_exists(driver_pid) and time.time() < deadline:
        time.sleep(0.2)
    alive = psutil.pid_exists(driver_pid) and psutil.Process(driver_pid).status() != psutil.STATUS_ZOMBIE
    assert not alive, f"chromedriver {driver_pid} outlived the interpreter ({how})"
    orphans = [p for p in psutil.process_iter(["name", "create_time"])  # chromium left behind by that run
               if "chrom" in (p.info["name"] or "") and p.info["create_time"] >= started and p.ppid() == 1
               and p.status() != psutil.STATUS_ZOMBIE]
    assert not orphans, orphans
