"""The fan's page: web/ is served at the root as static files, with the media types a
browser needs and always revalidated, and nothing outside it."""

from __future__ import annotations

import pytest
from werkzeug.test import Client

from tests.local.support import FakeInvoker, body, gateway
from tests.support import ROOT

MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".map": "application/json",
    ".png": "image/png",
    ".woff2": "font/woff2",
}


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


@pytest.mark.parametrize("suffix", sorted(MEDIA_TYPES))
def test_each_kind_of_file_has_its_media_type(tmp_path, suffix):
    (tmp_path / f"file{suffix}").write_bytes(b"content")
    client = Client(gateway(FakeInvoker(), web_root=tmp_path))
    answer = client.get(f"/file{suffix}")
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == MEDIA_TYPES[suffix]
    assert answer.get_data() == b"content"


def test_the_pages_files_are_revalidated_and_never_sniffed():
    client = Client(gateway(FakeInvoker()))
    files = [p for p in (ROOT / "web").rglob("*") if p.is_file()]
    assert files
    for path in files:
        url = "/" + path.relative_to(ROOT / "web").as_posix()
        answer = client.get(url)
        assert answer.status_code == 200, url
        assert answer.headers["Content-Type"] == MEDIA_TYPES[path.suffix], url
        assert answer.headers["Cache-Control"] == "no-cache"
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
        assert "ETag" not in answer.headers
        assert answer.get_data() == path.read_bytes()
        # a revalidation gets the whole file again, as the page is edited while it runs
        again = client.get(url, headers={"If-Modified-Since": answer.headers["Last-Modified"]})
        assert again.status_code == 200
