"""Checks every sample under samples/ offline (samples/demo/ belongs to the sidecar's demo and is skipped).

Usage: check_samples.py REPO_ROOT [--verbose]

For each sample file (or each kustomization directory, rendered with `kubectl kustomize`):
  * every object parses (PyYAML and kubectl's decoder); workloads, and the pod template of a Knative Service,
    survive kubectl's typed round-trip (no misspelt field);
  * Datasets and InjectionPolicies validate against the CRD schemas of manifests/ (what the API server enforces);
  * every pod-bearing object that does not opt out is routed to the injector by the webhook selectors of
    manifests/ (evaluated on the sample's pod and namespace labels), names only Datasets that the samples define
    in its namespace, and uses only known serverless.fluid.io/ annotations with valid values;
  * every Secret a Dataset names exists with the key it names; every sample is described in samples/README.md.
Then reader.py runs for real against moto_server (bytes equal → exit 0; one changed file → exit 1 naming it).
"""

from __future__ import annotations

import glob
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import k8scheck  # noqa: E402
from k8scheck import Report, describe  # noqa: E402

QUANTITY = re.compile(r"^[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$")
DATASETS_ANNOTATION = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?(:/[^,:]*)?(,[a-z0-9]([-a-z0-9.]*[a-z0-9])?(:/[^,:]*)?)*$")
BOOLEAN = {"true", "false"}
ANNOTATION_VALUES = {
    "mode": lambda v: v in {"auto", "fuse", "copy", "s3"},
    "cache-size": lambda v: bool(QUANTITY.match(v)),
    "cache-medium": lambda v: v in {"disk", "memory"},
    "wait-for-prefetch": lambda v: v in BOOLEAN,
    "native-sidecar": lambda v: v in BOOLEAN | {"auto"},
    "inject": lambda v: v in BOOLEAN,
    "datasets": lambda v: bool(DATASETS_ANNOTATION.match(v)),
    "platform": lambda v: v in {"auto", "default", "knative", "eci"},
    "prefetch": lambda v: bool(v.strip()),
}
# The schemes the sidecar serves (contracts/SidecarConfigValidator.cs SourceSchemes), read from there at start.
SOURCE_SCHEMES: set[str] = set()
# Fields of a Knative RevisionSpec that are not PodSpec fields.
KNATIVE_REVISION_FIELDS = {"containerConcurrency", "timeoutSeconds", "responseStartTimeoutSeconds", "idleTimeoutSeconds"}


def contract_source_schemes(repo: str) -> set[str]:
    """The dataset source schemes, from the one list in contracts/SidecarConfigValidator.cs."""
    with open(os.path.join(repo, "contracts", "SidecarConfigValidator.cs"), encoding="utf-8") as handle:
        match = re.search(r"SourceSchemes\s*=\s*\[([^\]]*)\]", handle.read())
    if not match:
        raise SystemExit("check-samples: SourceSchemes not found in contracts/SidecarConfigValidator.cs")
    return set(re.findall(r'"([a-z0-9]+)"', match.group(1)))


def contract_annotations(repo: str) -> set[str]:
    """The serverless.fluid.io/ keys a user may set, from contracts/Annotations.cs."""
    with open(os.path.join(repo, "contracts", "Annotations.cs"), encoding="utf-8") as handle:
        text = handle.read()
    keys = set(re.findall(r'=\s*Prefix\s*\+\s*"([a-z-]+)"', text))
    return keys - {"status", "sidecar-config", "injection"}  # written by the injector / a namespace label


def sample_units(repo: str) -> list[tuple[str, str]]:
    """(name, YAML text): one per kustomization directory (rendered) and one per other YAML file."""
    root = os.path.join(repo, "samples")
    kustomized = sorted(os.path.dirname(p) for p in glob.glob(os.path.join(root, "**", "kustomization.yaml"),
                                                               recursive=True))
    units = []
    for directory in kustomized:
        if not is_demo(root, directory):
            units.append((os.path.relpath(directory, repo) + "/", k8scheck.kustomize(directory)))
    for path in sorted(glob.glob(os.path.join(root, "**", "*.yaml"), recursive=True)):
        if is_demo(root, path) or any(path.startswith(d + os.sep) for d in kustomized):
            continue
        with open(path, encoding="utf-8") as handle:
            units.append((os.path.relpath(path, repo), handle.read()))
    return units


def is_demo(root: str, path: str) -> bool:
    return os.path.relpath(path, root).split(os.sep)[0] == "demo"


def namespace_of(obj: dict) -> str:
    return (obj.get("metadata") or {}).get("namespace") or "default"


def main(argv: list[str]) -> int:
    repo = os.path.abspath(argv[1] if len(argv) > 1 and not argv[1].startswith("--") else ".")
    report = Report(verbose="--verbose" in argv)
    installed = k8scheck.parse_yaml(k8scheck.kustomize(os.path.join(repo, "manifests")), "manifests/")
    schemas = k8scheck.crd_schemas([d for d in installed if d["kind"] == "CustomResourceDefinition"])
    webhooks = [h for d in installed if d["kind"] == "MutatingWebhookConfiguration" for h in d["webhooks"]]
    known_annotations = contract_annotations(repo)
    SOURCE_SCHEMES.update(contract_source_schemes(repo))
    report.check({"s3", "oss", "hdfs", "nfs", "local"} <= SOURCE_SCHEMES, "contracts",
                 f"the contract's source schemes include s3, oss, hdfs, nfs and local (got {sorted(SOURCE_SCHEMES)})")

    everything: list[tuple[str, dict]] = []
    units = sample_units(repo)
    report.check(len(units) >= 8, "samples", f"at least 8 samples (got {len(units)})")
    for name, text in units:
        try:
            docs = k8scheck.parse_yaml(text, name)
        except ValueError as error:
            report.fail(name, str(error))
            continue
        report.check(bool(docs), name, "holds at least one object")
        k8scheck.check_objects_parse(report, docs, text, name)
        everything.extend((name, d) for d in docs)

    namespaces = {d["metadata"]["name"]: d["metadata"].get("labels") or {} for _, d in everything
                  if d["kind"] == "Namespace"}
    datasets = {(namespace_of(d), d["metadata"]["name"]) for _, d in everything if d["kind"] == "Dataset"}
    secrets = {(namespace_of(d), d["metadata"]["name"]): set((d.get("data") or {}) | (d.get("stringData") or {}))
               for _, d in everything if d["kind"] == "Secret"}
    policies = [d for _, d in everything if d["kind"] == "InjectionPolicy"]

    injected_kinds = set()
    for name, obj in everything:
        at = f"{name} {describe(obj)}"
        key = (obj.get("apiVersion"), obj.get("kind"))
        if key in schemas:
            errors = k8scheck.validate_against(schemas[key], obj)
            report.check(not errors, at, "valid against the CRD schema in manifests/"
                         + ("" if not errors else ": " + "; ".join(errors)))
        if obj["kind"] == "Dataset":
            check_dataset(report, at, obj, secrets)
        if obj["kind"] in k8scheck.WORKLOAD_KINDS:
            k8scheck.check_typed_round_trip(report, obj, name)
        pod_spec = k8scheck.pod_spec_of(obj)
        if pod_spec is None:
            continue
        if obj["kind"] not in k8scheck.WORKLOAD_KINDS:
            # A Knative Service: its template is a pod spec plus Knative's revision fields; check the rest as a Pod.
            as_pod = {k: v for k, v in pod_spec.items() if k not in KNATIVE_REVISION_FIELDS}
            k8scheck.check_typed_round_trip(report, {"apiVersion": "v1", "kind": "Pod",
                                                     "metadata": {"name": obj["metadata"]["name"]},
                                                     "spec": as_pod}, name)
        if check_pod(report, at, obj, pod_spec, namespaces, datasets, policies, webhooks, known_annotations):
            injected_kinds.add(obj["kind"] if obj["kind"] != "Service" else "Knative Service")
    for kind in ["Pod", "Deployment", "Job", "Knative Service"]:
        report.check(kind in injected_kinds, "samples", f"a {kind} sample is injected")
    report.check(any(d["spec"]["mounts"][0]["mountPoint"].startswith(scheme)
                     for _, d in everything if d["kind"] == "Dataset" for scheme in ("s3://",)), "samples",
                 "a Dataset points at S3")
    for scheme in ("http", "local://", "oss://", "hdfs://", "nfs://"):
        report.check(any(d["spec"]["mounts"][0]["mountPoint"].startswith(scheme)
                         for _, d in everything if d["kind"] == "Dataset"), "samples", f"a Dataset points at {scheme}")

    with open(os.path.join(repo, "samples", "README.md"), encoding="utf-8") as handle:
        readme = handle.read()
    for name, _ in units:
        relative = os.path.relpath(os.path.join(repo, name), os.path.join(repo, "samples"))
        relative += "/" if name.endswith("/") else ""
        report.check(relative in readme, name, f"samples/README.md describes it ({relative})")

    injector = os.environ.get("FLUID_INJECTOR_DLL")
    if report.check(bool(injector) and os.path.isfile(injector), "samples",
                    f"the injector's offline tool is available (FLUID_INJECTOR_DLL={injector})"):
        check_offline_injection(report, units, everything, injector)
    check_reader(report, repo)
    print(f"samples: {report.passed} passed, {len(report.failures)} failed")
    return 1 if report.failures else 0


def check_dataset(report: Report, at: str, dataset: dict, secrets: dict) -> None:
    for mount in dataset["spec"].get("mounts") or []:
        scheme = mount["mountPoint"].split("://", 1)[0]
        report.check(scheme in SOURCE_SCHEMES and "://" in mount["mountPoint"], at,
                     f"mountPoint {mount['mountPoint']} uses a supported scheme ({sorted(SOURCE_SCHEMES)})")
        for option in mount.get("encryptOptions") or []:
            ref = option["valueFrom"]["secretKeyRef"]
            keys = secrets.get((namespace_of(dataset), ref["name"]))
            report.check(keys is not None and ref.get("key") in keys, at,
                         f"encryptOption {option['name']} names Secret {ref['name']} key {ref.get('key')}, "
                         f"defined in the samples")


def check_pod(report: Report, at: str, obj: dict, pod_spec: dict, namespaces: dict, datasets: set,
              policies: list[dict], webhooks: list[dict], known_annotations: set[str]) -> bool:
    """Returns True when the pod is one the injector injects."""
    metadata = k8scheck.pod_metadata_of(obj)
    labels, annotations = metadata.get("labels") or {}, metadata.get("annotations") or {}
    namespace = namespace_of(obj)
    for key, value in annotations.items():
        if key.startswith("serverless.fluid.io/"):
            short = key.removeprefix("serverless.fluid.io/")
            if report.check(short in known_annotations, at, f"annotation {key} is part of contracts/Annotations.cs"):
                validator = ANNOTATION_VALUES.get(short)
                report.check(validator is None or validator(str(value)), at, f"annotation {key}={value!r} is valid")
    ns_labels = {"kubernetes.io/metadata.name": namespace, **namespaces.get(namespace, {})}
    calls = sum(1 for hook in webhooks
                if k8scheck.selector_matches(hook.get("namespaceSelector"), ns_labels)
                and k8scheck.selector_matches(hook.get("objectSelector"), labels))
    if labels.get("serverless.fluid.io/inject") == "false":
        report.check(calls == 0, at, "opts out, and the webhook selectors of manifests/ leave it alone")
        return False
    report.check(calls == 1, at, f"the webhook selectors of manifests/ send it to the injector once (got {calls})")
    used = set()
    for volume in pod_spec.get("volumes") or []:
        claim = (volume.get("persistentVolumeClaim") or {}).get("claimName")
        if claim:
            used.add(claim)
    for entry in filter(None, (annotations.get("serverless.fluid.io/datasets") or "").split(",")):
        used.add(entry.split(":", 1)[0])
    for policy in policies:
        if namespace_of(policy) == namespace and k8scheck.selector_matches(policy["spec"].get("podSelector"), labels):
            used.update(d.split(":", 1)[0] for d in policy["spec"].get("datasets") or [])
    report.check(bool(used), at, "uses at least one dataset (PVC, annotation or InjectionPolicy)")
    for name in sorted(used):
        report.check((namespace, name) in datasets, at, f"dataset {name} is defined in the samples in namespace {namespace}")
    return True


# ---------------------------------------------------------------------------------------------------------


def check_offline_injection(report: Report, units: list[tuple[str, str]], everything: list[tuple[str, dict]],
                            injector: str) -> None:
    """Every sample through `fluid-injector inject -f FILE --cluster CLUSTER`, the cluster being every Namespace,
    Dataset, Secret and InjectionPolicy of the samples; the output must be valid Kubernetes and injected."""
    cluster_kinds = {"Namespace", "Dataset", "InjectionPolicy", "PersistentVolumeClaim"}
    cluster_text = "\n---\n".join(json.dumps(d) for _, d in everything if d["kind"] in cluster_kinds)
    cluster = k8scheck.write_temp(cluster_text)
    secret_values = {str(v) for _, d in everything if d["kind"] == "Secret"
                     for v in list((d.get("stringData") or {}).values()) + list((d.get("data") or {}).values())}
    try:
        for name, text in units:
            docs = k8scheck.parse_yaml(text, name)
            pods = [d for d in docs if k8scheck.pod_spec_of(d) is not None]
            if not pods:
                continue
            source = k8scheck.write_temp(text)
            try:
                # the Lustre sample names a node directory: allowed as a cluster admin would (Injector:AllowedHostPaths)
                result = subprocess.run(["dotnet", injector, "inject", "-f", source, "--cluster", cluster,
                                         "--allow-host-path", "/mnt/lustre"],
                                        capture_output=True, text=True, timeout=120)
            finally:
                os.unlink(source)
            if not report.check(result.returncode == 0, name,
                                f"fluid-injector inject -f accepts it (exit {result.returncode}: "
                                f"{result.stderr.strip()[-400:]})"):
                continue
            try:
                injected = k8scheck.parse_yaml(result.stdout, f"{name} injected")
            except ValueError as error:
                report.fail(name, f"the injected output does not parse: {error}")
                continue
            by_name = {(d.get("kind"), d["metadata"].get("name")): d for d in injected}
            for original in pods:
                out = by_name.get((original["kind"], original["metadata"]["name"]))
                at = f"{name} {describe(original)} (injected)"
                if not report.check(out is not None, at, "is in the injector's output"):
                    continue
                metadata = k8scheck.pod_metadata_of(out)
                opted_out = (k8scheck.pod_metadata_of(original).get("labels") or {}).get(
                    "serverless.fluid.io/inject") == "false"
                marked = (metadata.get("labels") or {}).get("done.sidecar.fluid.io/inject") == "true"
                if opted_out:
                    report.check(not marked and out == original, at, "an opted-out pod comes back unchanged")
                    continue
                report.check(marked, at, "carries the injected label done.sidecar.fluid.io/inject=true")
                try:
                    config = json.loads((metadata.get("annotations") or {}).get("serverless.fluid.io/sidecar-config", ""))
                except ValueError:
                    config = None
                if report.check(isinstance(config, dict), at, "carries a JSON serverless.fluid.io/sidecar-config"):
                    names = sorted(d.get("name") for d in config.get("datasets", []))
                    report.check(bool(names), at, f"the sidecar config serves its datasets ({names})")
                if out["kind"] in k8scheck.WORKLOAD_KINDS:
                    k8scheck.check_typed_round_trip(report, out, f"{name} (injected)")
                leaked = sorted(v for v in secret_values if v in json.dumps(out))
                report.check(not leaked, at, f"no Secret value of the samples appears in the injected manifest "
                             f"(found {len(leaked)})")
        check_datasets_injected(report, everything, injector, cluster, secret_values)
    finally:
        os.unlink(cluster)


def check_datasets_injected(report: Report, everything: list[tuple[str, dict]], injector: str, cluster: str,
                            secret_values: set[str]) -> None:
    """Every sample Dataset named by a pod (serverless.fluid.io/datasets: NAME:/data), all pods in one
    `inject -f` run: each is injected and served from its mountPoint; an nfs:// export is a volume of the sidecar only."""
    datasets = [(name, d) for name, d in everything if d["kind"] == "Dataset"]
    pods = []
    for index, (_, dataset) in enumerate(datasets):
        pods.append({"apiVersion": "v1", "kind": "Pod",
                     "metadata": {"name": f"dataset-{index}", "namespace": namespace_of(dataset),
                                  "labels": {"serverless.fluid.io/inject": "true"},
                                  "annotations": {"serverless.fluid.io/datasets": dataset["metadata"]["name"] + ":/data"}},
                     "spec": {"containers": [{"name": "app", "image": "python:3.11"}]}})
    source = k8scheck.write_temp("\n---\n".join(json.dumps(p) for p in pods))
    try:
        # the Lustre sample names a node directory: allowed as a cluster admin would (Injector:AllowedHostPaths)
        result = subprocess.run(["dotnet", injector, "inject", "-f", source, "--cluster", cluster,
                                 "--allow-host-path", "/mnt/lustre"],
                                capture_output=True, text=True, timeout=120)
    finally:
        os.unlink(source)
    if not report.check(result.returncode == 0, "samples/datasets",
                        f"fluid-injector inject -f accepts a pod for each of the {len(datasets)} sample Datasets "
                        f"(exit {result.returncode}: {result.stderr.strip()[-400:]})"):
        return
    injected = {d["metadata"]["name"]: d for d in k8scheck.parse_yaml(result.stdout, "datasets injected")}
    for index, (name, dataset) in enumerate(datasets):
        at = f"{name} {describe(dataset)} (inject -f)"
        out = injected.get(f"dataset-{index}")
        if not report.check(out is not None, at, "a pod naming it is in the injector's output"):
            continue
        config = json.loads(out["metadata"]["annotations"].get("serverless.fluid.io/sidecar-config", "{}"))
        sources = [d.get("source") for d in config.get("datasets", [])]
        mount_points = [m["mountPoint"] for m in dataset["spec"]["mounts"]]
        report.check(sources == mount_points, at, f"the sidecar serves it from its mountPoints {mount_points} (got {sources})")
        k8scheck.check_typed_round_trip(report, out, at)
        nfs = [v["name"] for v in out["spec"].get("volumes", []) if "nfs" in v]
        sidecar_mounts = {m["name"] for c in out["spec"].get("initContainers", []) + out["spec"]["containers"]
                          if c["name"] == "fluid-serverless-sidecar" for m in c.get("volumeMounts", [])}
        app_mounts = {m["name"] for c in out["spec"]["containers"] if c["name"] == "app" for m in c.get("volumeMounts", [])}
        expected_nfs = sum(1 for m in mount_points if m.startswith("nfs://"))
        report.check(len(nfs) == expected_nfs and set(nfs) <= sidecar_mounts and not set(nfs) & app_mounts, at,
                     f"{expected_nfs} nfs volume(s), mounted in the sidecar only (got {nfs})")
        leaked = sorted(v for v in secret_values if v in json.dumps(out))
        report.check(not leaked, at, f"no Secret value of the samples appears in the injected pod (found {len(leaked)})")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def check_reader(report: Report, repo: str) -> None:
    """reader.py against a real S3 server (moto) holding the same files as a directory, then with one changed."""
    reader = os.path.join(repo, "samples", "reader", "reader.py")
    moto = shutil.which("moto_server")
    if not report.check(moto is not None, "samples/reader/reader.py", "moto_server is on PATH (pyenv Python)"):
        return
    work = tempfile.mkdtemp(prefix="fluid-samples-")
    port = free_port()
    server = subprocess.Popen([moto, "-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        endpoint = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(endpoint, timeout=1).read()
                break
            except OSError:
                if time.monotonic() > deadline:
                    report.fail("samples/reader/reader.py", f"moto_server did not start on {endpoint}")
                    return
                time.sleep(0.2)
        data = os.path.join(work, "imagenet-mini")
        files = {"train/n01440764/img-0001.jpg": os.urandom(3 * 1024 * 1024 + 17),
                 "train/n01440764/img-0002.jpg": os.urandom(70_000),
                 "val/labels.txt": b"n01440764 tench\n", "README": b"a tiny dataset\n"}
        env = dict(os.environ, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
                   AWS_DEFAULT_REGION="us-east-1", AWS_ENDPOINT_URL_S3=endpoint)
        env.pop("AWS_PROFILE", None)
        upload = ["import boto3, os, sys",
                  "s3 = boto3.client('s3')",
                  "s3.create_bucket(Bucket='imagenet-mini')",
                  "root = sys.argv[1]",
                  "for d, _, names in os.walk(root):",
                  "    for n in names:",
                  "        p = os.path.join(d, n)",
                  "        s3.upload_file(p, 'imagenet-mini', os.path.relpath(p, root))"]
        for path, content in files.items():
            os.makedirs(os.path.dirname(os.path.join(data, path)), exist_ok=True)
            with open(os.path.join(data, path), "wb") as handle:
                handle.write(content)
        subprocess.run([sys.executable, "-c", "\n".join(upload), data], env=env, check=True, timeout=60)

        same = subprocess.run([sys.executable, reader, "--data-dir", data], env=env, capture_output=True,
                              text=True, timeout=120)
        ok_lines = [line for line in same.stdout.splitlines() if line.startswith("OK ")]
        report.check(same.returncode == 0 and len(ok_lines) == len(files), "samples/reader/reader.py",
                     f"same bytes on both paths: exit 0 and {len(files)} OK lines (got exit {same.returncode}, "
                     f"{len(ok_lines)} OK; {same.stderr.strip()[-300:]})")
        import hashlib
        expected = hashlib.sha256(files["train/n01440764/img-0001.jpg"]).hexdigest()
        report.check(f"file={expected}  s3={expected}" in same.stdout, "samples/reader/reader.py",
                     "prints the SHA-256 of the bytes for both paths")

        with open(os.path.join(data, "val/labels.txt"), "ab") as handle:
            handle.write(b"changed\n")
        differ = subprocess.run([sys.executable, reader, "--data-dir", data], env=env, capture_output=True,
                                text=True, timeout=120)
        report.check(differ.returncode == 1 and "MISMATCH val/labels.txt" in differ.stdout, "samples/reader/reader.py",
                     f"one changed file: exit 1 and a MISMATCH line naming it (got exit {differ.returncode})")
        missing = subprocess.run([sys.executable, reader, "--data-dir", data],
                                 env={k: v for k, v in env.items() if k != "AWS_ENDPOINT_URL_S3"},
                                 capture_output=True, text=True, timeout=60)
        report.check(missing.returncode == 2 and "AWS_ENDPOINT_URL_S3" in missing.stderr, "samples/reader/reader.py",
                     "no endpoint: exit 2 with a message naming AWS_ENDPOINT_URL_S3")
    finally:
        server.terminate()
        server.wait(timeout=10)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
