"""The fan's page: web/ is served at the root as static files, and nothing outside it."""

from __future__ import annotations

import pytest
from werkzeug.test import Client

from tests.local.support import FakeInvoker, body, gateway
from tests.support import ROOT


def test_the_page_and_its_files_are_served():
    client = Client(gateway(FakeInvoker()))
    page = client.get("/")
    assert page.status_code == 200
    assert page.headers["Content-Type"].startswith("text/html")
    assert page.get_data() == (ROOT / "web" / "index.html").read_bytes()
    script = client.get("/app.js")
    assert script.status_code == 200
    assert script.headers["Content-Type"].startswith("text/javascript")
    assert script.get_data() == (ROOT / "web" / "app.js").read_bytes()
    assert client.get("/styles.css").headers["Content-Type"].startswith("text/css")
    assert client.head("/app.js").status_code == 200
    assert client.post("/app.js").status_code == 404


@pytest.mark.parametrize(
    "path",
    [
        "/../pyproject.toml",
        "/%2e%2e/pyproject.toml",
        "/..%2fpyproject.toml",
        "/%2e%2e%2ftemplate.yaml",
        "/web/../template.yaml",
        "//etc/passwd",
        "/.gitignore",
        "/%00",
    ],
)
def test_no_file_outside_web_is_served(path):
    answer = Client(gateway(FakeInvoker())).get(path)
    assert answer.status_code == 404
    assert body(answer)["error"] == "not_found"
