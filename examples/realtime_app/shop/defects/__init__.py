"""Realistic defects, kept apart so the recommended code stays clean.

Each function is the kind of code the rules exist for; the line a rule reports carries a
``# defect: MDBnnn`` comment. ``tests/test_defects.py`` runs them against the real app to show
that each is a real bug, next to the recommended code that does not have it. The app does not
mount these routes; the tests do."""
