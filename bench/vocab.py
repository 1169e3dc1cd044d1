"""Why the tag vocabularies are str constants, not enums: pickle size and speed of 50k refs
with plain strings, interned constants and a str-Enum (see mandu_lint/core/tags.py).

    python bench/vocab.py
"""
import enum
import pickle
import sys
import time


class Tag(str, enum.Enum):
    G = "g"
    A = "a"
    C = "c"


class K:
    G = sys.intern("g")
    A = sys.intern("a")
    C = sys.intern("c")


def refs(g, a, c, n=50000):
    return [(a, (c, (a, (g, f"pkg.mod{i % 50}.Book"), "objects"), (), ()), "filter") for i in range(n)]


def clock(fn):
    start = time.perf_counter()
    out = fn()
    return out, (time.perf_counter() - start) * 1000


def main() -> None:
    for name, (g, a, c) in [("str", ("g", "a", "c")), ("const", (K.G, K.A, K.C)), ("enum", (Tag.G, Tag.A, Tag.C))]:
        r = refs(g, a, c)
        data, dump = clock(lambda: pickle.dumps(r, protocol=5))
        _, load = clock(lambda: pickle.loads(data))
        _, hashing = clock(lambda: set(r))
        _, compare = clock(lambda: sum(1 for x in r if x[0] == a and x[1][0] == c))
        print(f"{name:6} pickle {len(data) / 1e6:.2f} MB  dump {dump:.0f} ms  load {load:.0f} ms  "
              f"hash {hashing:.0f} ms  compare {compare:.0f} ms")


if __name__ == "__main__":
    main()
