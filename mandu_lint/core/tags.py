"""The vocabularies of refs, types and events, as named constants.

Refs (``core/refs.py``), types (``project/types.py``) and events are small tuples whose first
item says what they are. Code compares and builds them through these names, so a misspelt tag
is an ``AttributeError`` at its first use instead of a comparison that is silently never true;
``tests/test_tags.py`` fails on a bare tag literal compared with ``x[0]``.

Why plain ``str`` constants and not an ``enum``: refs are built, hashed and pickled into the
cache on every walk. Measured on 50k refs (``bench/vocab.py``): the pickle is the same size,
but unpickling enum members takes about three times as long as interned strings (64 ms vs
21 ms), and the warm run is mostly unpickling. The strings are interned, so comparisons are
identity checks in the common case.
"""
from __future__ import annotations

from typing import Final


class RT:
    """Ref tags (see ``core/refs.py``)."""

    GLOBAL: Final = "g"  # ("g", "pkg.mod.Name")
    ATTR: Final = "a"  # ("a", base, "attr")
    CALL: Final = "c"  # ("c", base, pos, kw)
    ITER: Final = "i"  # ("i", base): an element of iterating base
    SUB: Final = "s"  # ("s", base): base[...]
    PARAM: Final = "p"  # ("p", func, name)
    SELF: Final = "self"  # ("self", cls)
    LIT: Final = "lit"  # ("lit",)
    CONFLICT: Final = "conflict"  # ("conflict", r1, r2, ...): a local bound to several refs
    # annotation refs (``project/extract.py``)
    ANNOTATED: Final = "ann"  # ("ann", X, metadata refs)
    GENERATOR: Final = "gen"  # ("gen", X): Iterator[X]/Generator[X, ...]
    MAPPED: Final = "mapped"  # ("mapped", X): SQLAlchemy Mapped[X]


class TK:
    """Type kinds (see ``project/types.py``)."""

    MODEL: Final = "model"
    INST: Final = "inst"
    LIST: Final = "list"  # also the annotation ref ("list", X)
    MANAGER: Final = "manager"
    QS: Final = "qs"
    RELMGR: Final = "relmgr"
    SASESSION: Final = "sasession"
    SAMAKER: Final = "samaker"
    SAENGINE: Final = "saengine"
    SACONN: Final = "saconn"
    SAQUERY: Final = "saquery"
    SASELECT: Final = "saselect"
    SARESULT: Final = "saresult"
    FSA: Final = "fsa"
    DBCONN: Final = "dbconn"
    CURSOR: Final = "cursor"
    POOL: Final = "pool"
    DBCONNS: Final = "dbconns"
    FUNC: Final = "func"
    BOUND: Final = "bound"
    CLASS: Final = "class"
    OBJ: Final = "obj"
    MOD: Final = "mod"
    EXT: Final = "ext"
    DEPENDS: Final = "depends"
    METHOD: Final = "method"
    DICT: Final = "dict"  # ("dict", T): a dict whose values are all of type T
    SUPER: Final = "super"  # ("super", C): ``super()`` in a method of class C
    REQUEST: Final = "httprequest"  # a Django/DRF request: ``request.user`` is the user model


class EV:
    """Event kinds: what a call does to the database (``Typer.call``)."""

    QUERY: Final = "query"
    WRITE: Final = "write"
    STAGE: Final = "stage"
    COMMIT: Final = "commit"
    ROLLBACK: Final = "rollback"
    BEGIN: Final = "begin"
    CALL: Final = "call"


REF_TAGS = frozenset(v for k, v in vars(RT).items() if k.isupper())
TYPE_KINDS = frozenset(v for k, v in vars(TK).items() if k.isupper())
EVENT_KINDS = frozenset(v for k, v in vars(EV).items() if k.isupper())
