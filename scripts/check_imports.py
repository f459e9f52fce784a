#!/usr/bin/env python3
"""Fails on an import cycle between a crate's top-level modules, on a transport crate
imported by the core, and on an import the architecture's code map does not allow.

Every `crate::MODULE` path in a module's files (use lines and inline paths alike) is an arrow
from that module to MODULE. The modules are the files and folders directly under the crate's
source folder; lib.rs and main.rs are the crate root, not modules. Usage:

    scripts/check_imports.py SRC_DIR [--pure MODULE ...] [--banned CRATE ...] [--map ARCHITECTURE.md]

--pure names the modules that may import none of the --banned crates (the core).
--map reads the table under "## Code map" (columns: module | holds | may import): the modules
of a row are the names in backticks in its first column, what they may import the names in
backticks in its last; every module of the crate must have a row, and every arrow must be
allowed by its row.
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


NAME = re.compile(r"`([a-z_][a-z0-9_]*)(?:/|\.rs)?`")


def code_map(path):
    """{module: allowed imports} from the code map table of ARCHITECTURE.md."""
    allowed = {}
    in_map = False
    for line in pathlib.Path(path).read_text().splitlines():
        if line.startswith("## "):
            in_map = line.strip() == "## Code map"
            continue
        if not in_map or not line.startswith("|") or line.startswith("|---"):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 3 or cells[0] == "module":
            continue
        may = set(NAME.findall(cells[-1]))
        for module in NAME.findall(cells[0]):
            allowed.setdefault(module, set()).update(may)
    return allowed


def against_map(graph, allowed, src, map_path):
    """Lines saying where the code and the map disagree."""
    problems = []
    for module in sorted(graph):
        if module not in allowed:
            problems.append(f"{src}: module {module} has no row in {map_path}'s code map")
            continue
        for target in sorted(graph[module] - allowed[module]):
            problems.append(
                f"{src}: {module} imports {target}, which {map_path}'s code map does not allow"
                f" (it may import: {', '.join(sorted(allowed[module])) or 'nothing of the crate'})"
            )
    for module in sorted(set(allowed) - set(graph) - {"main", "lib"}):
        problems.append(f"{map_path}'s code map names {module}, which {src} does not have")
    return problems


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("src", type=pathlib.Path)
    parser.add_argument("--pure", nargs="*", default=[])
    parser.add_argument("--banned", nargs="*", default=[])
    parser.add_argument("--map", type=pathlib.Path)
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
    if args.map:
        for problem in against_map(graph, code_map(args.map), args.src, args.map):
            failed = True
            print(problem)
    if failed:
        return 1
    checked = f", every import allowed by {args.map}" if args.map else ""
    print(f"{args.src}: {len(graph)} modules, no import cycle{checked}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
