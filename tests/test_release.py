"""Issue 12, item 12: the README's pre-commit ``rev:`` is the release tag of the package version
(``v`` + the version setup.cfg declares), so copying the snippet installs this release."""
from __future__ import annotations

import configparser
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def package_version() -> str:
    """The version setup.cfg declares, following ``attr:`` to the module it names."""
    parser = configparser.ConfigParser()
    parser.read(REPO / "setup.cfg", encoding="utf-8")
    value = parser.get("metadata", "version").strip()
    if value.startswith("attr:"):
        module, _, name = value[len("attr:"):].strip().rpartition(".")
        source = (REPO / (module.replace(".", "/") + ".py"))
        if not source.exists():
            source = REPO / module.replace(".", "/") / "__init__.py"
        found = re.search(rf"^{name}\s*=\s*['\"]([^'\"]+)['\"]", source.read_text(encoding="utf-8"), re.M)
        assert found, f"{name} not found in {source}"
        value = found.group(1)
    return value


def test_readme_precommit_rev_is_the_release_tag():
    import mandu_lint

    version = package_version()
    assert version == mandu_lint.__version__
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    block = readme[readme.index("**pre-commit.**"):]
    revs = re.findall(r"^\s*rev:\s*(\S+)", block, re.M)
    assert revs and revs[0] == f"v{version}", (revs, version)
