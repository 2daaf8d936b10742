"""The layout the README promises (*How it is built*): no import circle, no module over 400 lines, no large file
in the tree. The layers themselves are import-linter's contract in pyproject.toml (run by .ci/run)."""

from __future__ import annotations

import subprocess

import pytest
from conftest import REPO

MAX_LINES = 400
MAX_TRACKED_BYTES = 1 << 20
GENERATED = {"dicomimgcmp/checks/profile.py"}  # the standard's table, one row per line
DOCUMENTATION_IMAGES = (".png", ".jpg", ".svg")


def _tracked() -> list[str]:
    try:
        out = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True, timeout=60)
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout: the tracked files cannot be listed")
    return [name for name in out.stdout.decode().split("\0") if name]


def test_no_large_file_is_tracked():
    large = [name for name in _tracked() if (REPO / name).is_file()
             and (REPO / name).stat().st_size > MAX_TRACKED_BYTES
             and not (name.startswith("docs/") and name.endswith(DOCUMENTATION_IMAGES))]
    assert not large, f"tracked files over 1 MB (data belongs in a package such as pydicom-data): {large}"


def test_no_module_is_over_400_lines():
    long = {str(path.relative_to(REPO)): n for path in (REPO / "dicomimgcmp").rglob("*.py")
            if str(path.relative_to(REPO)) not in GENERATED and (n := len(path.read_text().splitlines())) > MAX_LINES}
    assert not long


def test_no_module_imports_another_that_imports_it_back():
    grimp = pytest.importorskip("grimp", reason="import-linter (requirements-test.txt) brings grimp")
    graph = grimp.build_graph("dicomimgcmp")
    circles = set()
    for module in graph.modules:
        for imported in graph.find_modules_directly_imported_by(module):
            chain = graph.find_shortest_chain(importer=imported, imported=module)
            if chain:
                circles.add(" -> ".join((module, *chain)))
    assert not circles


def test_every_subpackage_says_what_it_takes_and_gives():
    for init in (REPO / "dicomimgcmp").rglob("__init__.py"):
        text = init.read_text()
        assert text.startswith('"""') and "PLACEHOLDER" not in text and len(text) > 120, init
