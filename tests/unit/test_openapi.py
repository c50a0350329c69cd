"""The OpenAPI document: generated from the functions' resolvers, shipped up to date, and
describing exactly the routes the template deploys."""

from __future__ import annotations

import json

from local import openapi, template


def test_the_shipped_document_is_the_generated_one():
    assert openapi.OUTPUT.read_text() == openapi.rendered(), "run `make openapi`"


def test_its_paths_and_methods_are_the_templates_api_events():
    document = json.loads(openapi.OUTPUT.read_text())
    documented = {
        (method.upper(), path) for path, methods in document["paths"].items() for method in methods
    }
    deployed = {(r.method, r.path) for r in template.api_routes(parameters={})}
    assert documented == deployed


def test_under_the_test_provider_complete_is_documented_too():
    paths = openapi.document({"PaymentProvider": "test"})["paths"]
    assert "post" in paths["/checkouts/{checkout_id}/complete"]
    assert "/checkouts/{checkout_id}/complete" not in openapi.document()["paths"]


def test_every_operation_documents_its_refusals_as_error_bodies():
    document = openapi.document()
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            answers = operation["responses"]
            assert "422" not in answers, (method, path)
            for status in ("400", "503"):
                schema = answers[status]["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/ErrorBody"}, (method, path)
