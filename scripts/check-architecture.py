#!/usr/bin/env python3
"""Two structural rules of docs/ARCHITECTURE.md, checked over the workspace's sources.

1. No import circles: within each crate, at the root and inside every directory module,
   the graph of sibling modules linked by the paths the code names (`crate::`, `super::`,
   `self::`, in `use` trees and inline; a parent's `pub use` re-exports resolved to the
   child that defines the item; comments and tests left out) has no cycle; inside the
   binaries' `cmd/` directories, the same for the subcommand modules.
2. No long functions: outside tests, a function body (benchmarks' included) is at most 80
   lines, unless the line before the function says why (a comment containing "long:").

Prints every violation and exits 1 if there is one. `make check` runs it.
"""

import os
import re
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
CRATES = ["format/src", "pipeline/src", "trainer/src", "python/src"]
# Benchmarks: no import graph of their own (each file is a crate root), but their functions
# keep the length rule.
BENCHES = ["format/benches", "pipeline/benches", "trainer/benches"]
MAX_LINES = 80


def code_of(path):
    """The file's code: comments and the `#[cfg(test)]` module at the bottom removed."""
    text = open(path, encoding="utf-8").read()
    cut = text.find("#[cfg(test)]")
    if cut >= 0:
        text = text[:cut]
    return re.sub(r"//.*", "", text)


def module_of(src, path):
    """The module path of a source file: src/a/b.rs -> [a, b]; src/a/mod.rs -> [a]."""
    parts = os.path.relpath(path, src)[:-3].split(os.sep)
    if parts[-1] in ("mod", "lib", "main"):
        parts = parts[:-1]
    return parts


def expand_use(tree):
    """The paths of a use tree: `a::{b, c::{d, e as f}}` -> [a::b, a::c::d, a::c::e]."""
    tree = re.sub(r"\s+", "", tree)
    depth, cut = 0, None
    for i, ch in enumerate(tree):
        if ch == "{" and depth == 0:
            cut = i
            break
    if cut is None:
        return [re.sub(r"as\w+$", "", tree.split(" as ")[0]).rstrip(":")]
    prefix, body = tree[:cut], tree[cut + 1:tree.rindex("}")]
    items, depth, start = [], 0, 0
    for i, ch in enumerate(body + ","):
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        elif ch == "," and depth == 0:
            if body[start:i]:
                items.append(body[start:i])
            start = i + 1
    return [p for item in items for p in expand_use(prefix + item)]


def paths_named(code):
    """Every module path the code names: in `use` trees and inline (`crate::a::f()`)."""
    found = []
    for tree in re.findall(r"\buse\s+([^;]*);", code):
        found += [p.split("::") for p in expand_use(tree)]
    code = re.sub(r"\buse\s+[^;]*;", "", code)
    found += [p.split("::") for p in re.findall(r"\b(?:crate|super|self)(?:::\w+)+", code)]
    return found


def absolute(module, path):
    """`path` as named in `module`, from the crate root; None if it is not the crate's."""
    if path[0] == "crate":
        return path[1:]
    if path[0] not in ("super", "self"):
        return None
    here = list(module)
    while path and path[0] in ("super", "self"):
        if path[0] == "super":
            here = here[:-1]
        path = path[1:]
    return here + path


def import_graphs(src):
    """For the crate root and every directory module: child -> the sibling children it
    names, through `crate::`, `super::` or `self::` paths (re-exports of the parent
    resolved to the child that defines them)."""
    files = [os.path.join(d, f) for d, _, fs in os.walk(src) for f in fs if f.endswith(".rs")]
    files = [f for f in files if os.path.basename(f) != "tests.rs" and os.sep + "cmd" + os.sep not in f[len(src):]]
    named = {f: [a for p in paths_named(code_of(f)) if (a := absolute(module_of(src, f), p))] for f in files}
    reexports = {}
    for f in files:
        if os.path.basename(f) in ("mod.rs", "lib.rs", "main.rs"):
            parent = module_of(src, f)
            for tree in re.findall(r"\bpub use\s+([^;]*);", code_of(f)):
                for p in expand_use(tree):
                    a = absolute(parent, p.split("::"))
                    if a and len(a) > len(parent) + 1 and a[:len(parent)] == parent:
                        reexports[tuple(parent + [a[-1]])] = a[len(parent)]
    graphs = {}
    for f in files:
        module = module_of(src, f)
        for depth in range(len(module)):
            parent, child = module[:depth], module[depth]
            graph = graphs.setdefault(tuple(parent), {})
            edges = graph.setdefault(child, set())
            for a in named[f]:
                if len(a) > depth and a[:depth] == parent:
                    target = reexports.get(tuple(a[:depth + 1]), a[depth])
                    if target != child:
                        edges.add(target)
    return {p: {m: {n for n in ns if n in g} for m, ns in g.items()} for p, g in graphs.items()}


def import_graph(src, prefix):
    """module -> modules it names through `{prefix}::name`, for the modules under `src`
    (the subcommands of a binary's `cmd/`)."""
    graph = {}
    for name in sorted(os.listdir(src)):
        path = os.path.join(src, name)
        module = name[:-3] if name.endswith(".rs") else name
        if module in ("lib", "main", "mod"):
            continue
        files = [path] if name.endswith(".rs") else [
            os.path.join(d, f) for d, _, fs in os.walk(path) for f in fs if f.endswith(".rs")
        ]
        if not files:
            continue
        names = set()
        for f in files:
            code = code_of(f)
            names |= set(re.findall(prefix + r"::(\w+)", code))
            for group in re.findall(r"use " + prefix + r"::\{([^;]*)\};", code):
                names |= set(re.findall(r"(?:^|,)\s*(\w+)", group))
        graph[module] = names
    return {m: {n for n in ns if n in graph and n != m} for m, ns in graph.items()}


def cycles(graph):
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, found, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    return found


def long_functions(path):
    """(line, name, length) of each function over MAX_LINES lines without a `long:` note."""
    lines = open(path, encoding="utf-8").read().split("\n")
    found = []
    for i, line in enumerate(lines):
        if re.match(r"\s*#\[cfg\(test\)\]", line):
            break
        m = re.match(r"\s*(pub(\(\w+\))? )?(const )?fn (\w+)", line)
        if not m:
            continue
        depth, started, j = 0, False, i
        while j < len(lines):
            code = re.sub(r"//.*", "", re.sub(r'"(\\.|[^"\\])*"', '""', lines[j]))
            for ch in code:
                if ch == "{":
                    depth, started = depth + 1, True
                elif ch == "}":
                    depth -= 1
            if (started and depth == 0) or (not started and code.rstrip().endswith(";")):
                break
            j += 1
        length = j - i + 1
        noted = i > 0 and "long:" in lines[i - 1]
        if length > MAX_LINES and not noted:
            found.append((i + 1, m.group(4), length))
    return found


def main():
    problems = []
    for crate in CRATES:
        src = os.path.join(ROOT, crate)
        for parent, graph in sorted(import_graphs(src).items()):
            where = "::".join(("crate",) + parent)
            for cycle in cycles(graph):
                problems.append(f"{crate}: import circle between the modules of {where}: {', '.join(cycle)}")
        cmd = os.path.join(src, "cmd")
        if os.path.isdir(cmd):
            for cycle in cycles(import_graph(cmd, "cmd")):
                problems.append(f"{crate}/cmd: import circle between {', '.join(cycle)}")
    for tree in CRATES + BENCHES:
        for d, _, files in os.walk(os.path.join(ROOT, tree)):
            for f in files:
                if f.endswith(".rs") and f != "tests.rs":
                    path = os.path.join(d, f)
                    for line, name, length in long_functions(path):
                        rel = os.path.relpath(path, ROOT)
                        problems.append(f"{rel}:{line}: fn {name} is {length} lines (> {MAX_LINES})")
    for p in problems:
        print(p)
    if problems:
        sys.exit(1)
    print("architecture: no import circles, no function over 80 lines")


if __name__ == "__main__":
    main()
