"""Safe expressions and prompt templates."""

from __future__ import annotations

import pytest

from voicebot.dialog.conditions import (
    ExpressionError,
    FlowRuntimeError,
    evaluate,
    has_variables,
    parse_expression,
    render,
    template_refs,
)

SCOPE = {
    "slots": {"pin": "1234", "amount": 250, "more": True},
    "vars": {"order": {"status": "shipped", "items": [{"name": "kettle"}]}},
    "result": {},
    "call": {"caller_id": "+1555"},
    "intent": "x",
    "confidence": 0.8,
}


@pytest.mark.parametrize(
    "source, expected",
    [
        ("slots.pin == '1234'", True),
        ("slots.amount > 100 and not slots.missing", True),
        ("vars.order.status in ['shipped', 'out_for_delivery']", True),
        ("vars.order.status not in ('delivered',)", True),
        ("(vars.tries or 0) + 1", 1),
        ("slots.amount * 2 - 100", 400),
        ("len(vars.order.items)", 1),
        ("vars.order.items[0]['name']", "kettle"),
        ("slots.missing == none", True),
        ("true if confidence > 0.5 else false", True),
        ("lower('ABC') == 'abc'", True),
        ("call.caller_id == '+1555' or slots.pin == '0000'", True),
    ],
)
def test_expressions(source, expected):
    assert evaluate(source, SCOPE) == expected


@pytest.mark.parametrize(
    "source",
    [
        "__import__('os')",
        "slots.pin.__class__",
        "open('x')",
        "lambda: 1",
        "[x for x in slots]",
        "foo.bar",
        "slots.pin >",
    ],
)
def test_unsafe_or_bad_expressions_are_rejected(source):
    with pytest.raises(ExpressionError):
        parse_expression(source)


def test_expression_type_error_is_a_flow_error():
    with pytest.raises(FlowRuntimeError):
        evaluate("slots.pin + 1", SCOPE)


def test_expression_variables():
    assert parse_expression("slots.a == vars.b.c").variables() == [("slots", "a"), ("vars", "b", "c")]


def test_render_values_tags_and_literals():
    text = "PIN {slots.pin}, {digits:slots.pin}, {digits:0800}, {{braces}}, {vars.order.items.0.name}"
    assert render(text, SCOPE) == "PIN 1234, {digits:1234}, {digits:0800}, {braces}, kettle"
    assert render("more: {slots.more}", SCOPE) == "more: yes"


def test_render_missing_variable_is_a_flow_error():
    with pytest.raises(FlowRuntimeError, match="slots.nothing"):
        render("Hello {slots.nothing}", SCOPE)


def test_template_refs_and_errors():
    refs = template_refs("{slots.a} {money:result.total} {spell:AB12}")
    assert [(r.tag, r.path) for r in refs] == [
        (None, ("slots", "a")),
        ("money", ("result", "total")),
        ("spell", None),
    ]
    for bad in ("{name}", "{slots}", "unbalanced {slots.a", "close } only"):
        with pytest.raises(ExpressionError):
            template_refs(bad)
    assert has_variables("Hi {slots.a}") and not has_variables("Call {digits:0800} now")
