#!/usr/bin/env python3
"""Two structural rules of docs/ARCHITECTURE.md, checked over the workspace's sources.

1. No import circles: within each crate, the graph of top-level modules (`src/x.rs` or
   `src/x/`) linked by `crate::x` paths in code (comments and tests left out) has no cycle;
   inside the binaries' `cmd/` directories, the same for the subcommand modules.
2. No long functions: outside tests and benches, a function body is at most 80 lines,
   unless the line before the function says why (a comment containing "long:").

Prints every violation and exits 1 if there is one. `make check` runs it.
"""

import os
import re
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
CRATES = ["format/src", "pipeline/src", "trainer/src", "python/src"]
MAX_LINES = 80


def code_of(path):
    """The file's code: comments and the `#[cfg(test)]` module at the bottom removed."""
    text = open(path, encoding="utf-8").read()
    cut = text.find("#[cfg(test)]")
    if cut >= 0:
        text = text[:cut]
    return re.sub(r"//.*", "", text)


def import_graph(src, prefix):
    """module -> modules it names through `{prefix}::name`, for the modules under `src`."""
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
        for cycle in cycles(import_graph(src, "crate")):
            problems.append(f"{crate}: import circle between modules {', '.join(cycle)}")
        cmd = os.path.join(src, "cmd")
        if os.path.isdir(cmd):
            for cycle in cycles(import_graph(cmd, "cmd")):
                problems.append(f"{crate}/cmd: import circle between {', '.join(cycle)}")
        for d, _, files in os.walk(src):
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
