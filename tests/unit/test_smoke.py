"""Template, code and events cannot drift apart: every function is wired, imports, has events."""

from __future__ import annotations

from importlib import import_module
from pathlib import Path

import pytest

from local import template
from tests.support import EVENTS, ROOT

FOLDERS = sorted(p.name for p in (ROOT / "functions").iterdir() if (p / "app.py").exists())
FUNCTIONS = template.functions()


def test_every_function_folder_is_in_the_template():
    assert sorted(f.folder for f in FUNCTIONS.values()) == FOLDERS


@pytest.mark.parametrize("folder", FOLDERS)
def test_function_imports_and_has_an_event(folder):
    module = import_module(f"functions.{folder}.app")
    assert callable(module.lambda_handler)
    assert (EVENTS / f"{folder}.json").exists()


@pytest.mark.parametrize("function", FUNCTIONS.values(), ids=lambda f: f.logical_id)
def test_names_agree(function):
    pascal = "".join(part.title() for part in function.folder.split("_"))
    assert function.logical_id == f"{pascal}Function"
    assert Path(function.code_uri).as_posix().rstrip("/") == f"functions/{function.folder}"


def test_every_api_event_sample_matches_its_route():
    import json

    for route in template.api_routes():
        sample = json.loads((EVENTS / f"{route.function.folder}.json").read_text())
        assert (sample["httpMethod"], sample["resource"]) == (route.method, route.path)
        assert route.pattern.match(sample["path"])


def test_layer_package_is_the_one_sam_builds():
    layer = template.resources("AWS::Serverless::LayerVersion")["CommonLayer"]
    assert layer["ContentUri"].rstrip("/") == "layers/common"
    assert (ROOT / "layers/common/requirements.txt").exists()
    location = import_module("boxoffice").__file__
    assert location is not None
    assert location.startswith(str(ROOT / "layers/common/boxoffice"))
