"""Network calls: which project functions wait on another service (HTTP, S3, a Git host).

A loop that makes a network round trip on every pass pays far more for it than for one more
database query: judges of the tune triage called such per-row lookups "correct but negligible"
(a sync that pages a remote API, a metadata fetch per author); on the tune apps this evidence
removes 10 judged findings, all negligible, and no true one. The loop rules therefore do not
report a pass that waits on the network (``FileContext.waits_on_network``).

A function *calls the network* when one of its calls names a client library's function or class
(``requests.get``, ``httpx.AsyncClient``, ``urllib.request.urlopen``, ``boto3.client``…), or
when it calls a project function that does, up to three calls down (callees are resolved by
the typer). Methods of a client object held in an attribute (``self.session.get``) are not
followed unless the object's class is named.
"""
from __future__ import annotations

from typing import Dict

from ..core.refs import dotted
from ..core.tags import EV, RT

# Sending mail is left out: it is usually conditional (only rows with news get one) and the
# tune verdicts count such loops as true N+1s.
NETWORK = ("requests.", "httpx.", "urllib.request.", "urllib3.", "aiohttp.", "http.client.", "pycurl.",
           "ftplib.", "boto3.", "botocore.", "github.", "gitlab.", "paramiko.", "socket.", "stripe.", "grpc.",
           # chat, mail-box, file-transfer, directory and cloud clients: each call is a round trip
           "slack_sdk.", "slack.", "imaplib.", "imap_tools.", "poplib.", "asyncssh.", "pysftp.", "aioftp.",
           "ldap.", "ldap3.", "xmlrpc.client.", "zeep.", "suds.", "googleapiclient.", "google.cloud.",
           "azure.", "kubernetes.", "docker.", "openai.", "anthropic.")
DEPTH = 4  # the function itself and three calls down


def network_call(ref, own=None) -> bool:
    """Does the call ``ref`` name a network client's function or class? ``own``: the project's
    module names; a project package that shares a client's name (a ``slack`` or ``docker``
    package of the app's own) is not that client."""
    if ref is None or ref[0] != RT.CALL:
        return False
    callee = ref[1]
    while callee is not None and callee[0] == RT.CALL:  # ``requests.Session().get``
        callee = callee[1]
    name = dotted(callee)
    if name is None and callee is not None and callee[0] == RT.ATTR:
        name = dotted(callee[1])
    if name is None or not (name + ".").startswith(NETWORK):
        return False
    return own is None or name.split(".", 1)[0] not in own


class Remote:
    """Does a project function call the network, directly or ``DEPTH`` calls down? Answered by
    reading the callee's own facts and those of the project functions it calls (never every
    file of the project: an editor's one-file run reads only the chain it asks about)."""

    def __init__(self, index):
        self.ix = index
        self._memo: Dict[tuple, bool] = {}
        self._tops = None

    def waits(self, ref, depth: int = DEPTH, caller: str = "") -> bool:
        """Does the call ``ref`` wait on the network: a client's function, or a project function
        that calls the network within ``depth`` levels (``depth`` counts the callee itself)?"""
        if network_call(ref, self._own_tops()):
            return True
        if depth < 1 or ref is None or ref[0] != RT.CALL:
            return False
        ev = self.ix.typer.event(ref)
        return ev is not None and ev[0] == EV.CALL and ev[1] != caller and self.calls_network(ev[1], depth)

    def _own_tops(self):
        """The top-level names of the project's own modules, and those its code imports them by
        (``import websocket.utils`` run from ``backend/app``: ``ProjectIndex.import_roots``)."""
        if self._tops is None:
            tops = {module.split(".", 1)[0] for module in self.ix.modules}
            self._tops = frozenset(tops | set(getattr(self.ix, "import_roots", None) or ()))
        return self._tops

    def calls_network(self, qual: str, depth: int = DEPTH) -> bool:
        key = (qual, depth)
        hit = self._memo.get(key)
        if hit is not None:
            return hit
        self._memo[key] = False  # recursion guard
        fn = self.ix.functions.get(qual)
        found = fn is not None and any(self.waits(ref, depth - 1, qual) for ref, _l, _c in fn.calls)
        self._memo[key] = found
        return found


def remote(index) -> Remote:
    return index.derived("project.remote", lambda: Remote(index))
