"""Network calls: which project functions wait on another service (HTTP, S3, a Git host).

A loop that makes a network round trip on every pass pays far more for it than for one more
database query: judges of the tune triage called such per-row lookups "correct but negligible"
(a sync that pages a remote API, a metadata fetch per author); on the tune apps this evidence
removes 10 judged findings, all negligible, and no true one. The loop rules therefore do not
report a pass that waits on the network (``FileContext.waits_on_network``).

A function *calls the network* when one of its calls names a client library's function or class
(``requests.get``, ``httpx.AsyncClient``, ``urllib.request.urlopen``, ``boto3.client``…), or
when it calls a project function that does, up to ``DEPTH`` calls away (callers are resolved by
the typer, as for execution contexts). Methods of a client object held
in an attribute (``self.session.get``) are not followed unless the object's class is named.
"""
from __future__ import annotations

from typing import FrozenSet, Optional, Set

from ..core.refs import dotted
from ..core.tags import RT

# Sending mail is left out: it is usually conditional (only rows with news get one) and the
# tune verdicts count such loops as true N+1s.
NETWORK = ("requests.", "httpx.", "urllib.request.", "urllib3.", "aiohttp.", "http.client.", "pycurl.",
           "ftplib.", "boto3.", "botocore.", "github.", "gitlab.", "paramiko.", "socket.", "stripe.", "grpc.")
DEPTH = 3


def network_call(ref) -> bool:
    """Does the call ``ref`` name a network client's function or class?"""
    if ref is None or ref[0] != RT.CALL:
        return False
    callee = ref[1]
    while callee is not None and callee[0] == RT.CALL:  # ``requests.Session().get``
        callee = callee[1]
    name = dotted(callee)
    if name is None and callee is not None and callee[0] == RT.ATTR:
        name = dotted(callee[1])
    return name is not None and (name + ".").startswith(NETWORK)


class Remote:
    """The project functions that call the network, directly or ``DEPTH`` calls away."""

    def __init__(self, index, callers):
        self.ix = index
        self._callers = callers
        self._funcs: Optional[FrozenSet[str]] = None

    def funcs(self) -> FrozenSet[str]:
        if self._funcs is None:
            direct: Set[str] = set()
            for rel in self.ix.files:
                facts = self.ix.files.get(rel)
                if facts is None:
                    continue
                for fn in facts.functions.values():
                    if any(network_call(ref) for ref, _l, _c in fn.calls):
                        direct.add(fn.qual)
            out, frontier = set(direct), direct
            callers = self._callers()
            for _ in range(DEPTH):
                frontier = {c for q in frontier for c in callers.get(q, ()) if c not in out}
                out |= frontier
                if not frontier:
                    break
            self._funcs = frozenset(out)
        return self._funcs


def remote(index) -> Remote:
    from .contexts import contexts
    return index.derived("project.remote", lambda: Remote(index, contexts(index).callers))
