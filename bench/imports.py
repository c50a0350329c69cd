"""Cold import time of each function, as Lambda pays it on a cold start.

Each function's module is imported in a fresh interpreter from what `sam build` made
(.aws-sam/build: the layer as /opt/python, the function's own folder), with bytecode writing
off as on Lambda's read-only file system: a layer without compiled bytecode is compiled on
every cold start. Without a build, the source tree and the dev venv are used instead.
Prints the median of RUNS imports per function, in milliseconds.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

from local import template

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / ".aws-sam" / "build"
RUNS = int(os.environ.get("BENCH_IMPORT_RUNS", "5"))

_PROBE = (
    "import time, importlib, json\n"
    "start = time.perf_counter()\n"
    "importlib.import_module('app')\n"
    "elapsed = time.perf_counter() - start\n"
    "import sys\n"
    "print(json.dumps({'ms': elapsed * 1000, 'modules': len(sys.modules),"
    " 'boto3': 'boto3' in sys.modules, 'xray': 'aws_xray_sdk' in sys.modules}))\n"
)


def _environment(function: template.Function) -> dict[str, str]:
    env = {k: v for k, v in function.environment.items() if isinstance(v, str)}
    # Refs and GetAtts are resolved at deploy time: any non-empty value will do here.
    env |= {k: f"bench-{k.lower()}" for k, v in function.environment.items() if isinstance(v, dict)}
    return {
        **env,
        "PATH": os.environ.get("PATH", ""),
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_LAMBDA_FUNCTION_NAME": function.logical_id,
        "PYTHONDONTWRITEBYTECODE": "1",
    }


def import_time(function: template.Function) -> dict[str, object]:
    built = BUILD / function.logical_id
    if built.is_dir() and (BUILD / "CommonLayer" / "python").is_dir():
        folder, path = built, [str(BUILD / "CommonLayer" / "python"), str(built)]
        python = os.environ.get("BENCH_LAMBDA_PYTHON", sys.executable)
        isolated = ["-S"]  # the layer alone, as /opt/python: not the dev venv's packages
    else:
        folder, path = ROOT / function.code_uri, [str(ROOT / function.code_uri)]
        python, isolated = sys.executable, []
    env = _environment(function) | {"PYTHONPATH": os.pathsep.join(path)}
    samples = []
    for _ in range(RUNS):
        done = subprocess.run(
            [python, *isolated, "-c", _PROBE],
            cwd=folder,
            env=env,
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        )
        samples.append(json.loads(done.stdout.strip().splitlines()[-1]))
    last = samples[-1]
    return {
        "ms": statistics.median(float(s["ms"]) for s in samples),
        "modules": last["modules"],
        "boto3": last["boto3"],
        "xray": last["xray"],
        "source": "build" if folder == built else "source",
    }


def main() -> None:
    print(f"cold import per function (median of {RUNS}, ms):")
    total = []
    for function in template.functions().values():
        found = import_time(function)
        total.append(float(str(found["ms"])))
        boto3, xray = ("yes" if found[k] else "no" for k in ("boto3", "xray"))
        print(
            f"  {function.logical_id:<32} {found['ms']:7.0f} ms  {found['modules']:>4} modules"
            f"  boto3={boto3:<3} xray={xray:<3} ({found['source']})"
        )
    print(f"  {'median':<32} {statistics.median(total):7.0f} ms")


if __name__ == "__main__":
    main()
