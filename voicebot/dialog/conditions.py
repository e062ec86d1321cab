"""Safe expressions (``if``, ``set``, ``priority``) and prompt templates (``{slots.x}``,
``{digits:slots.x}``).

Expressions are parsed with Python's ``ast`` and evaluated by walking a small whitelist of node
types: literals, dotted variables, comparisons, ``in``, boolean and arithmetic operators, and a few
functions. Nothing is ever passed to ``eval``. A missing variable in an expression is ``None``; a
missing variable in a template is a :class:`FlowRuntimeError` (the engine turns it into an apology
and a handoff).
"""

from __future__ import annotations

import ast
import operator
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

NAMESPACES = ("slots", "vars", "result", "call")
SCALAR_NAMES = ("intent", "confidence")
_CONSTANTS = {
    "true": True,
    "false": False,
    "none": None,
    "null": None,
    "True": True,
    "False": False,
    "None": None,
}
_FUNCTIONS = {
    "len": len,
    "int": int,
    "str": str,
    "float": float,
    "lower": lambda s: str(s).lower(),
    "upper": lambda s: str(s).upper(),
}
_BINOPS = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Mod: operator.mod,
}
_CMPOPS = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.In: lambda a, b: a in b,
    ast.NotIn: lambda a, b: a not in b,
    ast.Is: operator.is_,
    ast.IsNot: operator.is_not,
}


class FlowRuntimeError(Exception):
    """A fault in a flow while a call runs (missing variable, bad value, unknown function...)."""


class ExpressionError(ValueError):
    """An expression or template that cannot be parsed. ``offset`` is the 0-based column in the source."""

    def __init__(self, message: str, offset: int = 0) -> None:
        super().__init__(message)
        self.offset = offset


@dataclass(frozen=True, slots=True)
class Expression:
    source: str
    tree: ast.expr

    def variables(self) -> list[tuple[str, ...]]:
        """Dotted variable paths the expression reads, e.g. ``("slots", "pin")``."""
        inner = {id(n.value) for n in ast.walk(self.tree) if isinstance(n, ast.Attribute)}
        paths = []
        for node in ast.walk(self.tree):
            path = None if id(node) in inner else _dotted(node)
            if path and path[0] in NAMESPACES + SCALAR_NAMES:
                paths.append(path)
        return paths


def parse_expression(source: str) -> Expression:
    """Parse and check an expression; raises :class:`ExpressionError`."""
    try:
        tree = ast.parse(source.strip(), mode="eval").body
    except SyntaxError as exc:
        raise ExpressionError(
            f"bad expression {source!r}: {exc.msg}", max((exc.offset or 1) - 1, 0)
        ) from None
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            if not (isinstance(node.func, ast.Name) and node.func.id in _FUNCTIONS) or node.keywords:
                raise ExpressionError(
                    f"only {', '.join(_FUNCTIONS)} may be called in an expression", node.col_offset
                )
        elif (
            isinstance(node, ast.Name)
            and node.id not in _CONSTANTS
            and node.id not in _FUNCTIONS
            and node.id not in NAMESPACES + SCALAR_NAMES
        ):
            raise ExpressionError(
                f"unknown name {node.id!r} (use {', '.join(NAMESPACES)}.<name>)", node.col_offset
            )
        elif isinstance(node, ast.Attribute) and node.attr.startswith("_"):
            raise ExpressionError(f"attribute {node.attr!r} is not allowed", node.col_offset)
        elif not isinstance(node, _ALLOWED):
            raise ExpressionError(
                f"{type(node).__name__} is not allowed in an expression", getattr(node, "col_offset", 0)
            )
    return Expression(source, tree)


_ALLOWED = (
    ast.BoolOp,
    ast.And,
    ast.Or,
    ast.UnaryOp,
    ast.Not,
    ast.USub,
    ast.UAdd,
    ast.BinOp,
    ast.Compare,
    ast.Constant,
    ast.Name,
    ast.Attribute,
    ast.Subscript,
    ast.List,
    ast.Tuple,
    ast.Call,
    ast.Load,
    ast.IfExp,
    *_BINOPS,
    *_CMPOPS,
)


def evaluate(expression: Expression | str, scope: Mapping[str, Any]) -> Any:
    """Evaluate against ``scope`` (namespace name -> dict or value)."""
    expr = parse_expression(expression) if isinstance(expression, str) else expression
    try:
        return _eval(expr.tree, scope)
    except FlowRuntimeError:
        raise
    except Exception as exc:  # a type error between values the caller gave, a division by zero...
        raise FlowRuntimeError(f"expression {expr.source!r} failed: {exc}") from exc


def _eval(node: ast.expr, scope: Mapping[str, Any]) -> Any:
    if isinstance(node, ast.Constant):
        return node.value
    path = _dotted(node)
    if path is not None:
        if path[0] in _CONSTANTS and len(path) == 1:
            return _CONSTANTS[path[0]]
        return lookup(scope, path, missing=None)
    if isinstance(node, ast.BoolOp):
        if isinstance(node.op, ast.And):
            value: Any = True
            for sub in node.values:
                value = _eval(sub, scope)
                if not value:
                    return value
            return value
        value = False
        for sub in node.values:
            value = _eval(sub, scope)
            if value:
                return value
        return value
    if isinstance(node, ast.UnaryOp):
        operand = _eval(node.operand, scope)
        if isinstance(node.op, ast.Not):
            return not operand
        return -operand if isinstance(node.op, ast.USub) else +operand
    if isinstance(node, ast.BinOp):
        return _BINOPS[type(node.op)](_eval(node.left, scope), _eval(node.right, scope))
    if isinstance(node, ast.Compare):
        left = _eval(node.left, scope)
        for op, comparator in zip(node.ops, node.comparators, strict=True):
            right = _eval(comparator, scope)
            if not _CMPOPS[type(op)](left, right):
                return False
            left = right
        return True
    if isinstance(node, ast.IfExp):
        return _eval(node.body, scope) if _eval(node.test, scope) else _eval(node.orelse, scope)
    if isinstance(node, (ast.List, ast.Tuple)):
        return [_eval(e, scope) for e in node.elts]
    if isinstance(node, ast.Subscript):
        container = _eval(node.value, scope)
        key = _eval(node.slice, scope)
        try:
            return container[key]
        except (KeyError, IndexError, TypeError):
            return None
    if isinstance(node, ast.Call):
        return _FUNCTIONS[node.func.id](*(_eval(a, scope) for a in node.args))  # type: ignore[attr-defined]
    raise FlowRuntimeError(f"{type(node).__name__} is not allowed in an expression")


def _dotted(node: ast.AST) -> tuple[str, ...] | None:
    """``slots.pin`` -> ("slots", "pin"); None for anything that is not a plain dotted name."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return tuple(reversed(parts))
    return None


_MISSING = object()


def lookup(scope: Mapping[str, Any], path: tuple[str, ...] | list[str], missing: Any = _MISSING) -> Any:
    """Walk dicts (and lists by index) along ``path``. Without ``missing`` a gap raises FlowRuntimeError."""
    value: Any = scope
    for i, part in enumerate(path):
        if isinstance(value, Mapping) and part in value:
            value = value[part]
        elif (
            isinstance(value, (list, tuple))
            and part.lstrip("-").isdigit()
            and -len(value) <= int(part) < len(value)
        ):
            value = value[int(part)]
        else:
            if missing is _MISSING:
                raise FlowRuntimeError(f"no value for {'.'.join(path[: i + 1])}")
            return missing
    if value is None and missing is _MISSING:
        raise FlowRuntimeError(f"no value for {'.'.join(path)}")
    return value


# ------------------------------------------------------------------------------------------------
# Templates
# ------------------------------------------------------------------------------------------------

_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([^{}]*)\}")
_PATH = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_-]+)*$")


@dataclass(frozen=True, slots=True)
class TemplateRef:
    """One ``{...}`` in a text: a variable (``path``), optionally with a say-as ``tag``, or a literal tag."""

    tag: str | None
    path: tuple[str, ...] | None  # None: a literal say-as tag such as {digits:0800}
    raw: str
    offset: int


def template_refs(text: str, extra_names: tuple[str, ...] = ()) -> list[TemplateRef]:
    """Parse a template; raises :class:`ExpressionError` for a malformed or unknown placeholder."""
    refs = []
    depth_check = _PLACEHOLDER.sub("", text)
    if "{" in depth_check or "}" in depth_check:
        raise ExpressionError(
            f"unbalanced brace in {text!r} (write {{{{ or }}}} for a literal brace)",
            depth_check.find("{") if "{" in depth_check else depth_check.find("}"),
        )
    for m in _PLACEHOLDER.finditer(text):
        inner = m.group(1)
        if inner is None:
            continue
        tag, _, rest = inner.rpartition(":") if ":" in inner else ("", "", inner)
        rest = rest.strip()
        is_var = bool(_PATH.match(rest)) and rest.split(".")[0] in NAMESPACES + SCALAR_NAMES + extra_names
        if is_var:
            path = tuple(rest.split("."))
            if path[0] in NAMESPACES and len(path) < 2:
                raise ExpressionError(f"{{{inner}}}: name a field, e.g. {{{path[0]}.name}}", m.start())
            refs.append(TemplateRef(tag.strip() or None, path, inner, m.start()))
        elif tag:
            refs.append(TemplateRef(tag.strip(), None, inner, m.start()))
        else:
            raise ExpressionError(
                f"unknown variable {{{inner}}} (use {', '.join(NAMESPACES)}.<name>)", m.start()
            )
    return refs


def has_variables(text: str) -> bool:
    """Whether the text needs values at run time (literal say-as tags do not count)."""
    try:
        return any(r.path is not None for r in template_refs(text))
    except ExpressionError:
        return True


def render(text: str, scope: Mapping[str, Any]) -> str:
    """Fill a template. Say-as tags stay for the TTS: ``{digits:slots.pin}`` -> ``{digits:1234}``."""
    extra = tuple(k for k in scope if k not in NAMESPACES + SCALAR_NAMES)

    def fill(m: re.Match[str]) -> str:
        if m.group(0) in ("{{", "}}"):
            return m.group(0)[0]
        inner = m.group(1)
        refs = template_refs(m.group(0), extra)
        ref = refs[0]
        if ref.path is None:
            return "{" + inner + "}"
        value = format_value(lookup(scope, ref.path))
        return "{" + ref.tag + ":" + value + "}" if ref.tag else value

    try:
        return _PLACEHOLDER.sub(fill, text)
    except ExpressionError as exc:
        raise FlowRuntimeError(str(exc)) from exc


def format_value(value: Any) -> str:
    """How a value reads inside a prompt."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
