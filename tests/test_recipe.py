"""The recipe verdict on real files: deid-data's ultrasounds, which deid's shipped recipe names by manufacturer,
cleaned by deid's own DicomCleaner and cleaned wrongly; a CTP script whose first matching signature wins; a
recipe that reads its regions from a header field; a table of boxes; the CTP signature grammar."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pydicom
import pytest
from conftest import run_script
from hypothesis import given
from hypothesis import strategies as st
from pydicom.uid import generate_uid
from sampledata import decoded, load_source, save, with_pixels

from dicomimgcmp.checks.recipe import load_recipe
from dicomimgcmp.checks.recipe.ctp import matches, parse_signatures
from dicomimgcmp.errors import ConfigError

deid_data = pytest.importorskip("deid_data", reason="pip install deid-data (requirements-test.txt)")
pytest.importorskip("deid", reason="pip install deid (requirements.txt)")
US = Path(deid_data.__file__).parent / "data" / "ultrasounds"
PHILIPS_BAND = np.s_[0:49, 0:1024]  # deid's default recipe: Philips EPIQ 7G/5G, coordinates 0,0,1024,49


def _us(name: str, seed: str) -> pydicom.Dataset:
    ds = pydicom.dcmread(US / name)
    for keyword in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID"):
        setattr(ds, keyword, generate_uid(entropy_srcs=[seed, keyword]))
    return ds


def _deid_cleaned(path: Path, recipe: str | None = None) -> np.ndarray:
    """The pixels deid's own DicomCleaner makes of a file (its shipped default recipe, or ``recipe``)."""
    from deid.dicom import DicomCleaner

    cleaner = DicomCleaner(deid=recipe)
    cleaner.detect(str(path))
    return cleaner.clean()


def _pair(tree, name: str, src: pydicom.Dataset, arr: np.ndarray | None) -> None:
    """Source and de-identified copy (``arr`` its pixels, or the source's when None) under ``name``."""
    from sampledata import deidentify

    save(src, tree.source / name)
    deid = deidentify(src, name, tree.mapping)
    save(deid if arr is None else with_pixels(deid, arr), tree.deid / name)


def _config(tree, recipe: str):
    return tree.config(recipe=recipe)


@pytest.fixture
def cleaned_us(tree):
    """deid-data's greyscale Philips and RGB SIEMENS ultrasounds cleaned by deid's DicomCleaner, and the Philips
    one cleaned wrongly in each way the issue names."""
    for name in ("GREYSCALE_IMAGE.dcm", "RGB_IMAGE.dcm"):
        src = _us(name, f"clean-{name}")
        save(src, tree.root / "tmp" / name)
        _pair(tree, f"deid_clean/{name}", src, _deid_cleaned(tree.root / "tmp" / name))
    src = _us("GREYSCALE_IMAGE.dcm", "faults")
    arr = decoded(src)
    swapped = arr.copy()
    swapped[0:1024, 0:49] = 0  # x and y swapped: the left side blanked, the name left along the top
    _pair(tree, "swapped", _us("GREYSCALE_IMAGE.dcm", "swapped"), swapped)
    _pair(tree, "not_blanked", _us("GREYSCALE_IMAGE.dcm", "not_blanked"), None)
    plus_one = arr.copy()
    plus_one[PHILIPS_BAND] = 0
    plus_one[400, 500] += 1
    _pair(tree, "plus_one", _us("GREYSCALE_IMAGE.dcm", "plus_one"), plus_one)
    _pair(tree, "cropped", _us("GREYSCALE_IMAGE.dcm", "cropped"), arr[49:].copy())
    ct = load_source("CT_small.dcm", "ct")  # GE CT: no rule of the default recipe names it
    changed_ct = decoded(ct).copy()
    changed_ct[0:4] = 0
    _pair(tree, "ct_changed", ct, changed_ct)
    _pair(tree, "ct_same", load_source("CT_small.dcm", "ct-same"), None)
    _pair(tree, "mr_flagged", load_source("MR_small.dcm", "mr"), None)  # a blacklist rule without region
    return tree


def test_deid_default_recipe_verdicts(cleaned_us):
    run = run_script(_config(cleaned_us, "deid:default"))
    verdict = {name: run.row(name) for name in run.csv.deid_file}
    for name in ("deid_clean/GREYSCALE_IMAGE.dcm", "deid_clean/RGB_IMAGE.dcm"):
        assert verdict[name].recipe_verdict == "as_recipe", verdict[name].reason
        assert verdict[name].status == "changed"
    assert verdict["deid_clean/GREYSCALE_IMAGE.dcm"].recipe_boxes == "0,0,1024,49"
    assert "EPIQ" in verdict["deid_clean/GREYSCALE_IMAGE.dcm"].recipe_rule
    assert verdict["deid_clean/RGB_IMAGE.dcm"].recipe_boxes == "0,0,1024,60"

    swapped = verdict["swapped"]
    assert swapped.recipe_verdict == "missed_region"
    assert "still hold the source's pixels" in swapped.reason and "changed outside" in swapped.reason
    assert verdict["not_blanked"].recipe_verdict == "missed_region"
    assert verdict["not_blanked"].status == "identical"
    plus_one = verdict["plus_one"]
    assert plus_one.recipe_verdict == "changed_outside"
    assert "rows 400:401, cols 500:501 (1 pixels)" in plus_one.reason
    assert verdict["cropped"].recipe_verdict == "as_recipe", verdict["cropped"].reason
    assert verdict["ct_changed"].recipe_verdict == "not_in_recipe"
    assert verdict["ct_same"].recipe_verdict == "as_recipe"
    assert verdict["mr_flagged"].recipe_verdict == "rule_flags_only"
    assert "blacklist" in verdict["mr_flagged"].recipe_rule
    missed = int(swapped.reason.split("pixels: ")[1].split("(")[1].split(" of ")[0].replace(",", ""))
    assert 0 < missed <= 49 * 1024
    # pages: those failing the recipe first; an unchanged image whose region was missed gets one too
    failing = [int(verdict[n].pdf_page) for n in ("swapped", "not_blanked", "plus_one", "ct_changed")]
    conforming = [int(verdict[n].pdf_page) for n in ("deid_clean/GREYSCALE_IMAGE.dcm", "cropped")]
    assert max(failing) < min(conforming)
    assert verdict["ct_same"].pdf_page == verdict["mr_flagged"].pdf_page == ""
    assert "RECIPE NOT FOLLOWED: missed_region 2, changed_outside 1" in run.proc.stdout
    review = (run.run_dir / "review.html").read_text()
    assert 'id="verdict-filter"' in review and "graylist: EPIQ 7G" in review


def test_no_recipe_leaves_the_columns_empty(cleaned_us):
    run = run_script(cleaned_us.config())
    assert set(run.csv.recipe_verdict) == {""}


def test_regions_from_a_header_field(tree):
    """deid's ultrasound recipe blanks everything but the SequenceOfUltrasoundRegions it reads from the header."""
    src = _us("GREYSCALE_IMAGE.dcm", "us-regions")
    save(src, tree.root / "tmp.dcm")
    _pair(tree, "cleaned", src, _deid_cleaned(tree.root / "tmp.dcm", "dicom.ultrasound"))
    region = src.SequenceOfUltrasoundRegions[0]
    inside = decoded(src).copy()
    inside[region.RegionLocationMinY0 + 5, region.RegionLocationMinX0 + 5] += 1  # a kept region changed
    inside[:region.RegionLocationMinY0] = 0
    _pair(tree, "kept_changed", _us("GREYSCALE_IMAGE.dcm", "kept"), inside)
    partly = decoded(src).copy()
    partly[:10] = 0  # the annotation above the region runs to its top edge: most of it is left
    _pair(tree, "partly", _us("GREYSCALE_IMAGE.dcm", "partly"), partly)
    run = run_script(tree.config(recipe="deid:ultrasound"))
    cleaned = run.row("cleaned")
    assert cleaned.recipe_verdict == "as_recipe", cleaned.reason
    box = (f"keep {region.RegionLocationMinX0},{region.RegionLocationMinY0},{region.RegionLocationMaxX1},"
           f"{region.RegionLocationMaxY1}")
    assert cleaned.recipe_boxes == f"all {box}"
    kept = run.row("kept_changed")
    y, x = region.RegionLocationMinY0 + 5, region.RegionLocationMinX0 + 5
    assert kept.recipe_verdict == "changed_outside", kept.reason  # the black margins had nothing to blank
    assert f"rows {y}:{y + 1}, cols {x}:{x + 1} (1 pixels)" in kept.reason
    partly = run.row("partly")
    assert partly.recipe_verdict == "missed_region", partly.reason


CTP_SCRIPT = """Two signatures that both match a Philips ultrasound: CTP applies the first.

  { Manufacturer.containsIgnoreCase("philips") *
    [0008,0060].equals("US") }   // the modality, by tag
  (0,0,1024,49)

  { Modality.equals("US") }
  (0,0,10,10) (-10,0,10,10)
"""


def test_ctp_script_first_matching_signature_wins(tree):
    (tree.root / "DicomPixelAnonymizer.script").write_text(CTP_SCRIPT)
    arr = decoded(_us("GREYSCALE_IMAGE.dcm", "x"))
    first = arr.copy()
    first[PHILIPS_BAND] = 0
    second = arr.copy()
    second[0:10, 0:10] = 0
    second[0:10, -10:] = 0
    _pair(tree, "first", _us("GREYSCALE_IMAGE.dcm", "first"), first)
    _pair(tree, "second", _us("GREYSCALE_IMAGE.dcm", "second"), second)
    run = run_script(tree.config(recipe="DicomPixelAnonymizer.script"))
    assert run.row("first").recipe_verdict == "as_recipe", run.row("first").reason
    assert run.row("first").recipe_rule.startswith("line 3: {Manufacturer")
    assert run.row("second").recipe_verdict == "missed_region"


def test_table_of_boxes(tree):
    (tree.root / "boxes.csv").write_text('Manufacturer,ManufacturerModelName,Rows,Columns,box\n'
                                         'Philips Medical Systems,,768,1024,"0,0,1024,49"\n'
                                         'SIEMENS,,,,"0,0,1024,60"\n')
    arr = decoded(_us("GREYSCALE_IMAGE.dcm", "t"))
    blanked = arr.copy()
    blanked[PHILIPS_BAND] = 0
    _pair(tree, "table", _us("GREYSCALE_IMAGE.dcm", "table"), blanked)
    run = run_script(tree.config(recipe="boxes.csv"))
    row = run.row("table")
    assert (row.recipe_verdict, row.recipe_boxes) == ("as_recipe", "0,0,1024,49"), row.reason
    assert "Manufacturer=philips medical systems" in row.recipe_rule


def test_a_bad_recipe_is_a_config_error(tree):
    for value, said in (("deid:nonesuch", "no such deid recipe"), ("missing.script", "no such file")):
        with pytest.raises(ConfigError, match=said):
            load_recipe(value, tree.root)
    (tree.root / "bad.csv").write_text("Manufacturer,box\nX,1,2\n")
    with pytest.raises(ConfigError, match="missing: ManufacturerModelName"):
        load_recipe("bad.csv", tree.root)
    tree.add("a", "CT_small.dcm")
    run = run_script(tree.config(recipe="deid:nonesuch"), check=False)
    assert run.proc.returncode == 2 and "no such deid recipe" in run.proc.stderr
    assert "Traceback" not in run.proc.stderr


# The CTP grammar: operands, methods, precedence (* over +, ! over both), parentheses, comments.

VALUES = {"Manufacturer": "GE MEDICAL SYSTEMS", "Rows": "512", "ImageType": "ORIGINAL\\PRIMARY\\AXIAL",
          "[0008,0060]": "CT"}


@pytest.mark.parametrize(("script", "expected"), [
    ('Manufacturer.containsIgnoreCase("ge medical")', True),
    ('Manufacturer.contains("ge medical")', False),
    ('Manufacturer.startsWith("GE") * Rows.equals("512")', True),
    ('Rows.equals("256") + Rows.equals("512") * Manufacturer.equals("x")', False),
    ('(Rows.equals("256") + Rows.equals("512")) * !Manufacturer.equals("x")', True),
    ('ImageType.contains("PRIMARY")', True),
    ('[0008,0060].equals("CT")', True),
    ('Missing.equals("")', True),
    ('Rows.isGreaterThan("256") * Rows.isLessThan("1024")', True),
    ('Manufacturer.matches("GE.*")', True),
    ('Manufacturer.nonesuch("GE")', False),
    ('Rows.equals("512") // a comment\n * true', True),
    ('Rows.equals("512") *', False),  # CTP cannot parse it: false
])
def test_ctp_signature_grammar(script, expected):
    assert matches(script, VALUES) is expected


_leaf = st.sampled_from(["true", "false"])
_expr = st.recursive(_leaf, lambda inner: st.one_of(
    st.tuples(inner, st.sampled_from(["+", "*"]), inner).map(lambda t: f"{t[0]} {t[1]} {t[2]}"),
    inner.map(lambda e: f"({e})"), inner.map(lambda e: f"!{e}" if e.startswith("(") or e in ("true", "false")
                                             else f"!({e})")), max_leaves=12)


@given(_expr)
def test_ctp_precedence_is_boolean_algebra(script):
    """Any expression of true/false, +, *, ! and parentheses evaluates as Python's or/and/not (same precedence)."""
    python = script.replace("+", " or ").replace("*", " and ").replace("!", " not ")
    python = python.replace("true", "True").replace("false", "False")
    assert matches(script, {}) is eval(python)


def test_ctp_regions_between_signatures():
    sigs = parse_signatures(CTP_SCRIPT)
    assert [s.regions for s in sigs] == [((0, 0, 1024, 49, False),), ((0, 0, 10, 10, False), (-10, 0, 0, 10, False))]
    assert copy.deepcopy(sigs) == sigs


def test_a_recipe_that_fails_on_a_header_leaves_the_row_and_says_why(tree):
    """A recipe that raises for a header (deid on an odd value) costs the pair its verdict, not its comparison."""
    from dicomimgcmp.checks.recipe.verdict import check_recipe
    from dicomimgcmp.compare.pair import compare_pair
    from dicomimgcmp.read.record import read_record

    class Broken:
        name, attributes = "broken", ("Manufacturer",)

        def expect(self, values):
            raise KeyError("a value deid cannot read")

    tree.add("a.dcm", "CT_small.dcm")
    pair = [read_record(root / "a.dcm", root) for root in (tree.deid, tree.source)]
    result = check_recipe(compare_pair(*pair), Broken())
    assert result.status.value == "identical" and result.recipe_verdict is None  # no verdict
    assert "recipe check failed: KeyError" in result.reason


def test_a_header_value_pydicom_would_not_write_is_evaluated_without_a_warning(tmp_path):
    # a real ultrasound's BodyPartExamined 'ABDOM/RAD' is no valid CS: pydicom warned on the console of every run
    import warnings

    pytest.importorskip("deid")
    recipe = load_recipe("deid:default", tmp_path)
    values = dict.fromkeys(recipe.attributes, "")
    values.update(Modality="US", Manufacturer="Philips", BodyPartExamined="ABDOM/RAD")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        recipe.expect(values)
    assert [str(w.message) for w in caught] == []
