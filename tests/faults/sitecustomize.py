"""Fault injection for the robustness tests, active only when a test puts this folder on PYTHONPATH.

DICOMIMGCMP_FAULT=kill:NAME   a worker process kills itself (SIGKILL) when it compares a file whose name has NAME
DICOMIMGCMP_FAULT=once:NAME   the same, only the first time (a marker file next to the test's tree remembers it)
DICOMIMGCMP_FAULT=slow:SECONDS  every comparison sleeps that long (to interrupt a run mid-way)
DICOMIMGCMP_FAULT=scan-kill:NAME  a worker process kills itself when the fast header scan reads a file named NAME
DICOMIMGCMP_FAULT=no-module:NAME  the module NAME cannot be imported (as if not installed); importing it fails
DICOMIMGCMP_FAULT=pdf-pages   the page writer raises (no PDF can be drawn)
DICOMIMGCMP_FAULT=pdf-plan    planning a PDF raises (its pages cannot be numbered)
"""

import os
import signal
import sys
import time

_fault = os.environ.get("DICOMIMGCMP_FAULT", "")
if _fault.startswith("no-module:"):
    class _NotInstalled:
        """A meta path finder that refuses one module, in this process and its children (they inherit it)."""

        def find_spec(self, name, path=None, target=None):
            if name.partition(".")[0] == _fault.partition(":")[2]:
                raise ModuleNotFoundError(f"No module named {name!r} (hidden by the test)", name=name)
            return None

    sys.meta_path.insert(0, _NotInstalled())
elif _fault in ("pdf-pages", "pdf-plan"):
    import dicomimgcmp.output.pdf.write as _write
    import dicomimgcmp.run.ordered_outputs as _outputs

    def _broken(*args, **kwargs):
        raise RuntimeError(f"fault injected by the test ({_fault})")

    if _fault == "pdf-pages":
        _write.write_pages = _broken  # where the PDF writer looks it up
    else:
        _outputs.plan_pdf = _broken
elif _fault:
    import dicomimgcmp.run.tasks as _compare  # where the workers look compare_pair up

    _kind, _, _arg = _fault.partition(":")
    _original = _compare.compare_pair

    def _faulty(deid, source, *args, **kwargs):
        if _kind in ("kill", "once") and _arg in deid.path:
            marker = os.environ["DICOMIMGCMP_FAULT_MARKER"]
            if _kind == "kill" or not os.path.exists(marker):
                open(marker, "w").close()
                os.kill(os.getpid(), signal.SIGKILL)
        if _kind == "slow":
            time.sleep(float(_arg))
        return _original(deid, source, *args, **kwargs)

    _compare.compare_pair = _faulty

    if _kind == "scan-kill":
        import dicomimgcmp.read.fastscan as _scan

        _original_scan = _scan.scan_record

        def _crashing_scan(path, *args, **kwargs):
            if _arg in path:
                os.kill(os.getpid(), signal.SIGKILL)  # as dicomsdl would on a file it cannot handle
            return _original_scan(path, *args, **kwargs)

        _scan.scan_record = _crashing_scan
