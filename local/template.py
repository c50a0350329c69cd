"""Read `template.yaml`: the one description of functions, routes, tables and queues.

The test suite and the local stack build their moto tables, queues and HTTP routes from
here, so neither can drift from what SAM deploys.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "template.yaml"


class _CfnLoader(yaml.SafeLoader):
    """A YAML loader that keeps CloudFormation's short tags (`!Ref X` -> {"Ref": "X"})."""


def _construct_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{suffix}": value}


_CfnLoader.add_multi_constructor("!", _construct_tag)


@cache
def load(path: Path = TEMPLATE) -> dict[str, Any]:
    with path.open(encoding="utf-8") as handle:
        loaded = yaml.load(handle, Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass
    if not isinstance(loaded, dict):
        raise ValueError(f"{path} is not a template")
    return loaded


def resources(kind: str, path: Path = TEMPLATE) -> dict[str, dict[str, Any]]:
    return {
        name: body.get("Properties", {})
        for name, body in load(path).get("Resources", {}).items()
        if body.get("Type") == kind
    }


@dataclass(frozen=True)
class Function:
    logical_id: str
    code_uri: str
    handler: str
    timeout: int
    environment: dict[str, Any]
    events: dict[str, dict[str, Any]] = field(default_factory=dict)
    memory_size: int = 128

    @property
    def folder(self) -> str:
        return Path(self.code_uri).name

    @property
    def module(self) -> str:
        """The importable module of the handler, e.g. `functions.list_events.app`."""
        module, _, _ = self.handler.rpartition(".")
        return f"{Path(self.code_uri).as_posix().strip('/').replace('/', '.')}.{module}"

    @property
    def attribute(self) -> str:
        return self.handler.rpartition(".")[2]


def parameter_values(
    given: Mapping[str, str] | None = None, path: Path = TEMPLATE
) -> dict[str, str]:
    """The template's parameters with their defaults, overridden by `given`."""
    values = {
        name: str(spec["Default"])
        for name, spec in (load(path).get("Parameters") or {}).items()
        if "Default" in spec
    }
    values.update(given or {})
    return values


def _evaluate(expression: Any, parameters: Mapping[str, str], named: Mapping[str, Any]) -> Any:
    """A condition's value: Fn::Equals/Not/And/Or, Condition and Ref to a parameter."""
    if not isinstance(expression, dict) or len(expression) != 1:
        return expression
    ((kind, arg),) = expression.items()
    if kind == "Ref":
        return parameters[arg]
    if kind == "Condition":
        return _evaluate(named[arg], parameters, named)
    values = [_evaluate(part, parameters, named) for part in arg]
    if kind == "Fn::Equals":
        return str(values[0]) == str(values[1])
    if kind == "Fn::Not":
        return not values[0]
    if kind == "Fn::And":
        return all(values)
    if kind == "Fn::Or":
        return any(values)
    raise ValueError(f"unsupported condition function {kind}")


def conditions(
    parameters: Mapping[str, str] | None = None, path: Path = TEMPLATE
) -> dict[str, bool]:
    """Every Condition of the template, evaluated with these parameter values."""
    values = parameter_values(parameters, path)
    named = load(path).get("Conditions") or {}
    return {name: bool(_evaluate(body, values, named)) for name, body in named.items()}


def functions(
    path: Path = TEMPLATE, parameters: Mapping[str, str] | None = None
) -> dict[str, Function]:
    """The template's functions; given `parameters`, only those the stack would deploy
    with them (a function whose Condition is false is not)."""
    template = load(path)
    globals_ = template.get("Globals", {}).get("Function", {})
    active = conditions(parameters, path) if parameters is not None else None
    found = {}
    for name, props in resources("AWS::Serverless::Function", path).items():
        condition = template["Resources"][name].get("Condition")
        if active is not None and condition and not active[condition]:
            continue
        env = dict(globals_.get("Environment", {}).get("Variables", {}))
        env.update(props.get("Environment", {}).get("Variables", {}))
        found[name] = Function(
            logical_id=name,
            code_uri=str(props["CodeUri"]),
            handler=str(props.get("Handler", globals_.get("Handler", "app.lambda_handler"))),
            timeout=int(props.get("Timeout", globals_.get("Timeout", 3))),
            environment=env,
            events=props.get("Events", {}) or {},
            memory_size=int(props.get("MemorySize", globals_.get("MemorySize", 128))),
        )
    return found


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # the template's path, e.g. /events/{event_id}
    function: Function

    @property
    def pattern(self) -> re.Pattern[str]:
        regex = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(self.path))
        return re.compile(f"^{regex}$")


def api_routes(path: Path = TEMPLATE, parameters: Mapping[str, str] | None = None) -> list[Route]:
    routes = []
    for function in functions(path, parameters).values():
        for event in function.events.values():
            if event.get("Type") == "Api":
                props = event["Properties"]
                routes.append(Route(props["Method"].upper(), props["Path"], function))
    return sorted(routes, key=lambda r: (r.path, r.method))


def events_of_type(kind: str, path: Path = TEMPLATE) -> list[tuple[Function, dict[str, Any]]]:
    """(function, event properties) for every event source of one type (SQS, Schedule...)."""
    return [
        (function, event.get("Properties", {}))
        for function in functions(path).values()
        for event in function.events.values()
        if event.get("Type") == kind
    ]


def api_cors(path: Path = TEMPLATE) -> dict[str, str]:
    """The CORS headers of the template's REST API (`Cors` of AWS::Serverless::Api), if any.

    SAM takes header values as quoted strings ("'*'"); they come back unquoted.
    """
    for props in resources("AWS::Serverless::Api", path).values():
        cors = props.get("Cors")
        if isinstance(cors, str):
            cors = {"AllowOrigin": cors}
        if not isinstance(cors, dict):
            continue
        names = {
            "AllowOrigin": "Access-Control-Allow-Origin",
            "AllowHeaders": "Access-Control-Allow-Headers",
            "AllowMethods": "Access-Control-Allow-Methods",
            "MaxAge": "Access-Control-Max-Age",
            "AllowCredentials": "Access-Control-Allow-Credentials",
        }
        headers = {}
        for key, header in names.items():
            if key in cors:
                value = cors[key]
                value = str(value).lower() if isinstance(value, bool) else str(value)
                headers[header] = value.strip().strip("'")
        return headers
    return {}


def gateway_response_headers(path: Path = TEMPLATE) -> dict[str, str]:
    """Headers the API adds to the responses it makes itself (GatewayResponses DEFAULT_*)."""
    headers: dict[str, str] = {}
    for props in resources("AWS::Serverless::Api", path).values():
        for response in (props.get("GatewayResponses") or {}).values():
            given = (response.get("ResponseParameters") or {}).get("Headers") or {}
            for name, value in given.items():
                headers[str(name)] = str(value).strip().strip("'")
    return headers


def table_definition(logical_id: str, table_name: str, path: Path = TEMPLATE) -> dict[str, Any]:
    """`create_table` arguments for a DynamoDB table of the template, under a chosen name."""
    props = resources("AWS::DynamoDB::Table", path)[logical_id]
    definition: dict[str, Any] = {
        "TableName": table_name,
        "KeySchema": props["KeySchema"],
        "AttributeDefinitions": props["AttributeDefinitions"],
        "BillingMode": props.get("BillingMode", "PAY_PER_REQUEST"),
    }
    if "StreamSpecification" in props:
        definition["StreamSpecification"] = {"StreamEnabled": True, **props["StreamSpecification"]}
    for key in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
        if key in props:
            definition[key] = props[key]
    return definition


def ttl_attribute(logical_id: str, path: Path = TEMPLATE) -> str | None:
    spec = resources("AWS::DynamoDB::Table", path)[logical_id].get("TimeToLiveSpecification")
    return str(spec["AttributeName"]) if spec and spec.get("Enabled") else None


def queue_attributes(logical_id: str, path: Path = TEMPLATE) -> dict[Any, str]:
    """`create_queue` attributes for an SQS queue of the template (RedrivePolicy excluded)."""
    props = resources("AWS::SQS::Queue", path)[logical_id]
    names = (
        "FifoQueue",
        "ContentBasedDeduplication",
        "VisibilityTimeout",
        "MessageRetentionPeriod",
        "DelaySeconds",
        "ReceiveMessageWaitTimeSeconds",
    )
    attributes: dict[Any, str] = {}
    for name in names:
        if name in props:
            value = props[name]
            attributes[name] = str(value).lower() if isinstance(value, bool) else str(value)
    return attributes


def redrive(logical_id: str, path: Path = TEMPLATE) -> tuple[str, int] | None:
    """(dead-letter queue logical id, maxReceiveCount) of a queue, if it has one."""
    policy = resources("AWS::SQS::Queue", path)[logical_id].get("RedrivePolicy")
    if not policy:
        return None
    target = policy["deadLetterTargetArn"]
    dlq = target["Fn::GetAtt"][0] if isinstance(target, dict) else str(target)
    return dlq, int(policy["maxReceiveCount"])


def stage_throttling(path: Path = TEMPLATE) -> list[tuple[str, str, float, int]]:
    """(resource path, HTTP method, rate a second, burst) of every `MethodSettings` entry of
    the REST API that sets both throttling numbers, in the template's order.

    A resource path may be written as CloudFormation's stages want it (`/~1events~1{id}`,
    `~1` for each `/` of the path); it comes back as the template's path (`/events/{id}`).
    """
    found: list[tuple[str, str, float, int]] = []
    for props in resources("AWS::Serverless::Api", path).values():
        for entry in props.get("MethodSettings") or []:
            if not isinstance(entry, dict):
                continue
            rate, burst = entry.get("ThrottlingRateLimit"), entry.get("ThrottlingBurstLimit")
            if rate is None or burst is None:
                continue
            resource = str(entry.get("ResourcePath", "/*"))
            if resource.startswith("/~1"):
                resource = resource[1:].replace("~1", "/")
            method = str(entry.get("HttpMethod", "*")).upper()
            found.append((resource, method, float(rate), int(burst)))
    return found
