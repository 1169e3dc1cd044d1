"""MDB2xx — layering and connection lifecycle.

The family's map:

- ``mdb201_repository_bypass.py`` — handlers/services reaching the database themselves.
- ``mdb202_layer_import.py`` — imports that cross the configured layers the wrong way.
- ``mdb203_client_per_call.py`` — engines, pools, connections created per request or per row.
- ``mdb204_connection_leak.py`` — connections, cursors, sessions not closed on every path.
- ``analysis.py`` — the layer model of ``layers.*``: which module is which layer, repository
  methods, what a call touches.
- ``clients.py`` — which code runs once per request, and which calls create a database client.
- ``leaks.py`` — is a handle a function opens closed on every way out of it.
- ``fix.py`` — rewrite ``x = open_it(...)`` and its uses into a ``with`` block (MDB204's fix).
- ``propose.py`` — ``mandu-lint init``'s ``layers`` section, read off the folder layout.

Imported by the configuration loader: options and rule metadata only.
"""
from __future__ import annotations

from ...model import FamilySpec, RuleSpec
from ...options import declare

declare("layers", "handler", "glob-list", [], "Route handler modules.")
declare("layers", "service", "glob-list", [], "Application service modules.")
declare("layers", "repository", "glob-list", [], "Repository modules.")
declare("layers", "adapter", "glob-list", [], "DB adapter modules.")
declare("layers", "allow-skip", "bool", True, "May a layer call past the one below it?")

FAMILY = FamilySpec(
    name="layers",
    package=__name__,
    rules=(
        RuleSpec("MDB201", "repository-bypass", "mdb201_repository_bypass:RepositoryBypass"),
        RuleSpec("MDB202", "layer-import", "mdb202_layer_import:LayerImport"),
        RuleSpec("MDB203", "db-client-per-call", "mdb203_client_per_call:ClientPerCall"),
        RuleSpec("MDB204", "connection-leak", "mdb204_connection_leak:ConnectionLeak", default=False),
    ),
    proposer="propose:propose_layers",
)
