"""Cold import time of each function, as Lambda pays it on a cold start.

Builds the common layer with layers/common/Makefile (the build `sam build` runs) for this
machine's architecture into a temporary folder, and a copy of it without bytecode (what
SAM's python builder shipped). Each function's module is then imported in a fresh
interpreter with only that layer on the path (as /opt/python) and bytecode writing off (as
on Lambda's read-only file system), in Lambda's environment (so the tracer patches).
Prints the median of RUNS imports per function, in milliseconds, for both layers.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from local import template

ROOT = Path(__file__).resolve().parent.parent
RUNS = int(os.environ.get("BENCH_IMPORT_RUNS", "5"))

_PROBE = (
    "import time, importlib, json, sys\n"
    "start = time.perf_counter()\n"
    "importlib.import_module('app')\n"
    "elapsed = time.perf_counter() - start\n"
    "print(json.dumps({'ms': elapsed * 1000, 'modules': len(sys.modules),"
    " 'boto3': 'boto3' in sys.modules, 'xray': 'aws_xray_sdk.core' in sys.modules,"
    " 'patched': sorted(m.split('.')[2] for m in sys.modules"
    " if m.startswith('aws_xray_sdk.ext.') and m.count('.') == 2"
    " and m.split('.')[2] not in ('util', 'boto_utils', 'dbapi2'))}))\n"
)


def build_layers(into: Path) -> tuple[Path, Path]:
    """(the layer as layers/common/Makefile builds it, the same without bytecode)."""
    compiled = into / "compiled"
    subprocess.run(
        [
            "make",
            "--silent",
            "-C",
            str(ROOT / "layers" / "common"),
            "build-CommonLayer",
            f"ARTIFACTS_DIR={compiled}",
            f"PLATFORM={platform.machine()}",
            f"PYTHON={sys.executable}",
        ],
        check=True,
        timeout=900,
    )
    source_only = into / "source-only"
    shutil.copytree(compiled, source_only, ignore=shutil.ignore_patterns("__pycache__"))
    return compiled / "python", source_only / "python"


def _environment(function: template.Function, layer: Path) -> dict[str, str]:
    env = {k: v for k, v in function.environment.items() if isinstance(v, str)}
    # Refs and GetAtts are resolved at deploy time: any non-empty value will do here.
    env |= {k: f"bench-{k.lower()}" for k, v in function.environment.items() if isinstance(v, dict)}
    folder = ROOT / function.code_uri
    return env | {
        "PATH": os.environ.get("PATH", ""),
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_LAMBDA_FUNCTION_NAME": function.logical_id,
        "LAMBDA_TASK_ROOT": str(folder),
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONPATH": os.pathsep.join([str(layer), str(folder)]),
    }


def import_time(function: template.Function, layer: Path) -> dict[str, object]:
    samples = []
    for _ in range(RUNS):
        done = subprocess.run(
            # -S: the layer alone, not the dev venv's site-packages.
            [sys.executable, "-S", "-c", _PROBE],
            cwd=ROOT / function.code_uri,
            env=_environment(function, layer),
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        )
        samples.append(json.loads(done.stdout.strip().splitlines()[-1]))
    return samples[-1] | {"ms": statistics.median(float(s["ms"]) for s in samples)}


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="boxoffice-layer-") as folder:
        compiled, source_only = build_layers(Path(folder))
        print(f"cold import per function (median of {RUNS}, ms), layer without / with bytecode:")
        before, after = [], []
        for function in template.functions().values():
            slow = import_time(function, source_only)
            fast = import_time(function, compiled)
            before.append(float(str(slow["ms"])))
            after.append(float(str(fast["ms"])))
            boto3 = "yes" if fast["boto3"] else "no"
            patched = ",".join(str(m) for m in fast["patched"]) or "-"  # type: ignore[attr-defined]
            print(
                f"  {function.logical_id:<32} {slow['ms']:6.0f} -> {fast['ms']:5.0f} ms"
                f"  {fast['modules']:>4} modules  boto3={boto3:<3} x-ray patches={patched}"
            )
        print(
            f"  {'median':<32} {statistics.median(before):6.0f} -> "
            f"{statistics.median(after):5.0f} ms"
        )


if __name__ == "__main__":
    main()
