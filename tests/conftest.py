import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import os  # noqa: E402

# tests/pg.py: the throwaway PostgreSQL server (fixture ``pg``) and its summary line.
pytest_plugins = ["pg"]

# Most tests check what a rule finds, not the default threshold: they see every finding.
# tests/test_confidence.py checks the default (``high``) with this variable removed.
os.environ.setdefault("MANDU_LINT_CONFIDENCE", "medium")
