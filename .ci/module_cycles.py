"""Module import graph of one crate's src/ (every `crate::X` path in each
file, comments and strings included), its strongly connected components."""
import os, re, sys
root = sys.argv[1]
mods = {}
for dirpath, _, files in os.walk(root):
    for f in files:
        if not f.endswith('.rs'): continue
        path = os.path.join(dirpath, f)
        rel = os.path.relpath(path, root)[:-3]
        top = rel.split(os.sep)[0]
        if top in ('lib', 'main'): continue
        mods.setdefault(top, set())
        text = open(path).read()
        text = re.sub(r'//[^\n]*', '', text)  # doc links are not imports
        for m in re.finditer(r'crate::([a-z_][a-z0-9_]*)', text):
            mods[top].add(m.group(1))
        for m in re.finditer(r'use crate::\{([^}]*)\}', text):
            for part in m.group(1).split(','):
                mods[top].add(part.strip().split('::')[0])
names = set(mods)
graph = {m: sorted(d & names - {m}) for m, d in mods.items()}
index, low, stack, on, sccs, n = {}, {}, [], set(), [], [0]
def visit(v):
    index[v] = low[v] = n[0]; n[0] += 1; stack.append(v); on.add(v)
    for w in graph[v]:
        if w not in index: visit(w); low[v] = min(low[v], low[w])
        elif w in on: low[v] = min(low[v], index[w])
    if low[v] == index[v]:
        scc = []
        while True:
            w = stack.pop(); on.discard(w); scc.append(w)
            if w == v: break
        sccs.append(scc)
for v in sorted(graph):
    if v not in index: visit(v)
for m in sorted(graph): print(f"{m:24} -> {', '.join(graph[m])}")
cycles = [s for s in sccs if len(s) > 1]
print("cycles:", cycles if cycles else "none")
sys.exit(1 if cycles else 0)
