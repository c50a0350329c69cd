"""The fan page's files: the media types a browser needs, and always revalidated."""

from __future__ import annotations

from pathlib import Path

import pytest
from werkzeug.test import Client

from local.gateway import Gateway

ROOT = Path(__file__).resolve().parents[2]
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


class NoFunctions:
    def invoke(self, function, event, *, timeout=None):
        raise AssertionError("a file of the page reached a function")


@pytest.mark.parametrize("suffix", sorted(MEDIA_TYPES))
def test_each_kind_of_file_has_its_media_type(tmp_path, suffix):
    (tmp_path / f"file{suffix}").write_bytes(b"content")
    client = Client(Gateway([], NoFunctions(), web_root=tmp_path))
    answer = client.get(f"/file{suffix}")
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == MEDIA_TYPES[suffix]
    assert answer.get_data() == b"content"


def test_the_pages_files_are_revalidated_and_never_sniffed():
    client = Client(Gateway([], NoFunctions()))
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
