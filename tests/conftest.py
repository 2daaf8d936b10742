"""Shared helpers: build de-identification trees from pydicom's real files and run the scripts as users do."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pytest
from sampledata import decoded, deidentify, load_source, save, with_pixels, write_mapping

REPO = Path(__file__).resolve().parents[1]
FAULTS = Path(__file__).parent / "faults"


def bump(at: tuple[int, ...] | None = None, by: int = 1):
    """A change for :meth:`Tree.add`: the value at ``at`` raised by ``by`` (a whole pixel when ``at`` names rows
    and columns only); by default index 2 on every axis (one value)."""
    def change(ds):
        arr = decoded(ds).copy()
        arr[at or (2,) * arr.ndim] += by
        return with_pixels(ds, arr)
    return change


def faulty_env(fault: str, marker: Path | None = None) -> dict:
    """The environment of a run whose processes load ``tests/faults/sitecustomize.py`` with ``fault``."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(FAULTS), str(REPO)]), DICOMIMGCMP_FAULT=fault)
    if marker is not None:
        env["DICOMIMGCMP_FAULT_MARKER"] = str(marker)
    return env


@dataclass
class Tree:
    """A source tree, a de-identified tree and their mapping, under one temporary folder."""

    root: Path
    mapping: dict[str, str] = field(default_factory=dict)

    @property
    def source(self) -> Path:
        return self.root / "source"

    @property
    def deid(self) -> Path:
        return self.root / "deid"

    def add(self, name: str, test_file: str, change=None, *, mapped: bool = True, write_source: bool = True,
            **attrs):
        """Add a pair made from a bundled file; ``change`` edits the de-identified dataset. Returns both."""
        src = load_source(test_file, name, **attrs)
        deid = deidentify(src, name, self.mapping if mapped else {})
        if change is not None:
            deid = change(deid)
        if write_source:
            save(src, self.source / name)
        save(deid, self.deid / name)
        return src, deid

    def config(self, **overrides) -> Path:
        write_mapping(self.root / "map.csv", self.mapping)
        cfg = {"run_name": "run", "input_data_path": "deid", "pre_deID_data_path": "source",
               "uid_mapping_file": "map.csv", "output_data_path": "out", "log_path": "logs",
               "multiprocessing_cpus": "2"}
        cfg.update(overrides)
        path = self.root / "config.json"
        path.write_text(json.dumps(cfg))
        return path


@pytest.fixture
def tree(tmp_path) -> Tree:
    return Tree(tmp_path)


@dataclass
class Run:
    proc: subprocess.CompletedProcess
    run_dir: Path

    @property
    def csv(self) -> pd.DataFrame:
        return pd.read_csv(self.run_dir / "comparison_summary.csv", keep_default_na=False, dtype=str)

    def row(self, deid_file: str) -> pd.Series:
        rows = self.csv[self.csv.deid_file == deid_file]
        assert len(rows) == 1, f"{deid_file}: {len(rows)} rows"
        return rows.iloc[0]


def run_script(config: Path, *, multi: bool = False, check: bool = True, restart: bool = False) -> Run:
    """Run a script as a user would (subprocess, from another folder)."""
    script = REPO / ("run_DICOMImgCmp_multiT.py" if multi else "run_DICOMImgCmp.py")
    env = dict(os.environ, SOURCE_DATE_EPOCH="1700000000")
    proc = subprocess.run([sys.executable, str(script), str(config), *(["--restart"] if restart else [])],
                          capture_output=True, text=True, cwd=config.parent, env=env, timeout=600)
    if check:
        assert proc.returncode == 0, proc.stderr
        assert "Traceback" not in proc.stderr
    cfg = json.loads(config.read_text())
    run_name = cfg.get("run_name")
    run = Run(proc, (config.parent / cfg.get("output_data_path", "out") / str(run_name or "run")).resolve())
    if check and (run.run_dir / "comparison_summary.csv").exists():  # every changed pair of the suite has a kind
        csv = run.csv
        assert (csv[csv.status == "changed"].change_kind != "").all(), "a changed pair without a change_kind"
    return run


def pdf_pages(path: Path) -> int:
    """Number of pages of a PDF that matplotlib wrote (its page objects are not compressed)."""
    return len(re.findall(rb"/Type\s*/Page\b", path.read_bytes()))


def summary_pages(csv: pd.DataFrame, pdf_file: str) -> int:
    """The summary pages a PDF opens with: those before its first pair page (the summary's length depends on
    what the run found: header findings, recipe tables)."""
    pages = [int(p) for p in csv[csv.pdf_file == pdf_file].pdf_page if p != ""]
    assert pages, f"no pair page in {pdf_file}"
    return min(pages) - 1


def tree_digest(root: Path) -> dict[str, str]:
    """Path -> sha256 and mode of every file below root (to prove inputs were not touched)."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() + oct(p.stat().st_mode)
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture
def grouped(tree):
    """A tree of change groups (see :func:`helpers.grouped_tree`)."""
    from helpers import grouped_tree

    return grouped_tree(tree)
