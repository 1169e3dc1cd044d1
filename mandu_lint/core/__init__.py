"""What every rule family shares, below the project index.

- ``refs.py`` — symbolic refs of expressions and the ``Scope`` that maps local names to them.
- ``tags.py`` — the vocabularies of refs, types and events, as named constants.
- ``source.py`` — decoding (PEP 263) and tolerant parsing of a file's text.
- ``loading.py`` — what a query expression loads eagerly (``select_related``, ``joinedload``…).
- ``bounded.py`` — loops whose iteration count is small or fixed (literals, chunks, constants).
- ``messages.py`` — short renderings of code for finding messages (``brief``).
"""
