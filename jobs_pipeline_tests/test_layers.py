"""The layers of docs/architecture.md, held against the code: imports run down, never in a circle."""

import ast
from pathlib import Path

import jobs_pipeline

PACKAGE = Path(jobs_pipeline.__file__).parent
ADAPTERS = "adapters"

#: Each part of the package and the parts it may import (docs/architecture.md, "The layers").
ALLOWED: dict[str, set[str]] = {
    "domain": set(),
    "settings": set(),
    "storage": {"domain"},
    "validation": {"domain"},
    "queue": {"domain", "storage", "settings"},
    "telemetry": {"domain", "storage", "settings"},
    "landing": {"domain", "storage", "validation"},
    "warehouse": {"domain", "storage", "telemetry"},
    "jobs": {"domain", "storage", "validation", "queue", "telemetry"},
    "compose": {"domain", "storage", "validation", "queue", "telemetry", "jobs", "settings"},
    ADAPTERS: {"domain", "storage", "validation", "queue", "telemetry", "landing", "warehouse", "jobs",
               "compose", "settings", ADAPTERS},
}


def part_of(module: str) -> str:
    """The part of ``jobs_pipeline.a.b`` (its first segment; the composition root on its own)."""
    segments = module.split(".")[1:]
    if segments[:2] == ["jobs", "compose"]:
        return "compose"
    head = segments[0] if segments else ""
    return head if head in ALLOWED else ADAPTERS


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def project_imports(path: Path) -> set[str]:
    """Every ``jobs_pipeline`` module ``path`` imports, at any depth (function-level ones too)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("jobs_pipeline")}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("jobs_pipeline"):
            found.add(node.module)
            found |= {f"{node.module}.{a.name}" for a in node.names}  # `from pkg import module`
    return found


def graph() -> dict[str, set[str]]:
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    return {name: {m for m in project_imports(path) if m in modules and m != name} for name, path in modules.items()}


def test_imports_run_down_the_layers():
    edges = graph()
    parts = {part_of(m) for m in edges}
    assert parts == set(ALLOWED), f"parts found {sorted(parts)} differ from the documented {sorted(ALLOWED)}"
    upward = sorted(f"{src} -> {dst}" for src, dsts in edges.items() for dst in dsts
                    if part_of(dst) != part_of(src) and part_of(dst) not in ALLOWED[part_of(src)])
    assert upward == [], "imports against docs/architecture.md:\n" + "\n".join(upward)


def test_no_import_cycles():
    edges = graph()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(node: str) -> None:  # Tarjan's strongly connected components
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in edges[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    assert len(edges) > 50, f"only {len(edges)} modules read from {PACKAGE}"
    assert cycles == []
