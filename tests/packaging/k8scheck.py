"""Offline checks of Kubernetes manifests (no API server on these machines).

Shared by check-manifests.py and check-samples.py. Only the standard library, PyYAML (when importable) and
kubectl are used. Where Kubernetes' own code can judge offline, it does:
  * `kubectl kustomize` renders the overlays;
  * `kubectl label --local -o json` decodes every object with kubectl's decoder;
  * `kubectl set env --local -o json` converts workloads (Pod, Deployment, Job, ...) to their typed Go structs
    and back: a field that does not exist in the API (a typo) is dropped, and we report it.
Everything else (webhook selectors, RBAC, CRD schemas) is checked here against the rules we promise.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field

try:
    import yaml  # PyYAML

    HAVE_PYYAML = True
except ImportError:  # pragma: no cover - the pyenv Python has it; kubectl decodes when it is missing
    HAVE_PYYAML = False

WORKLOAD_KINDS = {"Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob"}
WRITE_VERBS = {"create", "update", "patch", "delete", "deletecollection", "escalate", "bind", "impersonate",
               "approve", "sign", "*"}


# ---------------------------------------------------------------------------------------------------------
# Results


@dataclass
class Report:
    """Collects check outcomes; every failure names the object it is about."""

    passed: int = 0
    failures: list[str] = field(default_factory=list)
    verbose: bool = False

    def check(self, condition: bool, where: str, message: str) -> bool:
        if condition:
            self.passed += 1
            if self.verbose:
                print(f"ok   {where}: {message}")
        else:
            self.failures.append(f"{where}: {message}")
            print(f"FAIL {where}: {message}", file=sys.stderr)
        return condition

    def fail(self, where: str, message: str) -> None:
        self.check(False, where, message)


def describe(obj: dict) -> str:
    md = obj.get("metadata") or {}
    ns = md.get("namespace")
    name = md.get("name") or md.get("generateName") or "<no name>"
    return f"{obj.get('kind', '<no kind>')}/{ns + '/' if ns else ''}{name}"


# ---------------------------------------------------------------------------------------------------------
# Running kubectl and parsing


def run(cmd: list[str], stdin: str | None = None) -> subprocess.CompletedProcess:
    # An empty kubeconfig: kubectl must never try to reach a cluster from these checks.
    env = dict(os.environ, KUBECONFIG=os.devnull)
    return subprocess.run(cmd, input=stdin, capture_output=True, text=True, env=env, timeout=120)


def kustomize(directory: str) -> str:
    result = run(["kubectl", "kustomize", directory])
    if result.returncode != 0:
        raise RuntimeError(f"kubectl kustomize {directory} failed: {result.stderr.strip()}")
    return result.stdout


def split_json_stream(text: str) -> list[dict]:
    decoder = json.JSONDecoder()
    objects, index = [], 0
    while True:
        while index < len(text) and text[index].isspace():
            index += 1
        if index >= len(text):
            return objects
        obj, index = decoder.raw_decode(text, index)
        objects.append(obj)


def parse_yaml(text: str, source: str) -> list[dict]:
    """Parses a multi-document YAML stream into objects (empty documents dropped)."""
    if HAVE_PYYAML:
        try:
            docs = [d for d in yaml.safe_load_all(text) if d is not None]
        except yaml.YAMLError as error:
            raise ValueError(f"{source}: not valid YAML: {error}") from error
    else:
        docs = kubectl_decode(text, source)
    for doc in docs:
        if not isinstance(doc, dict):
            raise ValueError(f"{source}: a document is a {type(doc).__name__}, expected a Kubernetes object (a mapping)")
    return docs


def kubectl_decode(text: str, source: str) -> list[dict]:
    """Decodes objects with kubectl's own decoder (no server): a harmless local label, removed again."""
    result = run(["kubectl", "label", "--local", "-f", "-", "-o", "json", "fluid-serverless.check/decoded=1"], text)
    if result.returncode != 0:
        raise ValueError(f"{source}: kubectl cannot decode it: {result.stderr.strip()}")
    objects = split_json_stream(result.stdout)
    for obj in objects:
        labels = obj["metadata"].get("labels", {})
        labels.pop("fluid-serverless.check/decoded", None)
        if not labels:
            obj["metadata"].pop("labels", None)
    return objects


def check_objects_parse(report: Report, docs: list[dict], text: str, where: str) -> None:
    for doc in docs:
        md = doc.get("metadata")
        report.check(bool(doc.get("apiVersion")) and bool(doc.get("kind")) and isinstance(md, dict)
                     and bool(md.get("name") or md.get("generateName")),
                     f"{where} {describe(doc)}", "has apiVersion, kind and metadata.name")
    if HAVE_PYYAML:
        # Cross-check with kubectl's decoder: the same number of objects, each decodable.
        try:
            decoded = kubectl_decode(text, where)
            report.check(len(decoded) == len(docs), where,
                         f"kubectl decodes the same {len(docs)} objects (got {len(decoded)})")
        except ValueError as error:
            report.fail(where, str(error))


def lost_fields(original, converted, path: str = "") -> list[str]:
    """Paths present in `original` that the typed round-trip dropped or changed."""
    if isinstance(original, dict):
        if not isinstance(converted, dict):
            return [path or "/"]
        lost = []
        for key, value in original.items():
            if key not in converted:
                if value in ({}, [], None, ""):
                    continue  # empty values are legitimately omitted by omitempty
                lost.append(f"{path}.{key}")
            else:
                lost.extend(lost_fields(value, converted[key], f"{path}.{key}"))
        return lost
    if isinstance(original, list):
        if not isinstance(converted, list) or len(converted) != len(original):
            return [path]
        lost = []
        for i, (a, b) in enumerate(zip(original, converted)):
            lost.extend(lost_fields(a, b, f"{path}[{i}]"))
        return lost
    if original != converted and str(original) != str(converted):
        return [f"{path} ({original!r} became {converted!r})"]
    return []


def check_typed_round_trip(report: Report, obj: dict, where: str) -> None:
    """Converts a workload through kubectl's typed structs; a dropped field is a field the API does not have."""
    marker = "FLUID_SERVERLESS_CHECK"
    result = run(["kubectl", "set", "env", "--local", "-f", "-", "-o", "json", f"{marker}=1"],
                 json.dumps(obj))
    if result.returncode != 0:
        report.fail(f"{where} {describe(obj)}", f"kubectl cannot convert it to a typed {obj.get('kind')}: "
                    f"{result.stderr.strip()}")
        return
    converted = _without_env(split_json_stream(result.stdout)[0], marker)
    lost = lost_fields(obj, converted)
    report.check(not lost, f"{where} {describe(obj)}",
                 "every field is a real API field" + ("" if not lost else f"; unknown or mistyped: {', '.join(lost)}"))


def _without_env(node, name: str):
    """Removes the marker variable that `kubectl set env` added (and env lists it alone created)."""
    if isinstance(node, dict):
        result = {}
        for key, value in node.items():
            if key == "env" and isinstance(value, list):
                value = [v for v in value if not (isinstance(v, dict) and v.get("name") == name)]
                if not value:
                    continue
            result[key] = _without_env(value, name)
        return result
    if isinstance(node, list):
        return [_without_env(v, name) for v in node]
    return node


def pod_spec_of(obj: dict) -> dict | None:
    kind = obj.get("kind")
    spec = obj.get("spec") or {}
    if kind == "Pod":
        return spec
    if kind in {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"}:
        return (spec.get("template") or {}).get("spec")
    if kind == "CronJob":
        return (((spec.get("jobTemplate") or {}).get("spec") or {}).get("template") or {}).get("spec")
    if kind == "Service" and obj.get("apiVersion", "").startswith("serving.knative.dev/"):
        return (spec.get("template") or {}).get("spec")
    return None


def pod_metadata_of(obj: dict) -> dict:
    kind = obj.get("kind")
    spec = obj.get("spec") or {}
    if kind == "Pod":
        return obj.get("metadata") or {}
    if kind == "CronJob":
        return ((((spec.get("jobTemplate") or {}).get("spec") or {}).get("template") or {}).get("metadata")) or {}
    return ((spec.get("template") or {}).get("metadata")) or {}


# ---------------------------------------------------------------------------------------------------------
# Label selectors (metav1.LabelSelector semantics)


def selector_matches(selector: dict | None, labels: dict[str, str]) -> bool:
    """An absent selector matches everything, as in admission webhooks."""
    if not selector:
        return True
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], expr.get("values") or []
        present = key in labels
        if op == "In" and not (present and labels[key] in values):
            return False
        if op == "NotIn" and present and labels[key] in values:
            return False
        if op == "Exists" and not present:
            return False
        if op == "DoesNotExist" and present:
            return False
        if op not in {"In", "NotIn", "Exists", "DoesNotExist"}:
            raise ValueError(f"unknown selector operator {op!r}")
    return True


# ---------------------------------------------------------------------------------------------------------
# CRD schemas: structural rules and a small OpenAPI v3 validator for custom resources


def check_structural(report: Report, schema: dict, where: str, path: str = "") -> None:
    """The parts of Kubernetes' structural-schema rules a hand-written CRD most often breaks."""
    if schema.get("x-kubernetes-int-or-string"):
        any_of = schema.get("anyOf")
        report.check(any_of is None or any_of == [{"type": "integer"}, {"type": "string"}], where,
                     f"{path or '/'}: int-or-string uses exactly anyOf [integer, string]")
        return
    if schema.get("x-kubernetes-preserve-unknown-fields") and "type" not in schema:
        return
    if not report.check("type" in schema, where, f"{path or '/'}: has a type (structural schema)"):
        return
    kind = schema["type"]
    if kind == "object":
        props = schema.get("properties") or {}
        for name in schema.get("required") or []:
            report.check(name in props, where, f"{path or '/'}: required field {name!r} is declared")
        for name, sub in props.items():
            check_structural(report, sub, where, f"{path}.{name}")
        if isinstance(schema.get("additionalProperties"), dict):
            check_structural(report, schema["additionalProperties"], where, f"{path}.*")
    elif kind == "array":
        if report.check(isinstance(schema.get("items"), dict), where, f"{path}: array declares items"):
            check_structural(report, schema["items"], where, f"{path}[]")
            if schema.get("x-kubernetes-list-type") == "map":
                required = set(schema["items"].get("required") or [])
                for key in schema.get("x-kubernetes-list-map-keys") or []:
                    report.check(key in required, where, f"{path}: list-map key {key!r} is required in items")
    for value in schema.get("enum") or []:
        expected = {"string": str, "integer": int, "boolean": bool, "number": (int, float)}.get(kind)
        if expected:
            report.check(isinstance(value, expected), where, f"{path}: enum value {value!r} is a {kind}")


def validate_against(schema: dict, value, path: str = "") -> list[str]:
    """Validates a custom resource against an openAPIV3Schema; unknown fields are errors unless preserved
    (the API server would silently prune them, and the user's setting would be lost)."""
    errors: list[str] = []
    if schema.get("x-kubernetes-int-or-string"):
        if not isinstance(value, (int, str)) or isinstance(value, bool):
            return [f"{path}: expected an integer or a string, got {value!r}"]
        if isinstance(value, str) and "pattern" in schema and not re.search(schema["pattern"], value):
            return [f"{path}: {value!r} does not match {schema['pattern']}"]
        return []
    kind = schema.get("type")
    checks = {"object": dict, "array": list, "string": str, "boolean": bool, "integer": int}
    if kind in checks and (not isinstance(value, checks[kind]) or (kind == "integer" and isinstance(value, bool))):
        return [f"{path or '/'}: expected {kind}, got {type(value).__name__} {value!r}"]
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{path}: {value!r} is not one of {schema['enum']}")
    if isinstance(value, str):
        if "pattern" in schema and not re.search(schema["pattern"], value):
            errors.append(f"{path}: {value!r} does not match {schema['pattern']}")
        if len(value) < schema.get("minLength", 0):
            errors.append(f"{path}: shorter than {schema['minLength']} characters")
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            errors.append(f"{path}: longer than {schema['maxLength']} characters")
    if isinstance(value, dict):
        props = schema.get("properties") or {}
        for name in schema.get("required") or []:
            if name not in value:
                errors.append(f"{path}: missing required field {name!r}")
        extra = schema.get("additionalProperties")
        for name, sub in value.items():
            if name in props:
                errors.extend(validate_against(props[name], sub, f"{path}.{name}"))
            elif isinstance(extra, dict):
                errors.extend(validate_against(extra, sub, f"{path}.{name}"))
            elif not schema.get("x-kubernetes-preserve-unknown-fields") and path != ".metadata":
                errors.append(f"{path}.{name}: unknown field (the API server would drop it)")
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        for i, item in enumerate(value):
            errors.extend(validate_against(schema["items"], item, f"{path}[{i}]"))
        if schema.get("x-kubernetes-list-type") == "map":
            keys = schema.get("x-kubernetes-list-map-keys") or []
            seen = [tuple(item.get(k) for k in keys) for item in value if isinstance(item, dict)]
            if len(seen) != len(set(seen)):
                errors.append(f"{path}: duplicate entries for key {keys}")
    return errors


def crd_schemas(crds: list[dict]) -> dict[tuple[str, str], dict]:
    """(apiVersion, kind) -> openAPIV3Schema, for every served version."""
    schemas = {}
    for crd in crds:
        group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
        for version in crd["spec"]["versions"]:
            if version.get("served"):
                schemas[(f"{group}/{version['name']}", kind)] = version["schema"]["openAPIV3Schema"]
    return schemas


def load_yaml_file(path: str) -> list[dict]:
    with open(path, encoding="utf-8") as handle:
        return parse_yaml(handle.read(), path)


def write_temp(text: str, suffix: str = ".yaml") -> str:
    handle = tempfile.NamedTemporaryFile("w", suffix=suffix, delete=False, encoding="utf-8")
    with handle:
        handle.write(text)
    return handle.name
