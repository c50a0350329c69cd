"""What a production stack needs, checked on the template as CloudFormation receives it
(transformed by samtranslator, Conditions applied): alarms that reach someone, logs that
expire, the WAF in front, the API closed to all but CloudFront, safe deploys, least
privilege and migrations on deploy."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from local import template
from tests.unit.test_template import api_paths, deployed

PROVIDERS = ["stripe", "test"]
PSEUDO = {"AWS::Region", "AWS::AccountId", "AWS::Partition", "AWS::StackName", "AWS::URLSuffix"}
PSEUDO |= {"AWS::NoValue", "AWS::StackId"}


def of_type(resources: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {name: r for name, r in resources.items() if r["Type"] == kind}


def references(node: Any) -> set[str]:
    """Every logical id or parameter that Ref, GetAtt, Sub or DependsOn names."""
    found: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "Ref" and isinstance(value, str):
                found.add(value)
            elif key == "Fn::GetAtt":
                found.add(value[0] if isinstance(value, list) else value.split(".")[0])
            elif key == "Fn::Sub":
                text, names = (value, {}) if isinstance(value, str) else value
                found |= {
                    n.split(".")[0]
                    for n in re.findall(r"\$\{([^!}][^}]*)\}", text)
                    if n.split(".")[0] not in names
                }
                found |= references(names)
            elif key == "DependsOn":
                found |= {value} if isinstance(value, str) else set(value)
            else:
                found |= references(value)
    elif isinstance(node, list):
        for value in node:
            found |= references(value)
    return found


@pytest.mark.parametrize("provider", PROVIDERS)
def test_nothing_refers_to_a_resource_the_stack_would_not_make(provider):
    resources = deployed(PaymentProvider=provider)
    known = set(resources) | set(template.load()["Parameters"]) | PSEUDO
    dangling = {
        name: sorted(references(body) - known)
        for name, body in resources.items()
        if references(body) - known
    }
    assert dangling == {}


@pytest.mark.parametrize("provider", PROVIDERS)
def test_every_alarm_tells_the_alarm_topic(provider):
    resources = deployed(PaymentProvider=provider)
    alarms = of_type(resources, "AWS::CloudWatch::Alarm")
    assert len(alarms) > 20
    for name, alarm in alarms.items():
        assert {"Ref": "AlarmTopic"} in alarm["Properties"].get("AlarmActions", []), name
        assert {"Ref": "AlarmTopic"} in alarm["Properties"].get("OKActions", []), name
    with_email = deployed(AlarmEmail="oncall@example.com")
    [subscription] = of_type(with_email, "AWS::SNS::Subscription").values()
    assert subscription["Properties"]["Endpoint"] == {"Ref": "AlarmEmail"}
    assert "AlarmEmailSubscription" not in resources  # no address given, no subscription


@pytest.mark.parametrize("provider", PROVIDERS)
def test_every_function_has_errors_and_throttles_alarms(provider):
    resources = deployed(PaymentProvider=provider)
    alarms = of_type(resources, "AWS::CloudWatch::Alarm").values()
    watched = {
        (a["Properties"]["MetricName"], a["Properties"]["Dimensions"][0]["Value"]["Ref"])
        for a in alarms
        if a["Properties"]["Namespace"] == "AWS/Lambda"
    }
    for function in of_type(resources, "AWS::Lambda::Function"):
        assert ("Errors", function) in watched
        assert ("Throttles", function) in watched


def test_the_issue_s_alarms_are_there():
    alarms = of_type(deployed(), "AWS::CloudWatch::Alarm").values()
    metrics = {(a["Properties"]["Namespace"], a["Properties"]["MetricName"]) for a in alarms}
    assert {
        ("AWS/ApiGateway", "4XXError"),
        ("AWS/ApiGateway", "5XXError"),
        ("AWS/ApiGateway", "Latency"),
        ("AWS/RDS", "CPUUtilization"),
        ("AWS/RDS", "DatabaseConnections"),
        ("AWS/SQS", "ApproximateNumberOfMessagesVisible"),
        ("BoxOffice", "PaidAfterExpiry"),
        ("BoxOffice", "RefundsIssued"),
    } <= metrics


@pytest.mark.parametrize("provider", PROVIDERS)
def test_every_function_logs_to_a_group_that_expires(provider):
    resources = deployed(PaymentProvider=provider)
    for name, function in of_type(resources, "AWS::Lambda::Function").items():
        group = function["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
        assert resources[group]["Type"] == "AWS::Logs::LogGroup", name
        assert resources[group]["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    for name, group in of_type(resources, "AWS::Logs::LogGroup").items():
        assert "RetentionInDays" in group["Properties"], name


def test_the_api_writes_access_logs_to_a_group_that_expires():
    resources = deployed()
    [stage] = of_type(resources, "AWS::ApiGateway::Stage").values()
    target = stage["Properties"]["AccessLogSetting"]["DestinationArn"]["Fn::GetAtt"][0]
    assert resources[target]["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    assert "Authorization" not in stage["Properties"]["AccessLogSetting"]["Format"]
    assert of_type(resources, "AWS::ApiGateway::Account")


def test_one_dashboard_shows_the_on_sale():
    [dashboard] = of_type(deployed(), "AWS::CloudWatch::Dashboard").values()
    text, names = dashboard["Properties"]["DashboardBody"]["Fn::Sub"]
    body = json.loads(re.sub(r"\$\{[^}]+\}", "X", text))
    shown = json.dumps(body)
    for metric in ("CheckoutsCreated", "CheckoutsAdmitted", "Errors", "Latency", "p99"):
        assert metric in shown
    assert "ApproximateNumberOfMessagesVisible" in shown
    assert set(names) == {"Queue", "DeadLetters", "Database"}


def test_the_waf_guards_the_distribution():
    resources = deployed()
    distribution = resources["WebDistribution"]["Properties"]["DistributionConfig"]
    acl_name = distribution["WebACLId"]["Fn::GetAtt"][0]
    acl = resources[acl_name]["Properties"]
    assert acl["Scope"] == "CLOUDFRONT"
    rules = {rule["Name"]: rule for rule in acl["Rules"]}
    assert rules["RatePerIp"]["Statement"]["RateBasedStatement"]["AggregateKeyType"] == "IP"
    managed = {
        r["Statement"]["ManagedRuleGroupStatement"]["Name"]
        for r in acl["Rules"]
        if "ManagedRuleGroupStatement" in r["Statement"]
    }
    assert {"AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet"} <= managed


def test_the_api_takes_only_cloudfront_stripe_and_signed_admin_calls():
    resources = deployed()
    [association] = of_type(resources, "AWS::WAFv2::WebACLAssociation").values()
    acl = resources[association["Properties"]["WebACLArn"]["Fn::GetAtt"][0]]["Properties"]
    assert "/stages/v1" in association["Properties"]["ResourceArn"]["Fn::Sub"]
    assert association["DependsOn"] == "BoxOfficeApiv1Stage"
    assert acl["Scope"] == "REGIONAL"
    assert "Block" in acl["DefaultAction"]
    allowed = [r for r in acl["Rules"] if "Allow" in r.get("Action", {})]
    assert [r["Name"] for r in allowed] == ["FromCloudFront", "StripeWebhook", "SignedAdmin"]
    header = allowed[0]["Statement"]["ByteMatchStatement"]
    [api_origin] = [
        o
        for o in resources["WebDistribution"]["Properties"]["DistributionConfig"]["Origins"]
        if o["Id"] == "api"
    ]
    [sent] = api_origin["OriginCustomHeaders"]
    assert sent["HeaderName"] == header["FieldToMatch"]["SingleHeader"]["Name"]
    assert sent["HeaderValue"] == header["SearchString"]
    assert "resolve:secretsmanager" in json.dumps(sent["HeaderValue"])


def test_only_the_admin_route_needs_iam_and_every_other_route_says_so():
    resources = deployed(PaymentProvider="test")
    [api] = of_type(resources, "AWS::ApiGateway::RestApi").values()
    for path, methods in api["Properties"]["Body"]["paths"].items():
        for method, spec in methods.items():
            if method == "options":
                assert "security" not in spec
                continue
            expected = "AWS_IAM" if (method, path) == ("post", "/events") else "NONE"
            assert spec["security"] == [{expected: []}], (method, path)


def test_complete_is_absent_under_stripe_with_all_that_belongs_to_it():
    resources = deployed(PaymentProvider="stripe")
    assert "POST /checkouts/{checkout_id}/complete" not in api_paths(resources)
    assert not [name for name in resources if name.startswith("CompleteCheckout")]


def test_api_functions_shift_traffic_gradually_and_roll_back_on_errors():
    resources = deployed()
    groups = of_type(resources, "AWS::CodeDeploy::DeploymentGroup")
    for name in of_type(resources, "AWS::Lambda::Function"):
        if not any("ApiPermission" in r for r in resources if r.startswith(name)):
            continue
        assert f"{name}Aliaslive" in resources, name
        group = groups[f"{name}DeploymentGroup"]["Properties"]
        alarms = [a["Name"]["Ref"] for a in group["AlarmConfiguration"]["Alarms"]]
        assert f"{name.removesuffix('Function')}ErrorsAlarm" in alarms
        assert "DEPLOYMENT_STOP_ON_ALARM" in group["AutoRollbackConfiguration"]["Events"]


def test_stage_throttling_has_a_default_and_per_method_limits():
    [stage] = of_type(deployed(), "AWS::ApiGateway::Stage").values()
    settings = {
        (s["HttpMethod"], s["ResourcePath"]): s for s in stage["Properties"]["MethodSettings"]
    }
    assert ("*", "/*") in settings
    assert ("POST", "/~1events~1{event_id}~1checkouts") in settings
    for s in settings.values():
        assert s["ThrottlingBurstLimit"] >= s["ThrottlingRateLimit"] > 0


def _statements(role: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        statement
        for policy in role["Properties"].get("Policies", [])
        for statement in policy["PolicyDocument"]["Statement"]
    ]


def test_functions_get_only_the_dynamodb_calls_they_make():
    resources = deployed(PaymentProvider="test")
    for name, role in of_type(resources, "AWS::IAM::Role").items():
        for statement in _statements(role):
            actions = (
                statement["Action"]
                if isinstance(statement["Action"], list)
                else [statement["Action"]]
            )
            dynamodb = {a for a in actions if a.startswith("dynamodb:")}
            assert not {a for a in dynamodb if "*" in a}, name
            assert not dynamodb & {"dynamodb:Scan", "dynamodb:BatchWriteItem"}, name
    create = _statements(resources["CreateCheckoutFunctionRole"])
    assert {"dynamodb:PutItem", "dynamodb:DeleteItem"} in [set(s["Action"]) for s in create]


def test_only_the_migrations_log_in_as_the_master_user():
    resources = deployed(PaymentProvider="test")
    for name, function in of_type(resources, "AWS::Lambda::Function").items():
        env = function["Properties"]["Environment"]["Variables"]
        expected = "DbSecret" if name == "MigrateDatabaseFunction" else "AppDbSecret"
        assert env["DB_SECRET_ARN"] == {"Ref": expected}, name
    readers = {
        name
        for name, role in of_type(resources, "AWS::IAM::Role").items()
        for statement in _statements(role)
        if "DbSecret" in references(statement.get("Resource"))
    }
    assert readers == {"MigrateDatabaseFunctionRole", "DbProxyRole"}
    auth = resources["DbProxy"]["Properties"]["Auth"]
    assert [a["SecretArn"] for a in auth] == [{"Ref": "DbSecret"}, {"Ref": "AppDbSecret"}]


def test_migrations_run_on_deploy_once_the_proxy_is_ready():
    resources = deployed()
    [migrations] = [r for r in resources.values() if r["Type"] == "Custom::DatabaseMigrations"]
    props = migrations["Properties"]
    assert props["ServiceToken"] == {"Fn::GetAtt": ["MigrateDatabaseFunction", "Arn"]}
    # A new layer (where the migrations ship) is an Update: they run again.
    layer = props["Layer"]["Ref"]
    assert resources[layer]["Type"] == "AWS::Lambda::LayerVersion"
    assert layer.startswith("CommonLayer")  # SAM names each new layer version anew
    assert "DbProxyTargetGroup" in migrations["DependsOn"]


def test_multi_az_and_performance_insights_are_parameters():
    on = deployed(DBMultiAZ="true", DBPerformanceInsights="true")["Database"]["Properties"]
    off = deployed()["Database"]["Properties"]
    assert (on["MultiAZ"], on["EnablePerformanceInsights"]) == (True, True)
    assert (off["MultiAZ"], off["EnablePerformanceInsights"]) == (False, False)
    assert "PerformanceInsightsRetentionPeriod" not in off


def test_the_layer_is_built_with_bytecode_for_the_functions_architecture():
    layer = template.load()["Resources"]["CommonLayer"]
    functions = template.load()["Globals"]["Function"]
    assert layer["Metadata"]["BuildMethod"] == "makefile"
    [arch] = functions["Architectures"]
    assert layer["Metadata"]["BuildArchitecture"] == arch
    assert layer["Properties"]["CompatibleArchitectures"] == [arch]
    makefile = (template.TEMPLATE.parent / "layers" / "common" / "Makefile").read_text()
    wheel_arch = {"arm64": "aarch64", "x86_64": "x86_64"}[arch]
    assert f"PLATFORM := {wheel_arch}" in makefile
    assert "compileall" in makefile
    assert "unchecked-hash" in makefile
