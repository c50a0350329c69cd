"""The template as CloudFormation receives it: transformed by samtranslator (as `sam validate`
and `sam deploy` do), then its Conditions applied for given parameter values."""

from __future__ import annotations

import json
import os
import subprocess
from functools import cache
from typing import Any

import pytest

from local import template
from tests.support import ROOT

SAM_PYTHON = ROOT / ".tools" / "sam" / "bin" / "python"


@cache
def transformed() -> str:
    assert SAM_PYTHON.exists(), "make test builds the aws-sam-cli tools venv first"
    done = subprocess.run(
        [str(SAM_PYTHON), str(ROOT / "tests" / "sam_transform.py"), str(template.TEMPLATE)],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "AWS_DEFAULT_REGION": "us-east-1"},
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def _resolve(node: Any, active: dict[str, bool]) -> Any:
    """Fn::If decided, AWS::NoValue dropped."""
    if isinstance(node, dict):
        if set(node) == {"Fn::If"}:
            name, yes, no = node["Fn::If"]
            return _resolve(yes if active[name] else no, active)
        resolved = {k: _resolve(v, active) for k, v in node.items()}
        return {k: v for k, v in resolved.items() if v != {"Ref": "AWS::NoValue"}}
    if isinstance(node, list):
        return [v for v in (_resolve(v, active) for v in node) if v != {"Ref": "AWS::NoValue"}]
    return node


def deployed(**parameters: str) -> dict[str, Any]:
    """The resources CloudFormation would create with these parameter values."""
    stack = json.loads(transformed())
    values = template.parameter_values(parameters)
    named = stack.get("Conditions", {})
    active = {name: bool(template._evaluate(body, values, named)) for name, body in named.items()}
    resources = {
        name: body
        for name, body in stack["Resources"].items()
        if "Condition" not in body or active[body["Condition"]]
    }
    resolved: dict[str, Any] = _resolve(resources, active)
    return resolved


def api_paths(resources: dict[str, Any]) -> set[str]:
    [api] = [r for r in resources.values() if r["Type"] == "AWS::ApiGateway::RestApi"]
    return {
        f"{method.upper()} {path}"
        for path, methods in api["Properties"]["Body"]["paths"].items()
        for method in methods
        if method != "options"
    }


def test_under_stripe_no_route_books_without_paying():
    resources = deployed()  # PaymentProvider defaults to stripe
    assert "POST /checkouts/{checkout_id}/complete" not in api_paths(resources)
    assert "CompleteCheckoutFunction" not in resources
    assert "complete_checkout" not in json.dumps(resources)
    assert "POST /checkouts/{checkout_id}/payment" in api_paths(resources)


def test_the_test_provider_brings_complete_back():
    resources = deployed(PaymentProvider="test")
    assert "POST /checkouts/{checkout_id}/complete" in api_paths(resources)
    assert resources["CompleteCheckoutFunction"]["Type"] == "AWS::Lambda::Function"


def test_the_local_gateway_serves_what_aws_would():
    for provider in ("stripe", "test"):
        parameters = {"PaymentProvider": provider}
        local = {f"{r.method} {r.path}" for r in template.api_routes(parameters=parameters)}
        assert local == api_paths(deployed(**parameters))


@pytest.mark.parametrize(
    "name",
    [
        "CancelCheckoutFunction",
        "HandleStripeWebhookFunction",
        "SweepExpiredHoldsFunction",
        "ReleaseExpiredSessionsFunction",
        "StartPaymentFunction",
    ],
)
def test_stripe_callers_read_the_key_from_secrets_manager(name):
    function = deployed()[name]["Properties"]
    assert function["Environment"]["Variables"]["STRIPE_SECRET_ARN"] == {"Ref": "StripeSecretKey"}
    assert function["Environment"]["Variables"]["PAYMENT_PROVIDER"] == {"Ref": "PaymentProvider"}


def test_starting_a_payment_runs_outside_the_vpc_and_the_rest_inside():
    resources = deployed()
    functions = {k: v for k, v in resources.items() if v["Type"] == "AWS::Lambda::Function"}
    outside = {name for name, f in functions.items() if "VpcConfig" not in f["Properties"]}
    assert outside == {"StartPaymentFunction"}


CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"  # AWS managed CachingDisabled


def test_event_reads_are_cached_at_the_edge_and_checkouts_never():
    resources = deployed()
    config = resources["WebDistribution"]["Properties"]["DistributionConfig"]
    behaviours = {b["PathPattern"]: b for b in config["CacheBehaviors"]}
    for pattern in ("/events", "/events/*"):
        assert behaviours[pattern]["CachePolicyId"] == {"Ref": "EventsCachePolicy"}
        assert behaviours[pattern]["OriginRequestPolicyId"] == {"Ref": "ApiOriginRequestPolicy"}
    assert behaviours["/checkouts/*"]["CachePolicyId"] == CACHING_DISABLED
    policy = resources["EventsCachePolicy"]["Properties"]["CachePolicyConfig"]
    key = policy["ParametersInCacheKeyAndForwardedToOrigin"]
    assert key["HeadersConfig"] == {"HeaderBehavior": "none"}  # never keyed on Authorization
    assert key["CookiesConfig"] == {"CookieBehavior": "none"}
    assert (policy["DefaultTTL"], policy["MaxTTL"]) == (0, 600)  # what the API says, at most
    forwarded = resources["ApiOriginRequestPolicy"]["Properties"]["OriginRequestPolicyConfig"]
    assert "CloudFront-Viewer-Address" in forwarded["HeadersConfig"]["Headers"]
