"""Read `template.yaml` (AWS SAM) into the model the gateway emulator serves.

The template is the single source of truth: APIs, stages, stage variables, binary media
types, routes and their payload format versions, authorizers, identity sources, validation
expressions, cache TTLs, scopes, and each function's handler and environment. Template
parameters get local values (the local IdP's issuer, say), the way `sam deploy` would fill
them in with real ones.

Templates AWS refuses to deploy are refused here too, with the reason (the AWS pages
`http-api-lambda-authorizer` and `http-api-develop-integrations-lambda`: payload format
versions are "1.0" or "2.0", and simple responses need authorizer payload 2.0). APIs the
emulator cannot read (native `AWS::ApiGateway*` resources, OpenAPI definitions in S3) are
named in `Model.warnings`, and a template with no readable API at all is refused.

An API may instead be declared by an OpenAPI 3 or Swagger 2 definition (`DefinitionBody`,
an `AWS::Include` of a local file, or a local `DefinitionUri`), as SAM CLI reads it: its
operations with Lambda proxy integrations (`x-amazon-apigateway-integration`, AWS page
`api-gateway-swagger-extensions-integration`) become routes, its security schemes with
`x-amazon-apigateway-authorizer` (`api-gateway-swagger-extensions-authorizer`) become the
same `Authorizer`s SAM's `Auth` gives, and `security` picks each route's authorizer and
scopes. Identity sources are kept in HTTP API syntax (`$request.header.Authorization`);
a REST definition's `method.request.header.Authorization` is converted on reading.
Operations the emulator cannot serve (other integration types, IAM or Cognito security)
are named in `Model.warnings` and left out.
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
    "BinaryMediaTypes) or with an OpenAPI DefinitionBody (inline, AWS::Include of a local "
    "file, or a local DefinitionUri) whose operations have Lambda proxy integrations, their "
    "routes from the Api/HttpApi events of AWS::Serverless::Function resources, and "
    "AWS::Serverless::Function handlers."
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
        return function_arn(self.logical_id)


@dataclass(frozen=True)
class Authorizer:
    """An authorizer of one API: a Lambda authorizer (TOKEN/REQUEST) or the JWT one."""

    name: str
    kind: str  # "TOKEN", "REQUEST" (Lambda), "JWT" or "COGNITO_USER_POOLS"
    function: Function | None
    identity_sources: tuple[str, ...]  # "$request.header.Authorization", "$context.routeKey"
    ttl: int = 0
    validation_expression: str | None = None
    payload_version: str = "1.0"
    simple_responses: bool = False
    issuer: str | None = None
    audience: tuple[str, ...] = ()
    # COGNITO_USER_POOLS: the issuers of its user pools, and the scopes a method gets when
    # its event names none (SAM's authorizer-level AuthorizationScopes).
    user_pool_issuers: tuple[str, ...] = ()
    default_scopes: tuple[str, ...] = ()

    @cached_property
    def style(self) -> str:
        """Say what this authorizer is, as a person would."""
        if self.kind == "JWT":
            return "JWT authorizer (built in)"
        if self.kind == "COGNITO_USER_POOLS":
            return "Cognito user pool authorizer (built in)"
        if self.kind == "AWS_IAM":
            return "IAM authorization (SigV4 signature and IAM policies, built in)"
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

    @property
    def domain_name(self) -> str:
        """The API's default domain, as `requestContext.domainName` carries it."""
        return f"{self.api_id}.execute-api.{REGION}.amazonaws.com"

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


# Pseudo parameters a template may name, with the local account's values.
PSEUDO_PARAMETERS = {
    "AWS::Region": REGION,
    "AWS::AccountId": ACCOUNT,
    "AWS::Partition": "aws",
    "AWS::URLSuffix": "amazonaws.com",
    "AWS::StackName": "authorizer-lab",
}


def function_arn(logical_id: str) -> str:
    """The ARN the emulator gives a function of the template (`Function.arn`)."""
    return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:authorizer-lab-{logical_id}"


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
                if arg in PSEUDO_PARAMETERS:
                    return PSEUDO_PARAMETERS[arg]
                raise TemplateError(f"!Ref {arg}: no such parameter or resource")
            if name == "Fn::GetAtt":
                return {"GetAtt": list(arg)}
            if name == "Fn::Sub":
                return self._sub(arg)
        if isinstance(value, dict):
            return {k: self(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self(v) for v in value]
        return value

    def _sub(self, arg: Any) -> str:
        """Fn::Sub in both forms: a string, or [string, {name: value}]."""
        text, variables = (arg[0], self(arg[1] or {})) if isinstance(arg, list) else (arg, {})
        if not isinstance(text, str) or not isinstance(variables, dict):
            raise TemplateError(f"Fn::Sub {arg!r}: expected a string or [string, mapping]")

        def one(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):  # ${!Literal} is written as ${Literal}
                return "${" + name[1:] + "}"
            if name in variables:
                return self._text(variables[name], name)
            resource, _, attribute = name.partition(".")
            if attribute and resource in self.resources:
                # `${Fn.Arn}`: the ARN the emulator gives that function (an OpenAPI
                # integration or authorizer URI names its function this way).
                return self._text({"GetAtt": [resource, attribute]}, name)
            return str(self({"Ref": name}))

        return re.sub(r"\$\{([^}]+)\}", one, text)

    def _text(self, value: Any, name: str) -> str:
        if isinstance(value, dict) and "GetAtt" in value:
            resource, attribute = value["GetAtt"][0], value["GetAtt"][-1]
            if attribute == "Arn" and resource in self.resources:
                return function_arn(resource)
            return f"local-{resource}-{attribute}"
        if isinstance(value, (dict, list)):
            raise TemplateError(f"Fn::Sub ${{{name}}}: cannot turn {value!r} into text")
        return str(value)


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


# The template parameter whose value is the origin of user pool issuers: AWS's
# https://cognito-idp.<region>.amazonaws.com, or the local IdP (`local_parameters`).
COGNITO_ORIGIN_PARAMETER = "CognitoIdpOrigin"


def _cognito_authorizer(
    name: str, config: dict[str, Any], values: dict[str, str], resources: dict[str, Any]
) -> Authorizer:
    """SAM's CognitoAuthorizer (`sam-property-api-cognitoauthorizer`) on a REST API.

    `UserPoolArn` is an ARN (or a list): a string, or `!GetAtt <UserPool>.Arn` of the
    template's own pool, whose id is then the value given for that logical id (the local
    IdP's pool id, in `local_parameters`), as `!Ref <UserPool>` is on AWS.
    """
    where = f"authorizer {name}"
    raw = config["UserPoolArn"]
    issuers = []
    for arn in raw if isinstance(raw, list) else [raw]:
        if isinstance(arn, dict) and "GetAtt" in arn:
            resource = arn["GetAtt"][0]
            if (resources.get(resource) or {}).get("Type") != "AWS::Cognito::UserPool":
                raise TemplateError(f"{where}: UserPoolArn names {resource}, not a user pool")
            if resource not in values:
                raise TemplateError(
                    f"{where}: no pool id for {resource}: give it as a parameter value "
                    f"({resource}=us-east-1_XXXXXXXXX)"
                )
            arn = f"arn:aws:cognito-idp:{REGION}:{ACCOUNT}:userpool/{values[resource]}"
        pool_id = str(arn).rpartition(":userpool/")[2]
        if not str(arn).startswith("arn:") or "_" not in pool_id:
            raise TemplateError(f"{where}: UserPoolArn {arn!r} is not a user pool ARN")
        region = pool_id.partition("_")[0]
        origin = (
            values.get(COGNITO_ORIGIN_PARAMETER) or f"https://cognito-idp.{region}.amazonaws.com"
        )
        issuers.append(f"{origin.rstrip('/')}/{pool_id}")
    identity = config.get("Identity") or {}
    scopes = config.get("AuthorizationScopes") or ()
    return Authorizer(
        name,
        "COGNITO_USER_POOLS",
        None,
        (f"$request.header.{identity.get('Header', 'Authorization')}",),
        ttl=int(identity.get("ReauthorizeEvery", SAM_DEFAULT_TTL)),
        validation_expression=identity.get("ValidationExpression"),
        user_pool_issuers=tuple(issuers),
        default_scopes=tuple(scopes),
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


IAM = "AWS_IAM"  # SAM's name for IAM authorization, in `Auth.Authorizer`/`DefaultAuthorizer`


def iam_authorizer(name: str = IAM) -> Authorizer:
    """IAM authorization as an authorizer: SAM's `AWS_IAM`, or an OpenAPI security scheme
    with `x-amazon-apigateway-authtype: awsSigv4`. It reads the Authorization header (or a
    presigned query string); nothing is cached."""
    return Authorizer(name, IAM, None, ("$request.header.Authorization",))


def _iam_allowed(api: Api, auth: dict[str, Any], where: str) -> None:
    """Add SAM's `AWS_IAM` to an API whose events or default name it.

    REST APIs take it as is (`sam-property-api-apiauth`: "no extra configuration needed");
    an HTTP API only with `Auth.EnableIamAuthorizer: true` (`sam-property-httpapi-httpapiauth`).
    """
    if api.kind == "HTTP" and auth.get("EnableIamAuthorizer") is not True:
        raise TemplateError(
            f"{where}: AWS_IAM on an HTTP API needs Auth.EnableIamAuthorizer: true on "
            f"{api.logical_id}, as SAM requires"
        )
    api.authorizers.setdefault(IAM, iam_authorizer())


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


# --- APIs declared with an OpenAPI definition ---------------------------------------------------
# Pages: `api-gateway-swagger-extensions-integration`, `-authorizer`, `-authtype`,
# `-any-method`, `-binary-media-types`, and `http-api-open-api`. SAM CLI reads the same
# extensions (samcli/commands/local/lib/swagger/parser.py).

OPENAPI_METHODS = ("get", "put", "post", "delete", "options", "head", "patch")
ANY_METHOD_KEY = "x-amazon-apigateway-any-method"
# Identity sources as a REST API writes them, and as they are kept here (HTTP API syntax).
REST_SOURCES = (
    ("method.request.header.", "$request.header."),
    ("method.request.querystring.", "$request.querystring."),
    ("stageVariables.", "$stageVariables."),
    ("context.", "$context."),
)
HTTP_SOURCES = ("$request.header.", "$request.querystring.", "$stageVariables.", "$context.")


def _openapi_source(text: str, kind: str, where: str) -> str:
    """One identity source in the API's syntax, kept in HTTP API syntax."""
    source = text.strip()
    if kind == "REST":
        for rest, http in REST_SOURCES:
            if source.startswith(rest) and len(source) > len(rest):
                return http + source.removeprefix(rest)
        expected = (
            "method.request.header.X, method.request.querystring.X, stageVariables.X or context.X"
        )
    else:
        if any(source.startswith(p) and len(source) > len(p) for p in HTTP_SOURCES):
            return source
        expected = "$request.header.X, $request.querystring.X, $stageVariables.X or $context.X"
    raise TemplateError(
        f"{where}: identity source {source!r} is not one a {kind} API accepts ({expected}); "
        "API Gateway refuses this authorizer."
    )


def _openapi_sources(value: Any, kind: str, where: str) -> tuple[str, ...]:
    # A comma-separated string, as the extension documents it; a list is read too.
    items = value if isinstance(value, list) else str(value or "").split(",")
    return tuple(_openapi_source(str(item), kind, where) for item in items if str(item).strip())


class _FunctionNames:
    """Find the template's function an integration or authorizer URI names."""

    def __init__(self, functions: dict[str, Function], names: dict[str, str]) -> None:
        self.functions = functions
        # By the emulator's ARN name, the logical id, and any FunctionName property.
        self.by_name = {f.arn.rsplit(":", 1)[-1]: f for f in functions.values()}
        self.by_name.update(functions)
        self.by_name.update({name: functions[lid] for lid, name in names.items()})

    def __call__(self, uri: Any, where: str) -> Function:
        if isinstance(uri, dict) and "GetAtt" in uri:
            return _function_of(uri, self.functions, where)
        found = re.search(r":function:([^/:]+)", uri) if isinstance(uri, str) else None
        if found is not None and found.group(1) in self.by_name:
            return self.by_name[found.group(1)]
        raise TemplateError(
            f"{where}: the URI {uri!r} names no function of this template; write it as "
            "!Sub arn:aws:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/"
            "${MyFunction.Arn}/invocations"
        )


@dataclass
class _Definition:
    """An API's OpenAPI document, and whether SAM adds the API's events to it."""

    document: dict[str, Any]
    inline: bool  # DefinitionBody (events are added) rather than DefinitionUri (they are not)


def _load_definition(
    logical_id: str, resource: dict[str, Any], base: Path, resolve: _Resolver
) -> _Definition | str:
    """Return an API's OpenAPI definition, or why the emulator cannot read it."""
    props = resource.get("Properties") or {}
    body = props.get("DefinitionBody")
    inline = body is not None
    key = "DefinitionBody" if inline else "DefinitionUri"
    location: Any = None
    if isinstance(body, dict) and set(body) == {"Fn::Transform"}:
        transform = body["Fn::Transform"] or {}
        key = f"DefinitionBody ({transform.get('Name')})"
        if transform.get("Name") != "AWS::Include":
            return f"{logical_id} ({resource['Type']}) is defined by an OpenAPI {key} transform"
        location = (transform.get("Parameters") or {}).get("Location")
    elif body is None:
        location = props.get("DefinitionUri")
    if location is not None:
        if not isinstance(location, str) or location.startswith("s3://"):
            return (
                f"{logical_id} ({resource['Type']}) is defined by an OpenAPI {key} in S3, "
                "which the emulator does not fetch (point it at a file beside the template)"
            )
        try:
            text = (base / location).read_text(encoding="utf-8")
            body = yaml.load(text, Loader=_Loader)  # noqa: S506
        except OSError as error:
            raise TemplateError(
                f"{logical_id}: cannot read its OpenAPI definition {location}: {error.strerror}"
            ) from None
        except yaml.YAMLError as error:
            raise TemplateError(
                f"{logical_id}: {location} is not valid YAML or JSON: {error}"
            ) from None
    if not isinstance(body, dict):
        raise TemplateError(f"{logical_id}: the OpenAPI definition must be a mapping")
    return _Definition(resolve(body), inline)


class _OpenApiReader:
    """Read one API's OpenAPI definition into the same Authorizers and Routes as SAM's form."""

    def __init__(
        self, api: Api, document: dict[str, Any], names: _FunctionNames, warnings: list[str]
    ) -> None:
        self.api = api
        self.document = document
        self.names = names
        self.warnings = warnings
        version = str(document.get("openapi") or document.get("swagger") or "")
        if not version.startswith(("2.", "3.")):
            raise TemplateError(
                f"{api.logical_id}: the OpenAPI definition has no `openapi: 3.x` or "
                f"`swagger: '2.0'` field (found {version or 'none'!r})"
            )
        self.swagger = version.startswith("2.")
        schemes = (
            document.get("securityDefinitions")
            if self.swagger
            else (document.get("components") or {}).get("securitySchemes")
        )
        self.schemes: dict[str, Any] = schemes if isinstance(schemes, dict) else {}
        # Security schemes the emulator cannot apply, with the reason.
        self.unsupported: dict[str, str] = {}

    def authorizers(self) -> dict[str, Authorizer]:
        """The Lambda and JWT authorizers of `securitySchemes` / `securityDefinitions`."""
        found = {}
        for name, scheme in self.schemes.items():
            if not isinstance(scheme, dict):
                raise TemplateError(
                    f"{self.api.logical_id}: security scheme {name} is not a mapping"
                )
            authorizer = scheme.get("x-amazon-apigateway-authorizer")
            authtype = str(scheme.get("x-amazon-apigateway-authtype", "")).lower()
            if authorizer is None:
                if authtype == "awssigv4":
                    found[name] = iam_authorizer(name)
                elif (
                    scheme.get("type") == "apiKey"
                    and str(scheme.get("name", "")).lower() == "x-api-key"
                ):
                    self.unsupported[name] = "API keys"
                else:
                    self.unsupported[name] = (
                        f"a {scheme.get('type', 'typeless')} security scheme without "
                        "x-amazon-apigateway-authorizer"
                    )
                continue
            if str(authorizer.get("type", "")).lower() == "cognito_user_pools":
                self.unsupported[name] = "a Cognito user pool authorizer"
                continue
            found[name] = self._authorizer(name, scheme, authorizer)
        return found

    def _authorizer(self, name: str, scheme: dict[str, Any], config: dict[str, Any]) -> Authorizer:
        kind = self.api.kind
        where = f"{self.api.logical_id} authorizer {name}"
        style = str(config.get("type", "")).lower()
        if style == "jwt":
            if kind == "REST":
                raise TemplateError(f"{where}: jwt authorizers exist only on HTTP APIs")
            jwt = config.get("jwtConfiguration") or {}
            issuer = jwt.get("issuer")
            if not issuer:
                # AWS can read the issuer from an openIdConnectUrl's discovery document;
                # the emulator reads the template only, so it asks for the issuer itself.
                raise TemplateError(
                    f"{where}: jwtConfiguration has no issuer; the emulator does not discover "
                    "it from openIdConnectUrl, so write jwtConfiguration.issuer"
                )
            audience = jwt.get("audience") or []
            return Authorizer(
                name,
                "JWT",
                None,
                _openapi_sources(
                    config.get("identitySource", "$request.header.Authorization"), kind, where
                ),
                issuer=str(issuer),
                audience=tuple(
                    str(a) for a in (audience if isinstance(audience, list) else [audience])
                ),
            )
        if style not in ("token", "request"):
            raise TemplateError(
                f"{where}: type {config.get('type')!r} is not one API Gateway knows "
                "(token, request, jwt)"
            )
        if style == "token" and kind == "HTTP":
            raise TemplateError(
                f"{where}: HTTP APIs have no token authorizers; use type request with "
                "identitySource $request.header.Authorization"
            )
        function = self.names(config.get("authorizerUri"), f"{where}: authorizerUri")
        ttl_value = config.get("authorizerResultTtlInSeconds")
        # REST's default TTL is 300 s; an HTTP API caches only when told to.
        ttl = (
            int(ttl_value) if ttl_value is not None else (SAM_DEFAULT_TTL if kind == "REST" else 0)
        )
        if style == "token":
            if "identitySource" in config:
                sources = _openapi_sources(config["identitySource"], kind, where)
            elif scheme.get("in") == "header" and scheme.get("name"):
                # A token authorizer's header is the scheme's `name` (with `in: header`).
                sources = (f"$request.header.{scheme['name']}",)
            else:
                raise TemplateError(
                    f"{where}: a token authorizer needs `in: header` and the header's `name`"
                )
            return Authorizer(
                name,
                "TOKEN",
                function,
                sources,
                ttl=ttl,
                validation_expression=config.get("identityValidationExpression"),
            )
        sources = _openapi_sources(config.get("identitySource"), kind, where)
        if kind == "REST":
            return Authorizer(name, "REQUEST", function, sources, ttl=ttl)
        if config.get("authorizerPayloadFormatVersion") is None:
            raise TemplateError(
                f"{where}: authorizerPayloadFormatVersion is missing; HTTP API Lambda "
                'authorizers need "1.0" or "2.0"'
            )
        version = _payload_version(
            config["authorizerPayloadFormatVersion"], f"{where}: authorizerPayloadFormatVersion"
        )
        simple = config.get("enableSimpleResponses", False) is True
        if simple and version != "2.0":
            raise TemplateError(
                f"{where}: enableSimpleResponses needs authorizerPayloadFormatVersion "
                f'"2.0" (it is "{version}"); API Gateway refuses this authorizer.'
            )
        return Authorizer(
            name,
            "REQUEST",
            function,
            sources,
            ttl=ttl,
            payload_version=version,
            simple_responses=simple,
        )

    def binary_media_types(self) -> tuple[str, ...]:
        types = self.document.get("x-amazon-apigateway-binary-media-types") or ()
        if self.api.kind == "HTTP" or not isinstance(types, list):
            return ()
        return tuple(str(t).replace("~1", "/").lower() for t in types)

    def routes(self) -> list[Route]:
        """A route for each operation with a Lambda proxy integration."""
        routes = []
        default_security = self.document.get("security")
        for path, item in (self.document.get("paths") or {}).items():
            if not isinstance(item, dict):
                continue
            for key, operation in item.items():
                lower = str(key).lower()
                if lower == ANY_METHOD_KEY:
                    method = "ANY"
                elif lower in OPENAPI_METHODS:
                    method = lower.upper()
                else:
                    continue  # parameters, summary, servers, other extensions
                route = self._route(method, str(path), operation or {}, default_security)
                if route is not None:
                    routes.append(route)
        return routes

    def _route(
        self, method: str, path: str, operation: dict[str, Any], default_security: Any
    ) -> Route | None:
        api = self.api
        where = f"{api.logical_id} {method} {path}"
        integration = self._integration(operation.get("x-amazon-apigateway-integration"), where)
        if integration is None:
            self.warnings.append(f"{where} has no x-amazon-apigateway-integration: not served.")
            return None
        kind = str(integration.get("type", "")).lower()
        if kind != "aws_proxy":
            self.warnings.append(
                f"{where} has a {kind or 'typeless'} integration; the emulator serves only "
                "Lambda proxy (aws_proxy) integrations: not served."
            )
            return None
        function = self.names(integration.get("uri"), f"{where}: integration uri")
        if api.kind == "HTTP":
            if integration.get("payloadFormatVersion") is None:
                raise TemplateError(
                    f"{where}: the integration has no payloadFormatVersion; HTTP APIs need "
                    '"1.0" or "2.0"'
                )
            payload = _payload_version(
                integration["payloadFormatVersion"], f"{where}: payloadFormatVersion"
            )
        else:
            payload = "1.0"  # REST Lambda proxy integrations have only 1.0
        security = operation.get("security", default_security)
        authorizer: Authorizer | None
        scopes: tuple[str, ...] = ()
        if security is None:
            # No `security` anywhere: SAM's Auth.DefaultAuthorizer, if the API has one.
            authorizer = api.authorizers.get("__default__")
        else:
            chosen = self._security(security, where)
            if chosen is False:
                return None
            authorizer, scopes = chosen or (None, ())
        route_path = "$default" if path == "/$default" and api.kind == "HTTP" else path
        return Route(
            method,
            route_path,
            function,
            authorizer,
            f"{api.arn_prefix()}/{method}{route_path}",
            scopes,
            payload,
        )

    def _integration(self, value: Any, where: str) -> dict[str, Any] | None:
        # HTTP APIs may share integrations:
        # {"$ref": "#/components/x-amazon-apigateway-integrations/x"}.
        if isinstance(value, dict) and isinstance(value.get("$ref"), str):
            target: Any = self.document
            for part in value["$ref"].removeprefix("#/").split("/"):
                target = target.get(part) if isinstance(target, dict) else None
            if not isinstance(target, dict):
                raise TemplateError(f"{where}: integration $ref {value['$ref']} not found")
            return target
        return value if isinstance(value, dict) else None

    def _security(
        self, security: Any, where: str
    ) -> tuple[Authorizer, tuple[str, ...]] | bool | None:
        """The authorizer and scopes a `security` list names: None for none (`[]`), False
        when the route needs something the emulator cannot apply (it is then not served)."""
        if not isinstance(security, list) or not all(isinstance(r, dict) for r in security):
            raise TemplateError(f"{where}: security must be a list of mappings")
        named = [(name, scopes) for requirement in security for name, scopes in requirement.items()]
        applied = []
        for name, scopes in named:
            if name not in self.schemes:
                raise TemplateError(
                    f"{where}: security names {name!r}, which is not a security scheme of "
                    "the definition"
                )
            if self.unsupported.get(name) == "API keys":
                self.warnings.append(f"{where}: API keys are not checked by the emulator.")
                continue
            if name in self.unsupported:
                self.warnings.append(
                    f"{where} needs {self.unsupported[name]} ({name}), which the emulator "
                    "does not apply: not served."
                )
                return False
            applied.append((self.api.authorizers[name], tuple(str(s) for s in scopes or ())))
        if len(applied) > 1:
            raise TemplateError(
                f"{where}: security names {len(applied)} authorizers; API Gateway applies "
                "one authorizer to a method"
            )
        return applied[0] if applied else None


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

    names = _FunctionNames(
        functions,
        {
            lid: str(resolve(r["Properties"]["FunctionName"]))
            for lid, r in resources.items()
            if lid in functions and "FunctionName" in (r.get("Properties") or {})
        },
    )
    apis: dict[str, Api] = {}
    api_auth: dict[str, dict[str, Any]] = {}  # each API's resolved Auth
    unreadable: dict[str, str] = {}
    others: list[str] = []
    definitions: dict[str, _Definition] = {}
    openapi_warnings: list[str] = []
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
        raw = resource.get("Properties") or {}
        reader: _OpenApiReader | None = None
        if "DefinitionBody" in raw or "DefinitionUri" in raw:
            definition = _load_definition(logical_id, resource, path.parent, resolve)
            if isinstance(definition, str):
                unreadable[logical_id] = definition
                continue
            definitions[logical_id] = definition
        props = resolve({k: v for k, v in raw.items() if k not in ("DefinitionBody",)})
        if props.get("Cors") or props.get("CorsConfiguration"):
            openapi_warnings.append(
                f"{logical_id}: CORS is not applied (no preflight answers, no "
                "Access-Control-* headers); call the API from the same origin or from a server."
            )
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
        if logical_id in definitions:
            reader = _OpenApiReader(api, definitions[logical_id].document, names, openapi_warnings)
            api.authorizers.update(reader.authorizers())
            # SAM adds the definition's binary media types to BinaryMediaTypes.
            api.binary_media_types = tuple(
                dict.fromkeys(api.binary_media_types + reader.binary_media_types())
            )
        auth = api_auth[logical_id] = props.get("Auth") or {}
        # SAM's Auth on an API with a definition adds its authorizers to the definition.
        for name, config in (auth.get("Authorizers") or {}).items():
            if kind == "REST" and "UserPoolArn" in config:
                api.authorizers[name] = _cognito_authorizer(name, config, values, resources)
                continue
            api.authorizers[name] = (_rest_authorizers if kind == "REST" else _http_authorizer)(
                name, config, functions
            )
        if auth.get("DefaultAuthorizer") == IAM:
            _iam_allowed(api, auth, f"{logical_id}.Auth.DefaultAuthorizer")
        api.authorizers["__default__"] = api.authorizers.get(auth.get("DefaultAuthorizer", ""))
        if reader is not None:
            api.routes.extend(reader.routes())
        apis[logical_id] = api

    # What SAM does with Api/HttpApi events of an API defined by OpenAPI: with an inline
    # DefinitionBody it writes each event's path and method into the definition, and
    # refuses an event whose path and method the definition already integrates ("API
    # method ... defined multiple times"); with DefinitionUri it adds nothing.
    skipped_events: list[str] = []
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
            definition = definitions.get(api.logical_id)
            if definition is not None and not definition.inline:
                skipped_events.append(f"{logical_id}.{event_name}")
                continue
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
                if authorizer_name == IAM:
                    _iam_allowed(
                        api, api_auth.get(api.logical_id, {}), f"{logical_id}.{event_name}"
                    )
                if authorizer_name not in api.authorizers or authorizer_name == "__default__":
                    raise TemplateError(
                        f"{logical_id}.{event_name}: {api.logical_id} has no authorizer "
                        f"{authorizer_name!r}"
                    )
                authorizer = api.authorizers[authorizer_name]
            else:
                authorizer = api.authorizers.get("__default__")
            method = str(eprops["Method"]).upper()
            if definition is not None and any(
                r.method == method and r.path == eprops["Path"] for r in api.routes
            ):
                raise TemplateError(
                    f'{logical_id}.{event_name}: API method "{eprops["Method"]}" defined '
                    f'multiple times for path "{eprops["Path"]}" ({api.logical_id}\'s '
                    "definition integrates it already; SAM refuses this template)"
                )
            api.routes.append(
                Route(
                    method,
                    eprops["Path"],
                    function,
                    authorizer,
                    f"{api.arn_prefix()}/{method}{eprops['Path']}",
                    tuple(
                        auth.get("AuthorizationScopes")
                        or (authorizer.default_scopes if authorizer else ())
                    ),
                    payload_version,
                )
            )
    for api in apis.values():
        api.authorizers.pop("__default__", None)
        api.routes.sort(key=lambda r: (r.path, r.method))
    warnings = [f"{reason}: not served." for reason in unreadable.values()]
    warnings.extend(dict.fromkeys(openapi_warnings))
    if skipped_events:
        warnings.append(
            "Events of APIs defined by DefinitionUri add no routes (SAM adds them only to an "
            "inline DefinitionBody): " + ", ".join(skipped_events) + "."
        )
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
