"""Read `template.yaml` (AWS SAM) into the model the gateway emulator serves.

The template is the single source of truth: APIs, stages, stage variables, binary media
types, routes and their payload format versions, authorizers, identity sources, validation
expressions, cache TTLs, scopes, and each function's handler and environment. Template
parameters get local values (the local IdP's issuer, say), the way `sam deploy` would fill
them in with real ones.

Templates AWS refuses to deploy are refused here too, with the reason (the AWS pages
`http-api-lambda-authorizer` and `http-api-develop-integrations-lambda`: payload format
versions are "1.0" or "2.0", and simple responses need authorizer payload 2.0). APIs the
emulator cannot read (native `AWS::ApiGateway*` resources, OpenAPI definitions) are named
in `Model.warnings`, and a template with no readable API at all is refused.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from dataclasses import dataclass
from dataclasses import field
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
REGION = "us-east-1"
ACCOUNT = "123456789012"
SAM_DEFAULT_TTL = 300
PAYLOAD_VERSIONS = ("1.0", "2.0")
# How REST (and HTTP payload 1.0) events spell header names; see `load_model`.
HEADER_CASE_ENV = "LAB_GATEWAY_HEADER_CASE"
HEADER_CASES = ("title", "lower")
SUPPORTED = (
    "The emulator reads AWS::Serverless::Api (REST) and AWS::Serverless::HttpApi (HTTP) "
    "resources declared with properties (StageName, Auth, Variables/StageVariables, "
    "BinaryMediaTypes), their routes from the Api/HttpApi events of "
    "AWS::Serverless::Function resources, and AWS::Serverless::Function handlers."
)

log = logging.getLogger(__name__)


class TemplateError(ValueError):
    """The template uses something the emulator does not understand."""


class _Loader(yaml.SafeLoader):
    """YAML with CloudFormation's short-form intrinsic functions (!Ref, !GetAtt, !Sub)."""


def _intrinsic(loader: yaml.SafeLoader, tag_suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = "Ref" if tag_suffix == "Ref" else f"Fn::{tag_suffix}"
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if tag_suffix == "GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {name: value}


_Loader.add_multi_constructor("!", _intrinsic)


@dataclass(frozen=True)
class Function:
    """A Lambda function of the template."""

    logical_id: str
    handler: str
    environment: dict[str, str]
    timeout: float
    memory: int

    @property
    def arn(self) -> str:
        return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:authorizer-lab-{self.logical_id}"


@dataclass(frozen=True)
class Authorizer:
    """An authorizer of one API: a Lambda authorizer (TOKEN/REQUEST) or the JWT one."""

    name: str
    kind: str  # "TOKEN", "REQUEST" (Lambda) or "JWT"
    function: Function | None
    identity_sources: tuple[str, ...]  # "$request.header.Authorization", "$context.routeKey"
    ttl: int = 0
    validation_expression: str | None = None
    payload_version: str = "1.0"
    simple_responses: bool = False
    issuer: str | None = None
    audience: tuple[str, ...] = ()

    @cached_property
    def style(self) -> str:
        """Say what this authorizer is, as a person would."""
        if self.kind == "JWT":
            return "JWT authorizer (built in)"
        mode = "simple responses" if self.simple_responses else "IAM policy"
        return f"Lambda {self.kind} authorizer ({mode}, payload {self.payload_version})"

    @cached_property
    def trace_fields(self) -> dict[str, Any]:
        """What a request's trace says of this authorizer before it runs."""
        return {
            "name": self.name,
            "type": self.kind,
            "style": self.style,
            "identity_sources": self.identity_sources,
            "ttl": self.ttl,
        }

    @cached_property
    def validation_pattern(self) -> re.Pattern[str]:
        """The compiled identity validation expression (TOKEN authorizers)."""
        return re.compile(self.validation_expression or "")

    @cached_property
    def single_header(self) -> str | None:
        """The header name when it is the only identity source, as it usually is."""
        sources = self.parsed_sources
        return sources[0][1] if len(sources) == 1 and sources[0][0] == "header" else None

    @cached_property
    def parsed_sources(self) -> tuple[tuple[str, str], ...]:
        """Each identity source as (where, name): ("header", "Authorization"),
        ("querystring", "token"), ("context", "routeKey") or ("other", source)."""
        parsed = []
        for source in self.identity_sources:
            for where, prefix in (
                ("header", "$request.header."),
                ("querystring", "$request.querystring."),
                ("context", "$context."),
            ):
                if source.startswith(prefix):
                    parsed.append((where, source.removeprefix(prefix)))
                    break
            else:
                parsed.append(("other", source))
        return tuple(parsed)


@dataclass(frozen=True)
class Route:
    """One method and path of an API, with its function and its authorization."""

    method: str
    path: str
    function: Function
    authorizer: Authorizer | None
    arn: str  # the method ARN (REST) or route ARN (HTTP) that policies are checked against
    scopes: tuple[str, ...] = ()
    payload_version: str = "1.0"  # the integration's event format: REST 1.0, HTTP 1.0 or 2.0

    @cached_property
    def key(self) -> str:
        """The route key: `GET /items/{id}`, or `$default` for an HTTP API's catch-all."""
        return "$default" if self.path == "$default" else f"{self.method} {self.path}"


@dataclass
class Api:
    """A REST or HTTP API with its stage and routes."""

    logical_id: str
    kind: str  # "REST" or "HTTP"
    name: str
    stage: str
    api_id: str
    routes: list[Route] = field(default_factory=list)
    authorizers: dict[str, Authorizer] = field(default_factory=dict)
    stage_variables: dict[str, str] = field(default_factory=dict)
    binary_media_types: tuple[str, ...] = ()
    header_case: str = "title"  # REST and HTTP 1.0 event header names: "title" or "lower"

    @cached_property
    def stage_path(self) -> str:
        """The stage's part of a request URL: "/dev", or nothing for the `$default` stage."""
        return "" if self.stage == "$default" else f"/{self.stage}"

    @cached_property
    def lower_case_headers(self) -> bool:
        """Whether payload 1.0 events of this API spell header names in lower case."""
        return self.kind == "HTTP" or self.header_case == "lower"

    def arn_prefix(self) -> str:
        """The ARN of the API's stage; a method or route ARN adds `/METHOD/path`."""
        return f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{self.api_id}/{self.stage}"


@dataclass
class Model:
    """Everything the emulator serves, read from the template."""

    apis: list[Api]
    functions: dict[str, Function]
    parameters: dict[str, str]
    # What the emulator read but does not serve, one sentence each (shown at start-up).
    warnings: list[str] = field(default_factory=list)


def api_id_for(logical_id: str) -> str:
    """Return a stable, realistic 10-character API id for a logical id."""
    digest = hashlib.sha256(logical_id.encode()).digest()
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    return "".join(alphabet[b % len(alphabet)] for b in digest[:10])


class _Resolver:
    def __init__(self, parameters: dict[str, str], resources: dict[str, Any]) -> None:
        self.parameters = parameters
        self.resources = resources

    def __call__(self, value: Any) -> Any:
        if isinstance(value, dict) and len(value) == 1:
            ((name, arg),) = value.items()
            if name == "Ref":
                if arg in self.parameters:
                    return self.parameters[arg]
                if arg in self.resources:
                    return f"local-{arg}"
                if arg == "AWS::Region":
                    return REGION
                raise TemplateError(f"!Ref {arg}: no such parameter or resource")
            if name == "Fn::GetAtt":
                return {"GetAtt": list(arg)}
            if name == "Fn::Sub":
                return re.sub(r"\$\{([^}]+)\}", lambda m: str(self({"Ref": m.group(1)})), arg)
        if isinstance(value, dict):
            return {k: self(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self(v) for v in value]
        return value


def _function_of(ref: Any, functions: dict[str, Function], where: str) -> Function:
    if isinstance(ref, dict) and "GetAtt" in ref and ref["GetAtt"][0] in functions:
        return functions[ref["GetAtt"][0]]
    raise TemplateError(f"{where}: FunctionArn must be !GetAtt <Function>.Arn")


def _identity_sources(identity: dict[str, Any]) -> tuple[str, ...]:
    """Turn SAM's `Identity` into sources, in the order SAM's translator writes them:
    Headers, QueryStrings, StageVariables, Context."""
    return (
        tuple(f"$request.header.{h}" for h in identity.get("Headers", ()))
        + tuple(f"$request.querystring.{q}" for q in identity.get("QueryStrings", ()))
        + tuple(f"$stageVariables.{s}" for s in identity.get("StageVariables", ()))
        + tuple(f"$context.{c}" for c in identity.get("Context", ()))
    )


def _rest_authorizers(
    name: str, config: dict[str, Any], functions: dict[str, Function]
) -> Authorizer:
    kind = config.get("FunctionPayloadType", "TOKEN").upper()
    identity = config.get("Identity") or {}
    ttl = int(identity.get("ReauthorizeEvery", SAM_DEFAULT_TTL))
    if kind == "TOKEN":
        sources: tuple[str, ...] = (f"$request.header.{identity.get('Header', 'Authorization')}",)
    else:
        sources = _identity_sources(identity)
    return Authorizer(
        name,
        kind,
        _function_of(config.get("FunctionArn"), functions, name),
        sources,
        ttl=ttl,
        validation_expression=identity.get("ValidationExpression"),
    )


def _http_authorizer(
    name: str, config: dict[str, Any], functions: dict[str, Function]
) -> Authorizer:
    if "JwtConfiguration" in config:
        jwt = config["JwtConfiguration"]
        audience = jwt.get("audience") or []
        source = config.get("IdentitySource", "$request.header.Authorization")
        return Authorizer(
            name,
            "JWT",
            None,
            (source,),
            issuer=jwt.get("issuer"),
            audience=tuple(audience if isinstance(audience, list) else [audience]),
        )
    identity = config.get("Identity") or {}
    sources = _identity_sources(identity)
    version = _payload_version(
        config.get("AuthorizerPayloadFormatVersion", "2.0"),
        f"authorizer {name}: AuthorizerPayloadFormatVersion",
    )
    simple = bool(config.get("EnableSimpleResponses", False))
    if simple and version != "2.0":
        # AWS refuses to create it: simple responses exist only in payload format 2.0.
        raise TemplateError(
            f"authorizer {name}: EnableSimpleResponses needs AuthorizerPayloadFormatVersion "
            f'"2.0" (it is "{version}"); API Gateway refuses this authorizer. Set the version '
            "to 2.0, or return an IAM policy and drop EnableSimpleResponses."
        )
    return Authorizer(
        name,
        "REQUEST",
        _function_of(config.get("FunctionArn"), functions, name),
        sources,
        # SAM's HttpApi LambdaAuthorizationIdentity has no default TTL (REST's is 300):
        # without ReauthorizeEvery nothing is cached.
        ttl=int(identity.get("ReauthorizeEvery", 0)),
        payload_version=version,
        simple_responses=simple,
    )


def _payload_version(value: Any, where: str) -> str:
    """Return a payload format version as AWS accepts it ("1.0" or "2.0"), or refuse it."""
    # YAML reads an unquoted 2.0 as a float; str() gives "2.0" back.
    version = str(value)
    if version not in PAYLOAD_VERSIONS:
        raise TemplateError(
            f'{where} is "{version}"; API Gateway accepts only "1.0" or "2.0" and refuses '
            "to deploy anything else."
        )
    return version


def _header_case(value: str | None) -> str:
    case = (value if value is not None else os.environ.get(HEADER_CASE_ENV) or "title").lower()
    if case not in HEADER_CASES:
        raise TemplateError(
            f"{HEADER_CASE_ENV} (header name case of REST events) must be 'title' or "
            f"'lower', not {case!r}"
        )
    return case


def _unreadable(logical_id: str, resource: dict[str, Any]) -> str | None:
    """Say why an API resource cannot be served, or None when it is readable (or no API)."""
    kind = resource.get("Type", "")
    props = resource.get("Properties") or {}
    if kind in ("AWS::Serverless::Api", "AWS::Serverless::HttpApi"):
        for key in ("DefinitionBody", "DefinitionUri"):
            if key in props:
                return (
                    f"{logical_id} ({kind}) is defined by an OpenAPI {key}, which the "
                    "emulator does not read"
                )
        return None
    if kind in ("AWS::ApiGateway::RestApi", "AWS::ApiGatewayV2::Api"):
        return (
            f"{logical_id} ({kind}) is a native API Gateway resource, which the emulator "
            "does not read"
        )
    return None


def load_model(
    parameters: dict[str, str], path: Path = TEMPLATE, *, header_case: str | None = None
) -> Model:
    """Read the template with these parameter values (defaults fill the rest).

    `header_case` says how REST and HTTP payload 1.0 events spell header names. AWS passes
    REST header names as the client sent them, but the emulator's WSGI server hands them
    over without their case: "title" (the default) writes `X-Custom-Header`, as HTTP/1.1
    clients usually send it; "lower" writes `x-custom-header`, as every HTTP/2 client
    sends it. None reads the LAB_GATEWAY_HEADER_CASE environment variable.
    """
    case = _header_case(header_case)
    try:
        document = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)  # noqa: S506
    except yaml.YAMLError as error:
        raise TemplateError(f"{path.name} is not valid YAML: {error}") from None
    if not isinstance(document, dict) or not isinstance(document.get("Resources", {}), dict):
        raise TemplateError("not a SAM template: expected a mapping with a Resources mapping")
    resources: dict[str, Any] = document.get("Resources", {})
    values = {
        name: str(spec["Default"])
        for name, spec in document.get("Parameters", {}).items()
        if "Default" in spec
    }
    values.update(parameters)
    missing = [n for n in document.get("Parameters", {}) if n not in values]
    if missing:
        raise TemplateError(f"no value for template parameter(s) {', '.join(missing)}")
    resolve = _Resolver(values, resources)
    global_function = (document.get("Globals") or {}).get("Function", {})

    functions: dict[str, Function] = {}
    for logical_id, resource in resources.items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        props = resolve(resource.get("Properties", {}))
        env = {
            **((global_function.get("Environment") or {}).get("Variables") or {}),
            **((props.get("Environment") or {}).get("Variables") or {}),
        }
        functions[logical_id] = Function(
            logical_id,
            props["Handler"],
            {k: str(v) for k, v in env.items()},
            float(props.get("Timeout", global_function.get("Timeout", 3))),
            int(props.get("MemorySize", global_function.get("MemorySize", 128))),
        )

    apis: dict[str, Api] = {}
    unreadable: dict[str, str] = {}
    others: list[str] = []
    for logical_id, resource in resources.items():
        reason = _unreadable(logical_id, resource)
        if reason is not None:
            unreadable[logical_id] = reason
            continue
        kind = {"AWS::Serverless::Api": "REST", "AWS::Serverless::HttpApi": "HTTP"}.get(
            resource.get("Type", "")
        )
        if kind is None:
            if str(resource.get("Type", "")).startswith(
                ("AWS::ApiGateway::", "AWS::ApiGatewayV2::")
            ):
                others.append(f"{logical_id} ({resource['Type']})")
            continue
        props = resolve(resource.get("Properties", {}))
        variables = props.get("Variables" if kind == "REST" else "StageVariables") or {}
        if not isinstance(variables, dict):
            raise TemplateError(
                f"{logical_id}: stage variables must be a mapping of names to values"
            )
        api = Api(
            logical_id,
            kind,
            props.get("Name", logical_id),
            props.get("StageName", "$default"),
            api_id_for(logical_id),
            stage_variables={str(k): str(v) for k, v in variables.items()},
            # SAM writes "/" as "~1" in BinaryMediaTypes (image~1png); HTTP APIs have none.
            binary_media_types=tuple(
                str(t).replace("~1", "/").lower()
                for t in (props.get("BinaryMediaTypes") or ())
                if kind == "REST"
            ),
            header_case=case,
        )
        auth = props.get("Auth") or {}
        for name, config in (auth.get("Authorizers") or {}).items():
            api.authorizers[name] = (_rest_authorizers if kind == "REST" else _http_authorizer)(
                name, config, functions
            )
        api.authorizers["__default__"] = api.authorizers.get(auth.get("DefaultAuthorizer", ""))
        apis[logical_id] = api

    for logical_id, function in functions.items():
        props = resolve(resources[logical_id].get("Properties", {}))
        for event_name, event in (props.get("Events") or {}).items():
            if event.get("Type") not in ("Api", "HttpApi"):
                continue
            eprops = event.get("Properties", {})
            api_ref = eprops.get("RestApiId") or eprops.get("ApiId") or ""
            if api_ref.removeprefix("local-") in unreadable:
                continue  # its API is reported below
            api = apis.get(api_ref.removeprefix("local-"))
            if api is None:
                raise TemplateError(f"{logical_id}.{event_name}: unknown API {api_ref!r}")
            if event["Type"] == "HttpApi":
                payload_version = _payload_version(
                    eprops.get("PayloadFormatVersion", "2.0"),
                    f"{logical_id}.{event_name}: PayloadFormatVersion",
                )
            else:
                payload_version = "1.0"  # REST Lambda proxy integrations have only 1.0
            auth = eprops.get("Auth") or {}
            authorizer_name = auth.get("Authorizer")
            if authorizer_name == "NONE":
                authorizer = None
            elif authorizer_name:
                authorizer = api.authorizers[authorizer_name]
            else:
                authorizer = api.authorizers.get("__default__")
            method = str(eprops["Method"]).upper()
            api.routes.append(
                Route(
                    method,
                    eprops["Path"],
                    function,
                    authorizer,
                    f"{api.arn_prefix()}/{method}{eprops['Path']}",
                    tuple(auth.get("AuthorizationScopes", ())),
                    payload_version,
                )
            )
    for api in apis.values():
        api.authorizers.pop("__default__", None)
        api.routes.sort(key=lambda r: (r.path, r.method))
    warnings = [f"{reason}: not served." for reason in unreadable.values()]
    if others:
        warnings.append("Native API Gateway resources are not applied: " + ", ".join(others) + ".")
    if unreadable and not apis:
        raise TemplateError(
            f"{path.name} declares no API the emulator can read: "
            + "; ".join(unreadable.values())
            + ". "
            + SUPPORTED
        )
    if warnings:
        warnings.append(SUPPORTED)
        for warning in warnings:
            log.warning("%s", warning)
    return Model(list(apis.values()), functions, values, warnings)
