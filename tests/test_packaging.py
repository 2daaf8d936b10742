"""`pip install .` gives working commands, with the same pins as requirements.txt; the face imports lazily."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO, Tree, bump

SHIPPED = ["pyproject.toml", "README.md", "dicomimgcmp", "dicomimgcmp_common.py", "requirements.txt",
           "requirements-distributed.txt", "requirements-test.txt"]


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The package built and installed (no dependencies: they are this environment's) into a folder of its own,
    from a copy of the sources so that the build leaves nothing in the checkout."""
    pytest.importorskip("setuptools", minversion="70.1", reason="pip install -r requirements-dev.txt")
    root = tmp_path_factory.mktemp("pkg")
    (root / "src").mkdir()
    for name in SHIPPED:
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, root / "src" / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(REPO / name, root / "src" / name)
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                    "--target", str(root / "site"), str(root / "src")], check=True, capture_output=True, timeout=300)
    return root / "site"


def _command(site: Path, name: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(site), "SOURCE_DATE_EPOCH": "1700000000"}
    return subprocess.run([sys.executable, str(site / "bin" / name), *args], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=300)


def test_installed_commands_run_from_anywhere(installed, tmp_path):
    tree = Tree(tmp_path / "t")
    tree.add("a.dcm", "CT_small.dcm", bump())
    tree.add("b.dcm", "MR_small.dcm")
    config = tree.config()
    single = _command(installed, "dicomimgcmp", str(config), cwd=tmp_path)
    assert single.returncode == 0, single.stderr
    parts = _command(installed, "dicomimgcmp", str(config), "--parts", "3", cwd=tmp_path)
    assert parts.returncode == 0, parts.stderr
    run_dir = tree.root / "out" / "run"
    assert sorted(p.name for p in run_dir.glob("*.pdf")) == [f"comparison_results_{k}.pdf" for k in range(3)]
    sort = _command(installed, "dicom-file-classifier", str(tree.deid), str(tmp_path / "sorted"), cwd=tmp_path)
    assert sort.returncode == 0, sort.stderr
    assert (tmp_path / "sorted" / "classifier_report.csv").exists()
    where = subprocess.run([sys.executable, "-c", "import dicomimgcmp; print(dicomimgcmp.__file__)"],
                           capture_output=True, text=True, cwd=tmp_path, env={"PYTHONPATH": str(installed)})
    assert where.stdout.startswith(str(installed))  # the installed copy ran, not the checkout


def test_installed_dependencies_are_the_requirement_pins(installed):
    metadata = next(installed.glob("dicomimgcmp-*.dist-info")) / "METADATA"
    required = [line.split(":", 1)[1].strip() for line in metadata.read_text().splitlines()
                if line.startswith("Requires-Dist:") and "extra ==" not in line]
    pins = [line.split("#")[0].strip() for line in (REPO / "requirements.txt").read_text().splitlines()
            if line.split("#")[0].strip()]
    normal = lambda spec: "".join(sorted(spec.replace(" ", "")))  # noqa: E731 - the order of clauses differs
    assert sorted(map(normal, required)) == sorted(map(normal, pins))


def test_the_command_line_starts_without_pydicom():
    probe = ("import sys, dicomimgcmp_common as face; assert 'pydicom' not in sys.modules, 'pydicom loaded'; "
             "[getattr(face, name) for name in face.__all__]; print('pydicom' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=REPO, check=True)
    assert out.stdout.strip() == "True"  # every exported name resolves, loading the package on first use
