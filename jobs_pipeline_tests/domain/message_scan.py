"""An AST scan for code that decides by reading exception message text.

Flags, inside ``except ... as NAME`` blocks and in functions taking a parameter annotated
as an exception, any "message expression" of that name (``str(e)``, ``repr(e)``,
``f"{e}"``, ``e.args``, ``e.args[i]``, ``e.message``, ``e.strerror``, ``"%s" % e``,
``traceback.format_exc()``) that is
- compared (``in``, ``not in``, ``==``, ``!=``),
- the receiver of a string test/normalisation (``.lower()``, ``.startswith(...)``, ...),
- the argument of a ``re`` function.
Plus a line-level regex for the classic shapes, as a second net.
"""

import ast
import re
from dataclasses import dataclass
from pathlib import Path

STRING_METHODS = {"lower", "upper", "casefold", "startswith", "endswith", "find", "rfind", "index",
                  "rindex", "count", "__contains__", "split", "strip", "partition", "rpartition"}
RE_FUNCS = {"search", "match", "fullmatch", "findall", "finditer", "sub", "subn", "split"}
MESSAGE_ATTRS = {"args", "message", "strerror", "msg", "reason_phrase"}
EXCEPTION_ANNOTATIONS = {"BaseException", "Exception", "OSError", "ClientError", "HTTPError"}

LINE_PATTERNS = [
    re.compile(r"\bin\s+(str|repr)\(\s*(e|ex|exc|err|error|exception)\s*\)"),
    re.compile(r"\b(str|repr)\(\s*(e|ex|exc|err|error|exception)\s*\)\s*\.\s*(lower|upper|casefold|startswith|endswith|find)\b"),
    re.compile(r"\b(e|ex|exc|err|error|exception)\.args\s*\[\s*\d+\s*\]\s*(==|!=|in\b)"),
    re.compile(r"\bin\s+(e|ex|exc|err|error|exception)\.args\b"),
    re.compile(r"\bre\.(search|match|fullmatch|findall)\([^)]*\b(str|repr)\(\s*(e|ex|exc|err|error|exception)\s*\)"),
]


@dataclass(frozen=True)
class Finding:
    path: str
    line: int
    what: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.what}"


def _is_message_of(node: ast.AST, names: set[str]) -> bool:
    """Is ``node`` an expression that yields the message text of one of ``names``?"""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in {"str", "repr", "format"}:
        return any(isinstance(a, ast.Name) and a.id in names for a in node.args)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "format_exc":
        return True
    if isinstance(node, ast.JoinedStr):
        return any(isinstance(v, ast.FormattedValue) and isinstance(v.value, ast.Name) and v.value.id in names
                   for v in node.values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod):
        right = node.right
        items = right.elts if isinstance(right, ast.Tuple) else [right]
        return any(isinstance(i, ast.Name) and i.id in names for i in items)
    if isinstance(node, ast.Attribute) and node.attr in MESSAGE_ATTRS:
        return isinstance(node.value, ast.Name) and node.value.id in names
    if isinstance(node, ast.Subscript):
        return _is_message_of(node.value, names)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in STRING_METHODS:
        return _is_message_of(node.func.value, names)  # str(e).strip() is still the message
    return False


def _scan_body(nodes: list[ast.stmt], names: set[str], path: str, out: list[Finding]) -> None:
    for stmt in nodes:
        for node in ast.walk(stmt):
            if isinstance(node, ast.Compare):
                ops_ok = any(isinstance(op, (ast.In, ast.NotIn, ast.Eq, ast.NotEq)) for op in node.ops)
                if ops_ok and any(_is_message_of(side, names) for side in [node.left, *node.comparators]):
                    out.append(Finding(path, node.lineno, "compares exception message text"))
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                if node.func.attr in STRING_METHODS and _is_message_of(node.func.value, names):
                    out.append(Finding(path, node.lineno, f"calls .{node.func.attr}() on exception message text"))
                elif (node.func.attr in RE_FUNCS and isinstance(node.func.value, ast.Name)
                      and node.func.value.id == "re" and any(_is_message_of(a, names) for a in node.args)):
                    out.append(Finding(path, node.lineno, f"re.{node.func.attr}() on exception message text"))


def _annotation_names(annotation: ast.expr | None) -> set[str]:
    if annotation is None:
        return set()
    return {n.id if isinstance(n, ast.Name) else n.attr for n in ast.walk(annotation)
            if isinstance(n, (ast.Name, ast.Attribute))}


def scan_source(source: str, path: str = "<string>") -> list[Finding]:
    tree = ast.parse(source, filename=path)
    out: list[Finding] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ExceptHandler) and node.name:
            _scan_body(node.body, {node.name}, path, out)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            args = node.args
            params = [*args.posonlyargs, *args.args, *args.kwonlyargs]
            names = {a.arg for a in params if _annotation_names(a.annotation) & EXCEPTION_ANNOTATIONS}
            if names:
                _scan_body(node.body if isinstance(node.body, list) else [ast.Expr(node.body)], names, path, out)
    for lineno, line in enumerate(source.splitlines(), start=1):
        if any(p.search(line) for p in LINE_PATTERNS):
            out.append(Finding(path, lineno, f"message-matching pattern: {line.strip()}"))
    return sorted(set(out), key=lambda f: (f.path, f.line))


def scan_tree(root: Path) -> list[Finding]:
    findings: list[Finding] = []
    for file in sorted(root.rglob("*.py")):
        findings.extend(scan_source(file.read_text(encoding="utf-8"), str(file)))
    return findings
