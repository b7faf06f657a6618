"""The LLM protocol's shared behaviour, on the scripted double."""

import pytest

from experio.llm import LLM, Completion, SchemaMismatchError, ScriptedLLM, load_llm, render_transcript
from experio.llm.errors import BackendConfigError, LLMError
from experio.llm.prompting import TRANSCRIPT_STOPS, render


def test_scripted_is_an_llm_and_replays_in_order():
    llm = ScriptedLLM(replies=["one two", "three"])
    assert isinstance(llm, LLM)
    first, second = llm.generate("a"), llm.generate("b")
    assert [first[0].text, second[0].text] == ["one two", "three"]
    assert first[0] == Completion("one two", "stop", prompt_tokens=1, completion_tokens=2)
    assert llm.prompts == ["a", "b"]
    with pytest.raises(LLMError, match="ran out of replies"):
        llm.generate("c")


def test_stop_and_max_tokens_and_n():
    llm = ScriptedLLM(responder=lambda p: "alpha beta\nUser: gamma delta")
    out = llm.generate([{"role": "user", "content": "hi"}], n=3)
    assert len(out) == 3 and all(c.text == "alpha beta" and c.finish_reason == "stop" for c in out)
    cut = llm.generate("x", max_tokens=1)[0]
    assert cut.finish_reason == "length" and cut.text == "alpha"


def test_json_schema_valid_and_invalid():
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}
    ok = ScriptedLLM(replies=['{"a": 3}']).generate("", json_schema=schema)[0]
    assert ok.parsed == {"a": 3}
    with pytest.raises(SchemaMismatchError, match="does not match the JSON schema at a") as e:
        ScriptedLLM(replies=['{"a": "x"}']).generate("", json_schema=schema)
    assert e.value.text == '{"a": "x"}'  # nothing the model said is lost
    with pytest.raises(SchemaMismatchError, match="not valid JSON"):
        ScriptedLLM(replies=["{a:"]).generate("", json_schema=schema)


def test_transcript_rendering_for_base_models():
    msgs = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi "}]
    text, stops = render(msgs)
    assert text == "System: Be brief.\n\nUser: Hi\n\nAssistant:"
    assert stops == TRANSCRIPT_STOPS
    assert render_transcript(msgs + [{"role": "assistant", "content": "Hello"}]).endswith("Assistant: Hello")
    with pytest.raises(ValueError, match="message 0 must be a mapping"):
        render(["oops"])


def test_chat_template_used_for_instruction_tuned_models():
    template = "{% for m in messages %}<{{ m.role }}>{{ m.content }}</{{ m.role }}>{% endfor %}{% if add_generation_prompt %}<assistant>{% endif %}"
    msgs = [{"role": "user", "content": "Hi"}]
    text, stops = render(msgs, chat_template=template, instruction_tuned=True)
    assert text == "<user>Hi</user><assistant>" and stops == ()
    # a base model with a template still gets the transcript unless asked
    assert render(msgs, chat_template=template, instruction_tuned=False)[0].endswith("Assistant:")
    assert render(msgs, style="template", chat_template=template)[0] == "<user>Hi</user><assistant>"


def test_seeds_are_distinct_per_sample():
    seen = []
    llm = ScriptedLLM(responder=lambda p: "x")
    orig = llm._complete
    llm._complete = lambda text, params, schema: seen.append(params.seed) or orig(text, params, schema)
    llm.generate("p", n=3, seed=10)
    assert seen == [10, 11, 12]


def test_load_llm_errors_are_specific(monkeypatch):
    monkeypatch.delenv("EXPERIO_BASE_URL", raising=False)
    with pytest.raises(BackendConfigError, match="unknown LLM backend 'nope'"):
        load_llm("nope")
    with pytest.raises(BackendConfigError, match="EXPERIO_BASE_URL"):
        load_llm("openai")
    assert load_llm("scripted", replies=["z"]).generate("")[0].text == "z"
