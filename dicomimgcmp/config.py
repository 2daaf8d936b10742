"""Read and validate the JSON run configuration before any work starts.

Every problem raises :class:`ConfigError` with one line naming the key or file; the CLI turns it into exit code 2.
"""

from __future__ import annotations

import difflib
import json
import math
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from dicomimgcmp.base.access import make_dirs
from dicomimgcmp.checks.profile_options import OPTIONS as PROFILE_OPTIONS
from dicomimgcmp.enums import ExecutorKind, HeaderMode, OutputAccess, PageMode, SetMode, TextMode, Word
from dicomimgcmp.errors import ConfigError, MissingDependency
from dicomimgcmp.model import DEFAULT_MAX_PIXELS
from dicomimgcmp.optional import install_hint, installed

if TYPE_CHECKING:
    from dicomimgcmp.checks.recipe import Recipe

#: The modalities the text check (:mod:`.checks.text`) reads by default.
DEFAULT_MODALITIES = ("US", "SC", "OT", "XA", "RF", "ES", "XC", "GM", "SM", "DX", "CR", "MG")


@dataclass(frozen=True)
class TextCheck:
    """The text check's settings (:mod:`~dicomimgcmp.checks.text`): its mode; ``modalities`` the Modality values
    read (None: every modality)."""

    mode: TextMode = TextMode.OFF
    modalities: tuple[str, ...] | None = DEFAULT_MODALITIES


#: Every key the config understands, with the help text ``--help`` prints.
CONFIG_KEYS: dict[str, str] = {
    "run_name": "name of this run; outputs go to <output_data_path>/<run_name>/",
    "input_data_path": "folder of de-identified DICOM files (searched recursively, any file name)",
    "pre_deID_data_path": "folder of the source files before de-identification",
    "uid_mapping_file": "CSV with columns id_old,id_new mapping source UIDs to de-identified UIDs",
    "output_data_path": "folder for the PDF(s) and comparison_summary.csv (created if missing)",
    "log_path": "folder for imgCmpLog.log (created if missing)",
    "multiprocessing_cpus": "worker processes and PDF parts for run_DICOMImgCmp_multiT.py "
                            "(older configs: thread_count)",
    "pixel_tolerance": "optional, default 0: a pixel counts as changed when |deid - source| > this",
    "executor": "optional: \"local\" (default, worker processes on this machine) or \"dask\" (a Dask cluster)",
    "dask_scheduler_address": "optional, with executor \"dask\": e.g. \"tcp://10.0.0.5:8786\"; without it a "
                              "local Dask cluster of multiprocessing_cpus workers is started",
    "max_pixels": f"optional, default {DEFAULT_MAX_PIXELS} (2^32): images declaring more values (rows x columns "
                  "x frames x samples) are not decoded but reported unreadable",
    "pages": "optional: \"all\" (default, a page per changed image) or \"per_group\" (a page per change "
             "group: the images of a series that received the same change)",
    "review_decisions": "optional: a review_decisions.csv exported from an earlier run's review.html; its "
                        "decisions carry over to the change groups that are still the same",
    "text_check": "optional: \"off\" (default), \"changed\" or \"all\": read text in the de-identified images "
                  "(of changed pairs, or of all compared pairs) and match it against the source's identity "
                  "values (needs pip install -r requirements-text.txt)",
    "text_modalities": "optional, with text_check: the modalities read, a list or \"US,SC\" (default "
                       "US SC OT XA RF ES XC GM SM DX CR MG; \"*\" for every modality)",
    "header_check": "optional: \"on\" (default) or \"off\": look for the source's identity values (names, "
                    "IDs, dates, UIDs, the Confidentiality Profile's attributes) anywhere in the de-identified file "
                    "(CSV columns header_identity, date_shift_days)",
    "profile": "optional: \"auto\" (default: the options each de-identified file declares in "
               "DeidentificationMethodCodeSequence, the Basic Profile alone when none), \"off\", or options to "
               "judge every file against, e.g. \"basic,retain_device_identity\": every attribute judged against "
               "the Confidentiality Profile (CSV columns profile, profile_findings); options: "
               + ", ".join(PROFILE_OPTIONS),
    "set_check": "optional: \"on\" (default) or \"off\": judge the run as one set (UIDs split or merged, "
                 "references left pointing at source UIDs, a patient given several pseudonyms or two patients one, "
                 "a date shift other than the patient's usual one; CSV column set_findings); off with header_check",
    "output_access": "optional: \"owner\" (default) or \"group\": who may read what the run writes (folders "
                     "0700 and files 0600, or 0750 and 0640 for a curation team sharing a group); the outputs "
                     "show source images and identity values",
    "recipe": "optional: the pixel de-identification recipe to judge the changes against (CSV column "
              "recipe_verdict): \"deid:default\", \"deid:ultrasound\", \"deid:xray.chest\" (deid's shipped "
              "recipes), or the path of a deid recipe, a CTP DicomPixelAnonymizer.script or a CSV table of boxes",
}
REQUIRED_KEYS = ("run_name", "input_data_path", "pre_deID_data_path", "uid_mapping_file",
                 "output_data_path", "log_path")
LEGACY_KEYS = {"thread_count": "multiprocessing_cpus"}



@dataclass(frozen=True)
class Config:
    """A validated configuration: absolute paths, typed numbers."""

    run_name: str
    input_data_path: Path
    pre_deID_data_path: Path
    uid_mapping_file: Path
    output_data_path: Path
    log_path: Path
    multiprocessing_cpus: int = 1
    pixel_tolerance: float = 0.0
    max_pixels: int = DEFAULT_MAX_PIXELS
    executor: ExecutorKind = ExecutorKind.LOCAL
    dask_scheduler_address: str = ""
    pages: PageMode = PageMode.ALL
    review_decisions: Path | None = None
    text_check: TextCheck = TextCheck()
    header_check: HeaderMode = HeaderMode.ON
    #: The profile judgement (:mod:`.checks.header_profile`): None off, () the options each file declares, else
    #: the options named.
    profile: tuple[str, ...] | None = ()
    set_check: SetMode = SetMode.ON
    output_access: OutputAccess = OutputAccess.OWNER
    #: The recipe the changes are judged against (:mod:`.checks.recipe`), None without one.
    recipe: Recipe | None = None
    #: Keys in the file that this tool does not use (a typo is worth a warning, not a failure).
    unused_keys: tuple[str, ...] = ()

    @property
    def run_dir(self) -> Path:
        """Where this run's outputs go: ``<output_data_path>/<run_name>``."""
        return self.output_data_path / self.run_name

    @property
    def judges_set(self) -> bool:
        """Whether the run is judged as one set: it needs the values the header check's walk saves."""
        return self.set_check is SetMode.ON and self.header_check is HeaderMode.ON


def load_config(path: str | os.PathLike, *, need_cpus: bool = False) -> Config:
    """Read, normalise and validate the config at ``path``.

    Values may be strings ("5"); relative paths resolve against the config file's folder. ``need_cpus``
    makes ``multiprocessing_cpus`` (or ``thread_count``) required, as the multiT script needs it.
    """
    cfg_path = Path(path)
    try:
        raw = json.loads(cfg_path.read_text(encoding="utf-8-sig"))
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {cfg_path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config file {cfg_path}: {exc}") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"config file {cfg_path} is not valid JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"config file {cfg_path} must hold a JSON object of keys and values")

    values = {LEGACY_KEYS.get(k, k): v for k, v in raw.items()}
    base = cfg_path.resolve().parent

    for key in REQUIRED_KEYS + (("multiprocessing_cpus",) if need_cpus else ()):
        if key not in values:
            raise ConfigError(f"config key '{key}' is missing{_did_you_mean(key, raw)}")
        if values[key] is None or str(values[key]).strip() == "":
            raise ConfigError(f"config key '{key}' is blank")

    cfg = Config(
        run_name=_run_name(values["run_name"]),
        input_data_path=_existing_dir(values, "input_data_path", base),
        pre_deID_data_path=_existing_dir(values, "pre_deID_data_path", base),
        uid_mapping_file=_existing_file(values, "uid_mapping_file", base),
        output_data_path=_resolve(values["output_data_path"], base),
        log_path=_resolve(values["log_path"], base),
        multiprocessing_cpus=_number(values, "multiprocessing_cpus", 1, int, minimum=1),
        pixel_tolerance=_number(values, "pixel_tolerance", 0.0, float, minimum=0),
        max_pixels=_number(values, "max_pixels", DEFAULT_MAX_PIXELS, int, minimum=1),
        executor=_choice(values, "executor", ExecutorKind),
        dask_scheduler_address=str(values.get("dask_scheduler_address", "") or "").strip(),
        pages=_choice(values, "pages", PageMode),
        review_decisions=_optional_file(values, "review_decisions", base),
        text_check=_text_check(values),
        header_check=_choice(values, "header_check", HeaderMode),
        profile=_profile(values),
        set_check=_choice(values, "set_check", SetMode),
        output_access=_choice(values, "output_access", OutputAccess),
        recipe=_recipe(values, base),
        unused_keys=tuple(k for k in raw if k not in CONFIG_KEYS and k not in LEGACY_KEYS),
    )
    _check_outputs_outside_inputs(cfg)
    _check_writable(cfg.output_data_path, "output_data_path", cfg.output_access)
    _check_writable(cfg.log_path, "log_path", cfg.output_access)
    return cfg


def _check_outputs_outside_inputs(cfg: Config) -> None:
    """The run folder (``output_data_path/run_name``) and the log folder must not be, or lie inside, an input
    tree: outputs written there would be read as inputs by the next run (paths resolved, links followed)."""
    for out_key, out in (("output_data_path", cfg.run_dir.resolve()), ("log_path", cfg.log_path)):
        for in_key in ("input_data_path", "pre_deID_data_path"):
            tree = getattr(cfg, in_key)
            if out == tree or tree in out.parents:
                raise ConfigError(f"config key '{out_key}' puts outputs in {out}, which lies inside {in_key} "
                                  f"({tree}): outputs must not be written into an input tree")


def _did_you_mean(key: str, raw: dict) -> str:
    close = difflib.get_close_matches(key, [k for k in raw if k not in CONFIG_KEYS], n=1)
    return f" (did you mean to write '{key}' instead of '{close[0]}'?)" if close else ""


def _resolve(value: object, base: Path) -> Path:
    return (base / os.path.expanduser(str(value).strip())).resolve()


def _run_name(value: object) -> str:
    if not isinstance(value, (str, int)) or isinstance(value, bool):
        raise ConfigError(f"config key 'run_name' must be a plain folder name, got {json.dumps(value)}")
    name = str(value).strip()
    if name in (".", "..") or any(sep in name for sep in ("/", "\\", "\0")):
        raise ConfigError(f"config key 'run_name' must be a plain folder name, got {name!r}")
    return name


def _existing_dir(values: dict, key: str, base: Path) -> Path:
    path = _resolve(values[key], base)
    if not path.is_dir():
        raise ConfigError(f"config key '{key}': folder does not exist: {path}")
    return path


def _existing_file(values: dict, key: str, base: Path) -> Path:
    """The path of a file that must exist (the mapping's content is read and validated by
    :class:`.pairing.mapping.MappingFile`, first thing in a run, before any file is indexed)."""
    path = _resolve(values[key], base)
    if not path.is_file():
        raise ConfigError(f"config key '{key}': file does not exist: {path}")
    return path


def _recipe(values: dict, base: Path) -> Recipe | None:
    value = str(values.get("recipe", "") or "").strip()
    if not value:
        return None
    from dicomimgcmp.checks.recipe import load_recipe  # only now: deid loads only when a recipe is configured

    return load_recipe(value, base)


def _profile(values: dict) -> tuple[str, ...] | None:
    """The config key ``profile``: None for "off", () for "auto" (the default), else the options named."""
    value = values.get("profile", "auto")
    words = value if isinstance(value, list) else str(value).replace(",", " ").split()
    names = tuple(str(word).strip().lower() for word in words if str(word).strip())
    if names in ((), ("auto",)):
        return ()
    if names == ("off",):
        return None
    unknown = [name for name in names if name not in PROFILE_OPTIONS]
    if unknown:
        raise ConfigError(f"config key 'profile': unknown option {unknown[0]!r}; \"auto\", \"off\" or a list of "
                          f"{', '.join(PROFILE_OPTIONS)}")
    return tuple(name for name in PROFILE_OPTIONS if name in names)


def _text_check(values: dict) -> TextCheck:
    """The text check's settings; with the check on, rapidocr must be installed (it is imported only then)."""
    mode = _choice(values, "text_check", TextMode)
    raw = values.get("text_modalities", list(DEFAULT_MODALITIES))
    if isinstance(raw, str):
        raw = [part for part in re.split(r"[,\s]+", raw) if part]
    if not isinstance(raw, list) or not all(isinstance(m, str) for m in raw) or not raw:
        raise ConfigError(f"config key 'text_modalities' must be a list of modalities or \"*\", got "
                          f"{json.dumps(values.get('text_modalities'))}")
    modalities = None if "*" in raw else tuple(m.strip().upper() for m in raw)
    if mode is not TextMode.OFF and not installed("rapidocr"):
        raise MissingDependency(f"config key 'text_check' is \"{mode}\" but rapidocr is not installed: "
                                f"{install_hint('rapidocr')}")
    return TextCheck(mode, modalities)


def _optional_file(values: dict, key: str, base: Path) -> Path | None:
    return _existing_file(values, key, base) if str(values.get(key) or "").strip() else None


def _number(values: dict, key: str, default: float, kind: type[_N], *, minimum: float) -> _N:
    """A finite number >= ``minimum``, from a number or a string; ``kind`` int also takes integral floats
    (2.0, "2.0"). NaN and infinity are refused: a tolerance of NaN would hide every change."""
    value = values.get(key, default)
    try:
        number = float(str(value).strip()) if not isinstance(value, bool) else math.nan
    except ValueError:
        number = math.nan
    if not math.isfinite(number) or (kind is int and not number.is_integer()):
        what = "with no fraction" if kind is int else "(finite)"
        raise ConfigError(f"config key '{key}' must be a number {what}, got {json.dumps(value)}")
    if number < minimum:
        raise ConfigError(f"config key '{key}' must be at least {minimum}, got {json.dumps(value)}")
    return kind(number)


def _choice(values: dict, key: str, choices: type[_W]) -> _W:
    """The key's word among ``choices`` (the first when absent)."""
    words = [choice.value for choice in choices]
    value = str(values.get(key, words[0])).strip().lower()
    if value not in words:
        raise ConfigError(f"config key '{key}' must be one of {', '.join(words)}, got {values[key]!r}")
    return choices(value)


_W = TypeVar("_W", bound=Word)
_N = TypeVar("_N", int, float)


def _check_writable(path: Path, key: str, access: OutputAccess) -> None:
    try:
        make_dirs(path, access)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as exc:
        raise ConfigError(f"config key '{key}': cannot write to {path}: {exc.strerror or exc}") from None
