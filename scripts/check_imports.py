#!/usr/bin/env python3
"""Fails on an import cycle between a crate's top-level modules, and on a transport crate
imported by the core.

Every `crate::MODULE` path in a module's files (use lines and inline paths alike) is an arrow
from that module to MODULE. The modules are the files and folders directly under the crate's
source folder; lib.rs and main.rs are the crate root, not modules. Usage:

    scripts/check_imports.py SRC_DIR [--pure MODULE ...] [--banned CRATE ...]

--pure names the modules that may import none of the --banned crates (the core).
"""
import argparse
import pathlib
import re
import sys

PATH = re.compile(r"\bcrate::([a-z_][a-z0-9_]*)")
# A comment's text is prose, not an import.
COMMENT = re.compile(r"//.*$", re.MULTILINE)


def modules(src):
    """{module: [files]} for the modules directly under src."""
    found = {}
    for path in sorted(src.rglob("*.rs")):
        rel = path.relative_to(src)
        if len(rel.parts) == 1 and rel.stem in ("lib", "main"):
            continue
        name = rel.parts[0] if len(rel.parts) > 1 else rel.stem
        found.setdefault(name, []).append(path)
    return found


def arrows(files_by_module):
    graph = {m: set() for m in files_by_module}
    for module, files in files_by_module.items():
        for path in files:
            code = COMMENT.sub("", path.read_text())
            for target in PATH.findall(code):
                if target != module and target in graph:
                    graph[module].add(target)
    return graph


def cycles(graph):
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("src", type=pathlib.Path)
    parser.add_argument("--pure", nargs="*", default=[])
    parser.add_argument("--banned", nargs="*", default=[])
    args = parser.parse_args()
    files_by_module = modules(args.src)
    graph = arrows(files_by_module)
    failed = False
    for component in cycles(graph):
        failed = True
        ties = [f"{a} -> {b}" for a in component for b in sorted(graph[a]) if b in component]
        print(f"import cycle in {args.src}: {', '.join(component)} ({'; '.join(ties)})")
    banned = re.compile(r"\b(?:use\s+|::|\s)(" + "|".join(map(re.escape, args.banned)) + r")::") if args.banned else None
    for module in args.pure:
        for path in files_by_module.get(module, []):
            code = COMMENT.sub("", path.read_text())
            for crate in sorted(set(banned.findall(code))) if banned else []:
                failed = True
                print(f"{path}: the core imports the transport crate {crate}")
    if failed:
        return 1
    print(f"{args.src}: {len(graph)} modules, no import cycle")
    return 0


if __name__ == "__main__":
    sys.exit(main())
