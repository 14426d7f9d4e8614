"""The manifest validator: the real tree passes, and each kind of mistake a reviewer would catch
is caught. Every negative case copies k8s/ to a temporary folder, breaks one thing, and expects
a problem under the matching rule (and only problems the break explains).

Run from the repository root:  python3 -m pytest -q k8s/validate
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

import validate as v  # noqa: E402

SCHEMAS = v.default_schemas_dir()


@pytest.fixture(scope="module")
def crd_schemas():
    return v.load_crd_schemas(SCHEMAS)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A private copy of k8s/ to break."""
    dst = tmp_path / "k8s"
    shutil.copytree(v.K8S, dst, ignore=shutil.ignore_patterns("validate", "__pycache__"))
    return dst


def edit(tree: Path, rel: str, change) -> None:
    """Apply `change(docs)` to every document of one file and write it back."""
    path = tree / rel
    docs = [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
    change(docs)
    path.write_text(yaml.safe_dump_all(docs, sort_keys=False))


def find(docs, kind, name):
    return next(d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name)


def container(doc):
    return doc["spec"]["template"]["spec"]["containers"][0]


def rules(report) -> set[str]:
    return {p.rule for p in report.problems}


def check(tree: Path, build: bool = False):
    return v.validate(tree, SCHEMAS, v.REPO, build=build)


def test_the_real_tree_passes_every_rule_and_builds():
    report = v.validate(v.K8S, SCHEMAS, v.REPO, build=True)
    assert report.problems == []
    # Every manifest object and every kustomize build went through a schema.
    assert report.checked > 150


def test_variables_are_read_from_the_configuration_code():
    read = v.env_vars_by_service(v.REPO)
    # From the spec's environment tables (1.1.2, 1.2.2, 1.3.1, 1.4.5).
    assert {"DETAILS_HOSTNAME", "REVIEWS_SERVICE_PORT", "FLOOD_FACTOR"} <= read["productpage"]
    assert {"ENABLE_EXTERNAL_BOOK_SERVICE", "DO_NOT_ENCRYPT"} <= read["details"]
    assert {"ENABLE_RATINGS", "STAR_COLOR", "CLUSTER_NAME"} <= read["reviews"]
    assert {"SERVICE_VERSION", "DB_TYPE", "MYSQL_DB_HOST", "MONGO_DB_URL"} <= read["ratings"]
    # Upstream sets these but no BookInfo service reads them.
    for names in read.values():
        assert "LOG_DIR" not in names
    assert "SERVICE_VERSION" not in read["reviews"]


def test_crd_conversion_rejects_unknown_fields_and_wrong_types(crd_schemas):
    schema = crd_schemas[("networking.istio.io", "v1", "VirtualService")]
    good = {"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
            "metadata": {"name": "r"}, "spec": {"hosts": ["reviews"]}}
    assert not list(v.jsonschema.Draft7Validator(schema).iter_errors(good))
    bad = {**good, "spec": {"hosts": ["reviews"], "htp": []}}
    assert list(v.jsonschema.Draft7Validator(schema).iter_errors(bad))


def test_unknown_field_in_a_virtual_service_fails(tree):
    edit(tree, "networking/virtual-service-reviews-v3.yaml",
         lambda docs: docs[0]["spec"]["http"][0].update({"retry": {"attempts": 3}}))
    report = check(tree)
    assert rules(report) == {"schema"}
    assert any("retry" in p.message for p in report.problems)


def test_wrong_type_in_a_virtual_service_fails(tree):
    def change(docs):
        docs[0]["spec"]["http"][0]["route"][0]["weight"] = "eighty"
    edit(tree, "networking/virtual-service-reviews-80-20.yaml", change)
    assert rules(check(tree)) == {"schema"}


def test_unknown_field_in_a_core_object_fails(tree):
    edit(tree, "platform/kube/productpage-nodeport.yaml",
         lambda docs: docs[0]["spec"].update({"nodePorts": [30080]}))
    assert rules(check(tree)) == {"schema"}


def test_unknown_field_in_an_http_route_fails(tree):
    edit(tree, "gateway-api/route-reviews-v3.yaml",
         lambda docs: docs[0]["spec"]["rules"][0].update({"backends": []}))
    assert rules(check(tree)) == {"schema"}


def test_dangling_virtual_service_host_fails(tree):
    def change(docs):
        docs[0]["spec"]["hosts"] = ["review"]
        docs[0]["spec"]["http"][0]["route"][0]["destination"]["host"] = "review"
    edit(tree, "networking/virtual-service-reviews-v3.yaml", change)
    report = check(tree)
    assert "dangling-host" in rules(report)
    assert rules(report) <= {"dangling-host", "subset"}


def test_dangling_backend_ref_fails(tree):
    def change(docs):
        docs[0]["spec"]["rules"][0]["backendRefs"][0]["name"] = "reviews-v4"
    edit(tree, "gateway-api/route-reviews-v3.yaml", change)
    assert rules(check(tree)) == {"dangling-host"}


def test_subset_without_matching_pods_fails(tree):
    edit(tree, "networking/destination-rule-reviews.yaml",
         lambda docs: docs[0]["spec"]["subsets"].append({"name": "v4", "labels": {"version": "v4"}}))
    report = check(tree)
    assert rules(report) == {"subset"}
    assert any("'v4'" in p.message for p in report.problems)


def test_route_to_undefined_subset_fails(tree):
    def change(docs):
        docs[0]["spec"]["http"][0]["route"][0]["destination"]["subset"] = "v9"
    edit(tree, "networking/virtual-service-reviews-v3.yaml", change)
    assert rules(check(tree)) == {"subset"}


def test_missing_service_account_fails(tree):
    edit(tree, "platform/kube/bookinfo-reviews-v2.yaml",
         lambda docs: docs[0]["spec"]["template"]["spec"].update(
             {"serviceAccountName": "bookinfo-reviewz"}))
    assert rules(check(tree)) == {"service-account"}


def test_service_account_removed_from_bookinfo_yaml_fails(tree):
    edit(tree, "platform/kube/bookinfo.yaml",
         lambda docs: docs.remove(find(docs, "ServiceAccount", "bookinfo-ratings")))
    report = check(tree)
    assert "service-account" in rules(report)
    # bookinfo-psa.yaml no longer matches bookinfo.yaml either.
    assert rules(report) <= {"service-account", "variant"}


def test_container_port_not_matching_service_target_port_fails(tree):
    def change(docs):
        container(find(docs, "Deployment", "details-v1"))["ports"][0]["name"] = "web"
    edit(tree, "platform/kube/bookinfo-details.yaml", change)
    report = check(tree)
    assert "port" in rules(report)
    assert any("details-v1" in p.message for p in report.problems)


def test_route_to_a_port_the_service_lacks_fails(tree):
    def change(docs):
        docs[1]["spec"]["http"][0]["route"][0]["destination"]["port"]["number"] = 9081
    edit(tree, "networking/bookinfo-gateway.yaml", change)
    assert rules(check(tree)) == {"port"}


def test_wrong_image_tag_fails(tree):
    def change(docs):
        container(docs[0])["image"] = "ghcr.io/bookinfo-rs/bookinfo-reviews:0.0.9"
    edit(tree, "platform/kube/bookinfo-reviews-v2.yaml", change)
    assert rules(check(tree)) == {"image"}


def test_image_of_another_service_fails(tree):
    def change(docs):
        container(docs[0])["image"] = "ghcr.io/bookinfo-rs/bookinfo-ratings:0.1.0"
    edit(tree, "platform/kube/bookinfo-reviews-v2.yaml", change)
    report = check(tree)
    # ratings does not read reviews' ENABLE_RATINGS either, so the env rule fires too.
    assert "image" in rules(report)
    assert rules(report) <= {"image", "env"}


def test_load_generator_with_another_tag_or_an_open_security_context_fails(tree):
    def change(docs):
        dep = find(docs, "Deployment", "bookinfo-load")
        container(dep)["image"] = "ghcr.io/bookinfo-rs/bookinfo-load:0.0.9"
        del container(dep)["securityContext"]
    edit(tree, "load/bookinfo-load.yaml", change)
    assert rules(check(tree)) == {"image", "security-context"}


def test_env_var_the_code_does_not_read_fails(tree):
    def change(docs):
        container(find(docs, "Deployment", "reviews-v3"))["env"].append(
            {"name": "LOG_DIR", "value": "/tmp/logs"})
    edit(tree, "platform/kube/bookinfo-dualstack.yaml", change)
    report = check(tree)
    assert "env" in rules(report)
    assert any("LOG_DIR" in p.message for p in report.problems)


def test_env_var_of_another_service_fails(tree):
    def change(docs):
        container(docs[0])["env"].append({"name": "STAR_COLOR", "value": "red"})
    edit(tree, "platform/kube/bookinfo-details-v2.yaml", change)
    assert rules(check(tree)) == {"env"}


def test_missing_probe_and_privileged_container_fail(tree):
    def change(docs):
        c = container(find(docs, "Deployment", "ratings-v2"))
        del c["livenessProbe"]
        c["securityContext"]["allowPrivilegeEscalation"] = True
    edit(tree, "platform/kube/bookinfo-ratings-v2.yaml", change)
    assert rules(check(tree)) == {"probes", "security-context"}


def test_variant_file_drifting_from_bookinfo_yaml_fails(tree):
    def change(docs):
        container(find(docs, "Deployment", "reviews-v3"))["env"][1]["value"] = "blue"
    edit(tree, "platform/kube/bookinfo-psa.yaml", change)
    assert rules(check(tree)) == {"variant"}


def test_init_data_differing_from_the_ratings_crate_fails(tree):
    def change(docs):
        cm = find(docs, "ConfigMap", "mysqldb-init")
        cm["data"]["mysqldb-init.sql"] += "INSERT INTO ratings (ReviewID, Rating) VALUES (3, 1);\n"
    edit(tree, "platform/kube/bookinfo-mysql.yaml", change)
    assert rules(check(tree)) == {"init-data"}


def test_telemetry_naming_an_undeclared_provider_fails(tree):
    edit(tree, "observability/telemetry-otel.yaml",
         lambda docs: docs[0]["spec"]["tracing"][0]["providers"][0].update({"name": "jaeger"}))
    assert rules(check(tree)) == {"tracing"}


def test_overlay_exporting_to_another_backend_fails(tree):
    path = tree / "observability/zipkin/tracing-env.yaml"
    path.write_text(path.read_text().replace("zipkin.istio-system", "zipkin.monitoring"))
    assert rules(check(tree)) == {"tracing"}


def test_broken_kustomize_overlay_fails(tree):
    path = tree / "observability/otel/kustomization.yaml"
    path.write_text(path.read_text().replace("../../platform/kube", "../../platform/kub"))
    assert rules(check(tree, build=True)) == {"kustomize"}


def test_overlay_setting_an_unread_variable_fails(tree):
    path = tree / "observability/otel/tracing-env.yaml"
    path.write_text(path.read_text().replace("OTEL_PROPAGATORS", "PROPAGATORS"))
    report = check(tree, build=True)
    # Without OTEL_PROPAGATORS the services read B3 first, which the OpenTelemetry provider at
    # the waypoints of ambient/otel (built on this overlay) does not rewrite.
    assert rules(report) == {"env", "tracing"}
    assert all("(built)" in p.file for p in report.problems)
    assert {p.file for p in report.problems if p.rule == "tracing"} == {"ambient/otel (built)"}


def test_validator_cli_exit_codes(tree, capsys):
    assert v.main(["--k8s", str(tree), "--no-build"]) == 0
    edit(tree, "networking/virtual-service-reviews-v3.yaml",
         lambda docs: docs[0]["spec"].update({"hostz": []}))
    assert v.main(["--k8s", str(tree), "--no-build"]) == 1
    assert "hostz" in capsys.readouterr().out


# --------------------------------------------------------------------------------------------
# The CRD schemas kept in the repository


def crd_kinds_in(folder: Path) -> dict[tuple[str, str], Path]:
    """(group, kind) -> the file of every CRD below a folder."""
    found = {}
    for path in sorted(folder.rglob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc and doc.get("kind") == "CustomResourceDefinition":
                found[(doc["spec"]["group"], doc["spec"]["names"]["kind"])] = path
    return found


def test_schemas_are_read_from_inside_the_repository():
    schemas = v.default_schemas_dir().resolve()
    assert schemas == (v.K8S / "validate" / "schemas").resolve()
    assert schemas.is_relative_to(v.REPO.resolve())
    for path in schemas.rglob("*"):
        # No symbolic link may lead out of the repository either.
        assert path.resolve().is_relative_to(v.REPO.resolve()), path


def test_every_kept_crd_is_used_by_a_manifest_and_documented():
    used = set()
    for path in v.K8S.rglob("*.yaml"):
        if "validate" in path.relative_to(v.K8S).parts:
            continue
        for doc in yaml.safe_load_all(path.read_text()):
            if isinstance(doc, dict) and "/" in doc.get("apiVersion", ""):
                used.add((doc["apiVersion"].split("/")[0], doc.get("kind")))
    kept = crd_kinds_in(SCHEMAS)
    assert kept, "no CRDs found"
    unused = {k: p.name for k, p in kept.items() if k not in used}
    assert unused == {}
    readme = (SCHEMAS / "README.md").read_text()
    for path in SCHEMAS.rglob("*"):
        if path.is_file() and path.name != "README.md":
            assert f"`{path.relative_to(SCHEMAS).as_posix()}`" in readme, path
    for folder in ("istio", "gateway-api", "cert-manager"):
        assert "Apache License" in (SCHEMAS / folder / "LICENSE").read_text()


def test_custom_resource_without_a_kept_crd_fails(tree):
    policy = {
        "apiVersion": "security.istio.io/v1",
        "kind": "AuthorizationPolicy",
        "metadata": {"name": "allow-nothing"},
        "spec": {},
    }
    (tree / "networking" / "authz.yaml").write_text(yaml.safe_dump(policy))
    report = check(tree)
    assert rules(report) == {"schema"}
    assert any("k8s/validate/schemas" in p.message for p in report.problems)


# --------------------------------------------------------------------------------------------
# Ambient mode (k8s/ambient)


def kustomize(path: Path) -> list[dict]:
    run = subprocess.run([v.kubectl(), "kustomize", str(path)], capture_output=True, text=True,
                         check=True)
    return [o for o in yaml.safe_load_all(run.stdout) if o]


@pytest.mark.parametrize("overlay, provider, first_format", [
    ("ambient", None, None),
    ("ambient/zipkin", "zipkin", "b3multi"),
    ("ambient/otel", "otel-tracing", "tracecontext"),
])
def test_ambient_overlays_enrol_the_namespace_and_trace_both_waypoints(
    overlay, provider, first_format
):
    objs = kustomize(v.K8S / overlay)
    by = {(o["kind"], o["metadata"]["name"]): o for o in objs}
    ns = by[("Namespace", "default")]["metadata"]["labels"]
    assert ns == {"istio.io/dataplane-mode": "ambient", "istio.io/use-waypoint": "waypoint"}
    assert by[("Service", "reviews")]["metadata"]["labels"]["istio.io/use-waypoint"] == (
        "reviews-svc-waypoint")
    for name in ("waypoint", "reviews-svc-waypoint"):
        gw = by[("Gateway", name)]
        assert gw["apiVersion"] == "gateway.networking.k8s.io/v1"
        assert gw["spec"]["gatewayClassName"] == "istio-waypoint"
        assert gw["metadata"]["labels"]["istio.io/waypoint-for"] in ("service", "all")
        assert {"name": "mesh", "port": 15008, "protocol": "HBONE"} in gw["spec"]["listeners"]
    # No sidecar anywhere: the Deployments are BookInfo's own, four services, six versions.
    assert sorted(n for k, n in by if k == "Deployment") == [
        "details-v1", "productpage-v1", "ratings-v1", "reviews-v1", "reviews-v2", "reviews-v3"]
    telemetry = [o for o in objs if o["kind"] == "Telemetry"]
    if provider is None:
        assert telemetry == []
        return
    [tel] = telemetry
    assert tel["apiVersion"] == "telemetry.istio.io/v1"
    assert sorted((r["group"], r["kind"], r["name"]) for r in tel["spec"]["targetRefs"]) == [
        ("gateway.networking.k8s.io", "Gateway", "reviews-svc-waypoint"),
        ("gateway.networking.k8s.io", "Gateway", "waypoint"),
    ]
    assert tel["spec"]["tracing"] == [
        {"providers": [{"name": provider}], "randomSamplingPercentage": 100.0}]
    for dep in (o for o in objs if o["kind"] == "Deployment"):
        env = {e["name"]: e.get("value") for e in container(dep)["env"]}
        assert v.first_trace_format(env["OTEL_PROPAGATORS"]) == first_format


def test_ambient_files_are_checked_against_the_crds(tree):
    def change(docs):
        docs[0]["spec"]["listeners"][0]["tunnel"] = "hbone"
    edit(tree, "ambient/waypoints/waypoint.yaml", change)
    edit(tree, "ambient/zipkin/telemetry-waypoints.yaml",
         lambda docs: docs[0]["spec"]["tracing"][0].update({"samplingPercentage": 100}))
    report = check(tree)
    assert rules(report) == {"schema"}
    assert {p.file for p in report.problems} == {
        "ambient/waypoints/waypoint.yaml", "ambient/zipkin/telemetry-waypoints.yaml"}


def test_core_objects_of_the_ambient_overlays_are_checked_strictly(tree):
    edit(tree, "ambient/waypoints/namespace.yaml",
         lambda docs: docs[0].update({"spec": {"finalizer": ["kubernetes"]}}))
    assert rules(check(tree)) == {"schema"}


def test_waypoint_without_an_hbone_listener_fails(tree):
    def change(docs):
        docs[0]["spec"]["listeners"][0].update({"protocol": "HTTP", "port": 80})
    edit(tree, "ambient/waypoints/reviews-svc-waypoint.yaml", change)
    report = check(tree)
    assert rules(report) == {"waypoint"}
    assert any("15008" in p.message for p in report.problems)


def test_namespace_label_naming_no_waypoint_fails(tree):
    edit(tree, "ambient/waypoints/namespace.yaml",
         lambda docs: docs[0]["metadata"]["labels"].update({"istio.io/use-waypoint": "waypoints"}))
    report = check(tree)
    assert rules(report) == {"waypoint"}
    assert any("'waypoints'" in p.message for p in report.problems)


def test_service_label_naming_no_waypoint_fails_in_the_builds(tree):
    edit(tree, "ambient/waypoints/reviews-use-waypoint.yaml",
         lambda docs: docs[0]["metadata"]["labels"].update(
             {"istio.io/use-waypoint": "reviews-waypoint"}))
    assert rules(check(tree)) == set()  # the label only exists once the patch is applied
    report = check(tree, build=True)
    assert rules(report) == {"waypoint"}
    messages = " ".join(p.message for p in report.problems)
    assert "'reviews-waypoint' names no waypoint" in messages
    assert "uses waypoint 'reviews-svc-waypoint'" in messages  # now unused
    assert all("(built)" in p.file for p in report.problems)


def test_waypoint_for_workloads_used_by_a_service_fails(tree):
    edit(tree, "ambient/waypoints/reviews-svc-waypoint.yaml",
         lambda docs: docs[0]["metadata"]["labels"].update({"istio.io/waypoint-for": "workload"}))
    report = check(tree, build=True)
    assert rules(report) == {"waypoint"}
    assert any("bypasses" in p.message for p in report.problems)


def test_ambient_namespace_that_also_injects_sidecars_fails(tree):
    edit(tree, "ambient/waypoints/namespace.yaml",
         lambda docs: docs[0]["metadata"]["labels"].update({"istio-injection": "enabled"}))
    assert rules(check(tree)) == {"waypoint"}


def test_telemetry_targeting_an_undefined_waypoint_fails(tree):
    def change(docs):
        docs[0]["spec"]["targetRefs"][1]["name"] = "reviews-waypoint"
    edit(tree, "ambient/otel/telemetry-waypoints.yaml", change)
    report = check(tree, build=True)
    assert "dangling-target" in rules(report)
    # ... and reviews-svc-waypoint is left untraced in the otel build.
    assert rules(report) == {"dangling-target", "tracing"}


def test_waypoint_left_out_of_the_telemetry_fails(tree):
    edit(tree, "ambient/zipkin/telemetry-waypoints.yaml",
         lambda docs: docs[0]["spec"]["targetRefs"].pop())
    assert rules(check(tree)) == set()
    report = check(tree, build=True)
    assert rules(report) == {"tracing"}
    assert any("'reviews-svc-waypoint' is targeted by no Telemetry" in p.message
               for p in report.problems)


def test_waypoints_reporting_to_another_backend_than_the_services_fails(tree):
    # Zipkin overlay services with the OpenTelemetry provider at the waypoints: other backend,
    # and the services would read B3, which that provider leaves stale.
    edit(tree, "ambient/zipkin/telemetry-waypoints.yaml",
         lambda docs: docs[0]["spec"]["tracing"][0]["providers"][0].update(
             {"name": "otel-tracing"}))
    report = check(tree, build=True)
    assert rules(report) == {"tracing"}
    messages = " ".join(p.message for p in report.problems)
    assert "opentelemetry-collector.observability" in messages
    assert "reads 'b3multi' first" in messages


def test_telemetry_with_both_selector_and_target_refs_fails(tree):
    edit(tree, "ambient/otel/telemetry-waypoints.yaml",
         lambda docs: docs[0]["spec"].update({"selector": {"matchLabels": {"app": "reviews"}}}))
    assert rules(check(tree)) == {"schema"}


def test_component_used_by_no_kustomization_fails(tree):
    shutil.copytree(tree / "ambient/waypoints", tree / "ambient/spare")
    report = check(tree, build=True)
    assert rules(report) == {"kustomize"}
    assert [p.file for p in report.problems] == ["ambient/spare"]


def test_default_first_format_is_the_services_own():
    src = (v.REPO / v.PROPAGATION_SOURCE).read_text()
    default = re.search(r"impl Default for Propagation \{.*?read: vec!\[\s*Format::(\w+)", src,
                        re.S)
    assert default, f"no default read order found in {v.PROPAGATION_SOURCE}"
    name = re.search(rf"Format::{default[1]} => \"(\w+)\"", src)
    assert name and name[1] == v.DEFAULT_FIRST_FORMAT


def test_first_trace_format_follows_the_services_parser():
    assert v.first_trace_format("") == "b3"  # the default precedence
    assert v.first_trace_format("baggage, TraceContext,b3") == "tracecontext"
    assert v.first_trace_format("baggage") is None


def test_namespace_wide_telemetry_traces_every_waypoint(tree):
    edit(tree, "ambient/zipkin/telemetry-waypoints.yaml",
         lambda docs: docs[0]["spec"].pop("targetRefs"))
    assert check(tree, build=True).problems == []


# --------------------------------------------------------------------------------------------
# Programs run inside the images (IMAGE_PROGRAMS; docker/README.md)


def set_container(rel: str, deployment: str, **fields):
    def change(docs):
        container(find(docs, "Deployment", deployment)).update(fields)
    return rel, change


@pytest.mark.parametrize("fields", [
    {"startupProbe": {"exec": {"command": ["sh", "-c", "wget -qO- localhost:9080/health"]}}},
    {"startupProbe": {"exec": {"command": ["curl", "-fsS", "localhost:9080/health"]}}},
    {"lifecycle": {"preStop": {"exec": {"command": ["/bin/sleep", "5"]}}}},
    {"command": ["/bin/sh", "-c", "exec productpage 9080"]},
    {"command": ["/usr/bin/productpage"], "args": ["9080"]},  # right name, wrong place
])
def test_productpage_running_what_its_image_lacks_fails(tree, fields):
    edit(tree, *set_container("platform/kube/bookinfo.yaml", "productpage-v1", **fields))
    report = check(tree)
    assert "programs" in rules(report)
    # bookinfo-psa.yaml no longer matches bookinfo.yaml either.
    assert rules(report) <= {"programs", "variant"}
    assert all("bookinfo-productpage" in p.message
               for p in report.problems if p.rule == "programs")


@pytest.mark.parametrize("rel, deployment, fields", [
    ("platform/kube/bookinfo-details.yaml", "details-v1",
     {"lifecycle": {"postStart": {"exec": {"command": ["bash", "-c", "true"]}}}}),
    ("platform/kube/bookinfo-reviews-v2.yaml", "reviews-v2",
     {"startupProbe": {"exec": {"command": ["bash", "-c", "curl -fsS localhost:9080/health"]}}}),
    ("load/bookinfo-load.yaml", "bookinfo-load", {"command": ["curl", "productpage:9080"]}),
])
def test_other_images_without_the_program_fail(tree, rel, deployment, fields):
    edit(tree, *set_container(rel, deployment, **fields))
    assert rules(check(tree)) == {"programs"}


@pytest.mark.parametrize("rel, deployment, fields", [
    ("platform/kube/bookinfo-details.yaml", "details-v1",
     {"startupProbe": {"exec": {"command": ["/usr/local/bin/details", "--health-check"]}}}),
    ("platform/kube/bookinfo-reviews-v2.yaml", "reviews-v2",
     {"startupProbe": {"exec": {"command": ["curl", "-fsS", "localhost:9080/health"]}},
      "lifecycle": {"preStop": {"exec": {"command": ["/usr/bin/curl", "-fsS", "ratings:9080"]}}}}),
    ("platform/kube/bookinfo-ratings-v2.yaml", "ratings-v2",
     {"startupProbe": {"exec": {"command": ["/bin/bash", "-c", "curl -fsS localhost:9080/health"]}},
      "command": ["ratings"], "args": ["9080"]}),
    ("load/bookinfo-load.yaml", "bookinfo-load", {"command": ["bookinfo-load"]}),
])
def test_programs_the_image_contains_pass(tree, rel, deployment, fields):
    edit(tree, *set_container(rel, deployment, **fields))
    assert check(tree).problems == []


def test_productpage_health_check_exec_probe_passes(tree):
    fields = {"startupProbe": {"exec": {"command": ["/usr/local/bin/productpage", "--health-check"]}}}
    for rel in ("bookinfo.yaml", "bookinfo-psa.yaml", "bookinfo-dualstack.yaml"):
        edit(tree, *set_container(f"platform/kube/{rel}", "productpage-v1", **fields))
    assert check(tree).problems == []


def test_every_image_part_has_a_program_table():
    # Each BookInfo image the manifests may name has an entry, and each entry holds the image's
    # own binary in /usr/local/bin.
    for svc in v.SERVICES:
        assert f"/usr/local/bin/{svc}" in v.IMAGE_PROGRAMS[svc]
    for part in v.TOOLS:
        assert any(p.startswith("/usr/local/bin/") for p in v.IMAGE_PROGRAMS[part])
    assert v.resolve_program("curl", v.IMAGE_PROGRAMS["reviews"]) == "/usr/bin/curl"
    assert v.resolve_program("bash", v.IMAGE_PROGRAMS["productpage"]) is None
    assert v.resolve_program("./productpage", v.IMAGE_PROGRAMS["productpage"]) is None
