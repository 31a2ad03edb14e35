"""Renders every kustomize install under manifests/ and checks what we promise about it.

Usage: check_manifests.py REPO_ROOT [--verbose] [--self-test]

--self-test breaks a rendered install in known ways (a write verb on all Secrets, kube-system no longer
excluded, a root container, ...) and asserts that each break is reported: the checks can fail.
"""

from __future__ import annotations

import copy
import glob
import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import k8scheck  # noqa: E402
from k8scheck import Report, describe  # noqa: E402

INJECTOR = "fluid-serverless-injector"
INJECTOR_NAMESPACE = "fluid-serverless"
TLS_SECRET = "fluid-serverless-injector-tls"
SYSTEM_NAMESPACES = ["kube-system", "kube-public", "kube-node-lease"]
# The only objects the injector may write, by name: (resource, name).
NAMED_WRITES = {("secrets", TLS_SECRET), ("mutatingwebhookconfigurations", INJECTOR)}
# By name only: resourceNames cannot limit list or watch (a collection request names no object), so none is granted.
NAMED_WRITE_VERBS = {"get", "update", "patch"}
# What the injector caches (read-only, cluster-wide).
CACHED = {("", "namespaces"), ("", "persistentvolumeclaims"), ("data.fluid.io", "datasets"),
          ("serverless.fluid.io", "injectionpolicies"), ("data.fluid.io", "alluxioruntimes")}
# The controller (on by default; FLUID_INJECTOR_Controller__Enabled "false" turns it off): what it may do
# cluster-wide, per (group, resource): watch injected pods and patch their annotations, create Events.
# DataLoads: watch them, write their status, run a warm Job (create, and list/watch to follow it; no delete: the
# DataLoad owns it).
CONTROLLER_RULES = {("", "pods"): {"list", "watch", "patch"}, ("", "events"): {"create"},
                    ("data.fluid.io", "datasets/status"): {"patch"},
                    ("data.fluid.io", "dataloads"): {"list", "watch"}, ("data.fluid.io", "dataloads/status"): {"patch"},
                    ("batch", "jobs"): {"list", "watch", "create"}}
# Its leader-election Lease: create (unscoped: the object may not exist yet), get/update on this name only.
CONTROLLER_LEASE = "fluid-serverless-injector-controller"
INJECTION_POLICY_FIELDS = {"podSelector", "datasets", "mode", "cacheSize", "cacheMedium", "sidecarResources",
                           "prefetch", "waitForPrefetch", "nativeSidecar", "platform", "inject", "sharedCache",
                           "sharedCacheTiers"}
# The label the injector puts on every pod it injects (contracts/Annotations.cs InjectedLabel): the only pods
# a shared cache engine admits on its client port.
INJECTED_LABEL = "done.sidecar.fluid.io/inject"
# The label the controller puts on the pods of a DataLoad's warm Job (FluidDataLoad.JobLabel).
DATALOAD_LABEL = "serverless.fluid.io/dataload"


def installs(repo: str) -> dict[str, str]:
    """Name -> directory of every install: the default (manifests/) and each overlay."""
    result = {"default": os.path.join(repo, "manifests")}
    for directory in sorted(glob.glob(os.path.join(repo, "manifests", "overlays", "*"))):
        if os.path.isfile(os.path.join(directory, "kustomization.yaml")):
            result[os.path.basename(directory)] = directory
    return result


def sidecar_ports(repo: str) -> dict[str, int]:
    """The ports of the contract, read from contracts/SidecarDefaults.cs so the two cannot drift apart."""
    with open(os.path.join(repo, "contracts", "SidecarDefaults.cs"), encoding="utf-8") as handle:
        text = handle.read()
    return {name: int(value) for name, value in re.findall(r"const int (S3Port|AdminPort) = (\d+);", text)}


REPO = "."
# Configuration section → the injector source file whose init properties it binds.
SETTINGS_SOURCES = {"Server": "injector/Settings/ServerSettings.cs", "Injector": "injector/Policy/InjectorOptions.cs",
                    "Controller": "injector/Controller/ControllerOptions.cs"}


def injector_settings(repo: str) -> dict[str, set[str]]:
    """Property names per configuration section, read from the injector's settings records."""
    result = {}
    for section, path in SETTINGS_SOURCES.items():
        full = os.path.join(repo, path)
        if os.path.isfile(full):
            with open(full, encoding="utf-8") as handle:
                result[section] = set(re.findall(r"public [\w<>?,\[\] ]+ (\w+) \{ get; init; \}", handle.read()))
    return result


def by_kind(docs: list[dict], kind: str) -> list[dict]:
    return [d for d in docs if d.get("kind") == kind]


# ---------------------------------------------------------------------------------------------------------


def check_install(report: Report, name: str, docs: list[dict], ports: dict[str, int]) -> None:
    where = f"[{name}]"
    names = [(d.get("kind"), (d.get("metadata") or {}).get("namespace"), (d.get("metadata") or {}).get("name"))
             for d in docs]
    report.check(len(names) == len(set(names)), where, "no object appears twice")
    for doc in docs:
        report.check(((doc.get("metadata") or {}).get("labels") or {}).get("app.kubernetes.io/part-of")
                     == "fluid-serverless", f"{where} {describe(doc)}",
                     "labelled app.kubernetes.io/part-of=fluid-serverless (uninstall and audits find it)")
    check_webhooks(report, where, docs)
    check_rbac(report, where, docs)
    check_deployment(report, where, docs)
    check_crds(report, where, name, docs)
    check_config(report, where, docs, ports)
    check_certificates(report, where, docs)
    check_network_policy(report, where, docs)
    check_dataset_status(report, where, docs)
    check_shared_cache(report, where, docs)


def check_dataset_status(report: Report, where: str, docs: list[dict]) -> None:
    """The controller writes Dataset status only where this install owns the Dataset CRD (no Fluid)."""
    owns_crd = any(c["spec"].get("group") == "data.fluid.io" for c in by_kind(docs, "CustomResourceDefinition"))
    data = {}
    for config_map in by_kind(docs, "ConfigMap"):
        data.update(config_map.get("data") or {})
    enabled = data.get("FLUID_INJECTOR_Controller__DatasetStatus") == "true"
    granted = any("datasets/status" in (rule.get("resources") or [])
                  for role in by_kind(docs, "ClusterRole") + by_kind(docs, "Role") for rule in role.get("rules") or [])
    report.check(enabled == owns_crd and granted == owns_crd, where,
                 f"Dataset status is written (and datasets/status patch granted) exactly where the install ships the "
                 f"Dataset CRD (CRD: {owns_crd}, enabled: {enabled}, granted: {granted})")


def check_shared_cache(report: Report, where: str, docs: list[dict]) -> None:
    """An install with a shared block tier engine (a StatefulSet): a sharded cache cluster that only injected pods
    reach, with memory bounded below its limit and LRU eviction, formed by a Job, and named by the injector's default
    tier so that injected pods use it."""
    engines = by_kind(docs, "StatefulSet")
    if not engines:
        return
    env = container_env(by_kind(docs, "Deployment")[0]) if by_kind(docs, "Deployment") else {}
    for engine in engines:
        at = f"{where} {describe(engine)}"
        spec = engine["spec"]
        pod = spec["template"]["spec"]
        labels = spec["template"]["metadata"].get("labels") or {}
        namespace = engine["metadata"].get("namespace")
        report.check(spec.get("replicas", 1) >= 3, at, f"runs at least 3 shards (got {spec.get('replicas', 1)})")
        headless = [s for s in by_kind(docs, "Service") if s["metadata"]["name"] == spec.get("serviceName")
                    and s["metadata"].get("namespace") == namespace]
        report.check(len(headless) == 1 and headless[0]["spec"].get("clusterIP") == "None", at,
                     f"its serviceName {spec.get('serviceName')} is a headless Service of this install (stable pod names)")
        report.check(bool(((pod.get("affinity") or {}).get("podAntiAffinity"))), at, "has pod anti-affinity")
        pdbs = [p for p in by_kind(docs, "PodDisruptionBudget")
                if k8scheck.selector_matches(p["spec"].get("selector"), labels)]
        report.check(len(pdbs) == 1, at, "a PodDisruptionBudget selects its pods")
        container = pod["containers"][0]
        resources = container.get("resources") or {}
        report.check({"cpu", "memory"} <= set(resources.get("requests") or {}) and "memory" in (resources.get("limits") or {}),
                     at, "has cpu/memory requests and a memory limit")
        settings = engine_settings(docs, engine)
        report.check(settings.get("cluster-enabled") == "yes", at, "runs in cluster mode (cluster-enabled yes)")
        report.check(settings.get("maxmemory-policy") == "allkeys-lru", at,
                     f"evicts least recently used blocks when full (maxmemory-policy allkeys-lru, got {settings.get('maxmemory-policy')})")
        limit = k8scheck_quantity(resources.get("limits", {}).get("memory"))
        maxmemory = k8scheck_quantity(settings.get("maxmemory"))
        report.check(maxmemory is not None and limit is not None and 0 < maxmemory < limit, at,
                     f"maxmemory ({settings.get('maxmemory')}) is set below the memory limit ({resources.get('limits', {}).get('memory')})")
        report.check(settings.get("save") in ('""', "''") and settings.get("appendonly") == "no", at,
                     "keeps blocks in memory only (save \"\", appendonly no)")
        ports = {p.get("name"): p["containerPort"] for p in container.get("ports") or []}
        client = ports.get("client")
        policies = [p for p in by_kind(docs, "NetworkPolicy") if p["metadata"].get("namespace") == namespace
                    and k8scheck.selector_matches(p["spec"].get("podSelector"), labels)]
        if report.check(len(policies) >= 1, at, "a NetworkPolicy selects the engine's pods"):
            for policy in policies:
                pat = f"{where} {describe(policy)}"
                report.check("Ingress" in (policy["spec"].get("policyTypes") or []), pat, "restricts Ingress")
                for index, rule in enumerate(policy["spec"].get("ingress") or []):
                    sources = rule.get("from") or []
                    report.check(bool(sources) and all(src.get("podSelector") and not src.get("ipBlock") for src in sources),
                                 f"{pat} ingress {index}", "admits only selected pods (no rule for every source, no ipBlock)")
                    for source in sources:
                        pod_labels = (source.get("podSelector") or {}).get("matchLabels") or {}
                        expressions = (source.get("podSelector") or {}).get("matchExpressions") or []
                        # injected pods, or the warm Jobs of DataLoads (they run the sidecar too and fill the tier)
                        injected = pod_labels.get(INJECTED_LABEL) == "true" or (
                            not pod_labels and expressions == [{"key": DATALOAD_LABEL, "operator": "Exists"}])
                        own = "namespaceSelector" not in source
                        report.check(injected or own, f"{pat} ingress {index}",
                                     f"admits only injected pods ({INJECTED_LABEL}=true), DataLoad warm pods ({DATALOAD_LABEL}) "
                                     f"or pods of its own namespace")
                        if injected:
                            report.check(all(p.get("port") in (client, "client") for p in rule.get("ports") or [{}]),
                                         f"{pat} ingress {index}", f"injected pods reach the client port ({client}) only")
        jobs = [j for j in by_kind(docs, "Job") if j["metadata"].get("namespace") == namespace]
        report.check(any("--cluster create" in " ".join(c.get("command", []) + c.get("args", []))
                         for j in jobs for c in j["spec"]["template"]["spec"]["containers"]), at,
                     "a Job forms the cluster (--cluster create)")
        default = env.get("FLUID_INJECTOR_Injector__DefaultSharedCache")
        prefix = f"FLUID_INJECTOR_Injector__SharedCacheTiers__{default}__Endpoints__"
        endpoints = [v for k, v in sorted(env.items()) if k.startswith(prefix)]
        expected = {f"{engine['metadata']['name']}-{i}.{spec.get('serviceName')}.{namespace}.svc:{client}"
                    for i in range(spec.get("replicas", 1))}
        report.check(bool(endpoints) and set(endpoints) <= expected, at,
                     f"the injector's default tier ({default}) names the engine's pods as seed nodes "
                     f"(got {endpoints or 'none'}, expected some of {sorted(expected)})")


def engine_settings(docs: list[dict], engine: dict) -> dict[str, str]:
    """The engine's settings: its config file from a mounted ConfigMap, then --key value arguments."""
    pod = engine["spec"]["template"]["spec"]
    settings: dict[str, str] = {}
    maps = {m["metadata"]["name"]: m for m in by_kind(docs, "ConfigMap")
            if m["metadata"].get("namespace") == engine["metadata"].get("namespace")}
    for volume in pod.get("volumes") or []:
        name = (volume.get("configMap") or {}).get("name")
        for text in (maps.get(name) or {}).get("data", {}).values() if name else []:
            for line in text.splitlines():
                parts = line.split(None, 1)
                if parts and not parts[0].startswith("#"):
                    settings[parts[0]] = parts[1].strip() if len(parts) > 1 else ""
    container = pod["containers"][0]
    args = container.get("command", []) + container.get("args", [])
    for index, arg in enumerate(args):
        if arg.startswith("--") and index + 1 < len(args):
            settings[arg[2:]] = args[index + 1]
    return settings


def k8scheck_quantity(text: str | None) -> int | None:
    """Bytes of a Kubernetes quantity (2Gi) or a Redis memory setting (1536mb, 2gb)."""
    if not text:
        return None
    match = re.fullmatch(r"(\d+)\s*(Ki|Mi|Gi|Ti|k|M|G|T|kb|mb|gb|tb)?", text.strip(), re.IGNORECASE)
    if not match:
        return None
    units = {"ki": 1024, "mi": 1024 ** 2, "gi": 1024 ** 3, "ti": 1024 ** 4, "k": 1000, "m": 1000 ** 2, "g": 1000 ** 3,
             "t": 1000 ** 4, "kb": 1024, "mb": 1024 ** 2, "gb": 1024 ** 3, "tb": 1024 ** 4}
    return int(match.group(1)) * units.get((match.group(2) or "").lower(), 1)


def check_network_policy(report: Report, where: str, docs: list[dict]) -> None:
    """Only the API server path reaches the webhook: a NetworkPolicy admitting non-pod sources to the https port
    alone, or (where the network cannot express that) client-certificate authentication of the API server."""
    deployments = by_kind(docs, "Deployment")
    if not deployments:
        return
    deployment = deployments[0]
    labels = deployment["spec"]["template"]["metadata"].get("labels") or {}
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    https = {p.get("name"): p["containerPort"] for p in container.get("ports") or []}.get("https")
    policies = [p for p in by_kind(docs, "NetworkPolicy")
                if p["metadata"].get("namespace") == INJECTOR_NAMESPACE
                and k8scheck.selector_matches(p["spec"].get("podSelector"), labels)]
    client_ca = container_env(deployment).get("FLUID_INJECTOR_Server__ClientCaFile")
    at = f"{where} {describe(deployment)}"
    if not policies:
        report.check(bool(client_ca), at, "no pod can call /mutate: a NetworkPolicy selects the injector's pods, "
                                          "or the API server is authenticated (FLUID_INJECTOR_Server__ClientCaFile)")
        if client_ca:
            mounts = [m["mountPath"] for m in container.get("volumeMounts") or []]
            report.check(any(client_ca.startswith(m.rstrip("/") + "/") for m in mounts), at,
                         f"the client CA file {client_ca} is in a mounted volume")
        return
    for policy in policies:
        pat = f"{where} {describe(policy)}"
        spec = policy["spec"]
        report.check("Ingress" in (spec.get("policyTypes") or []), pat, "restricts Ingress (policyTypes has Ingress)")
        rules = spec.get("ingress") or []
        report.check(bool(rules), pat, "admits the API server on the webhook port (an ingress rule exists)")
        for index, rule in enumerate(rules):
            rat = f"{pat} ingress {index}"
            ports = rule.get("ports") or []
            report.check(bool(ports) and all(p.get("port") in ("https", https) and p.get("protocol", "TCP") == "TCP"
                                             for p in ports), rat,
                         f"admits only the webhook port (https/{https}), got {[p.get('port') for p in ports] or 'all'}")
            sources = rule.get("from") or []
            report.check(bool(sources) and all(set(src) == {"ipBlock"} for src in sources), rat,
                         "admits only the API server path: ipBlock sources, no podSelector/namespaceSelector, "
                         "not every source")
            for source in sources:
                block = source.get("ipBlock") or {}
                if block.get("cidr") in ("0.0.0.0/0", "::/0"):
                    report.check(bool(block.get("except")), rat,
                                 "an ipBlock of every address excepts the pod CIDR(s) (pods must not reach /mutate)")


def check_webhooks(report: Report, where: str, docs: list[dict]) -> None:
    configs = by_kind(docs, "MutatingWebhookConfiguration")
    if not report.check(len(configs) == 1 and configs[0]["metadata"]["name"] == INJECTOR, where,
                        f"exactly one MutatingWebhookConfiguration, named {INJECTOR}"):
        return
    config = configs[0]
    services = {(s["metadata"].get("namespace"), s["metadata"]["name"]): s for s in by_kind(docs, "Service")}
    webhooks = config.get("webhooks") or []
    report.check(len(webhooks) >= 1, f"{where} {describe(config)}", "declares webhooks")
    for hook in webhooks:
        at = f"{where} {describe(config)} webhook {hook.get('name')}"
        report.check(hook.get("admissionReviewVersions") == ["v1"], at, "admissionReviewVersions is [v1]")
        report.check(hook.get("sideEffects") == "None", at, "sideEffects is None (dry-run safe)")
        report.check(hook.get("failurePolicy") == "Fail", at, "failurePolicy is Fail (never half-mutated)")
        timeout = hook.get("timeoutSeconds")
        report.check(isinstance(timeout, int) and 1 <= timeout <= 10, at, f"timeoutSeconds is 1..10 (got {timeout})")
        report.check(hook.get("reinvocationPolicy") == "IfNeeded", at, "reinvocationPolicy is IfNeeded")
        rules = hook.get("rules") or []
        report.check(bool(rules) and all(r.get("operations") == ["CREATE"] and r.get("resources") == ["pods"]
                                         and r.get("apiGroups") == [""] for r in rules),
                     at, "rules cover pod CREATE only")
        service = (hook.get("clientConfig") or {}).get("service") or {}
        target = services.get((service.get("namespace"), service.get("name")))
        if report.check(target is not None, at,
                        f"clientConfig names a Service of this install ({service.get('namespace')}/{service.get('name')})"):
            port = service.get("port", 443)
            report.check(any(p.get("port") == port for p in target["spec"].get("ports", [])), at,
                         f"the Service exposes port {port}")
        # Excluding namespaces by name: kubernetes.io/metadata.name is set by the API server on every namespace.
        excluded = set()
        for expr in (hook.get("namespaceSelector") or {}).get("matchExpressions") or []:
            if expr.get("key") == "kubernetes.io/metadata.name" and expr.get("operator") == "NotIn":
                excluded.update(expr.get("values") or [])
        for namespace in SYSTEM_NAMESPACES + [INJECTOR_NAMESPACE]:
            report.check(namespace in excluded, at, f"namespaceSelector excludes {namespace} by name")
    check_selector_semantics(report, f"{where} {describe(config)}", webhooks)


def check_selector_semantics(report: Report, where: str, webhooks: list[dict]) -> None:
    """Which pods reach the injector, evaluated with label-selector semantics over a truth table."""

    def namespace(name: str, **labels: str) -> dict[str, str]:
        return {"kubernetes.io/metadata.name": name, **labels}

    enabled = {"serverless.fluid.io/injection": "enabled"}
    cases = [
        # (description, namespace labels, pod labels, how many webhooks may call the injector)
        ("opted-in pod in a plain namespace", namespace("team-a"), {"serverless.fluid.io/inject": "true"}, 1),
        ("unlabelled pod in a plain namespace", namespace("team-a"), {}, 0),
        ("unlabelled pod in an enabled namespace", namespace("team-b", **enabled), {}, 1),
        ("opted-in pod in an enabled namespace", namespace("team-b", **enabled),
         {"serverless.fluid.io/inject": "true"}, 1),
        ("opted-out pod in an enabled namespace", namespace("team-b", **enabled),
         {"serverless.fluid.io/inject": "false"}, 0),
        ("pod with Fluid's opt-out in an enabled namespace", namespace("team-b", **enabled),
         {"fluid.io/enable-injection": "false"}, 0),
    ]
    for system in SYSTEM_NAMESPACES + [INJECTOR_NAMESPACE]:
        cases.append((f"opted-in pod in {system}", namespace(system), {"serverless.fluid.io/inject": "true"}, 0))
        cases.append((f"pod in {system} even if labelled enabled", namespace(system, **enabled), {}, 0))
    cases.append(("the injector's own pod", namespace(INJECTOR_NAMESPACE, **enabled),
                  {"app.kubernetes.io/name": INJECTOR, "serverless.fluid.io/inject": "false"}, 0))
    for description, ns_labels, pod_labels, expected in cases:
        calls = sum(1 for hook in webhooks
                    if k8scheck.selector_matches(hook.get("namespaceSelector"), ns_labels)
                    and k8scheck.selector_matches(hook.get("objectSelector"), pod_labels))
        report.check(calls == expected, where, f"{description}: sent to the injector {expected} time(s) (got {calls})")


def check_rbac(report: Report, where: str, docs: list[dict]) -> None:
    roles = by_kind(docs, "ClusterRole") + by_kind(docs, "Role")
    report.check(bool(roles), where, "declares RBAC roles")
    for role in roles:
        at = f"{where} {describe(role)}"
        namespaced = role["kind"] == "Role"
        for index, rule in enumerate(role.get("rules") or []):
            rat = f"{at} rule {index}"
            verbs, resources = set(rule.get("verbs") or []), set(rule.get("resources") or [])
            groups, names = set(rule.get("apiGroups") or []), set(rule.get("resourceNames") or [])
            if not report.check("*" not in verbs | resources | groups, rat, "no wildcard verb, resource or group"):
                continue
            report.check(not rule.get("nonResourceURLs"), rat, "no non-resource URLs")
            pairs = {(g, r) for g in groups for r in resources}
            if pairs and pairs <= CONTROLLER_RULES.keys() and not names:
                allowed = set.intersection(*(CONTROLLER_RULES[pair] for pair in pairs))
                report.check(verbs <= allowed, rat,
                             f"the controller's access to {sorted(resources)} is at most {sorted(allowed)} "
                             f"(got {sorted(verbs)})")
                continue
            if pairs == {("coordination.k8s.io", "leases")}:
                report.check(namespaced and role["metadata"].get("namespace") == INJECTOR_NAMESPACE, rat,
                             f"Lease access only in a Role of namespace {INJECTOR_NAMESPACE}")
                report.check((verbs == {"create"} and not names)
                             or (names == {CONTROLLER_LEASE} and verbs <= {"get", "update"}), rat,
                             f"leases: create, or get/update on {CONTROLLER_LEASE} only (got {sorted(verbs)} "
                             f"on {sorted(names) or 'every lease'})")
                continue
            writes = verbs & k8scheck.WRITE_VERBS
            if writes == {"create"} and verbs == {"create"} and resources == {"secrets"} and not names:
                # Documented exception: create cannot be scoped by name; only in a Role of the injector's namespace.
                report.check(namespaced and role["metadata"].get("namespace") == INJECTOR_NAMESPACE, rat,
                             f"create on secrets only in a Role of namespace {INJECTOR_NAMESPACE}")
                continue
            if names:
                report.check(not verbs & {"list", "watch"}, rat,
                             f"no list/watch on {sorted(resources)}: resourceNames cannot limit them to {sorted(names)}")
            if writes or "secrets" in resources:
                pairs = {(r, n) for r in resources for n in names}
                report.check(bool(names) and pairs <= NAMED_WRITES and verbs <= NAMED_WRITE_VERBS, rat,
                             f"{sorted(verbs)} on {sorted(resources)} is limited to the named objects "
                             f"{sorted(n for _, n in NAMED_WRITES)} (resourceNames: {sorted(names) or 'none'})")
                if "secrets" in resources:
                    report.check(namespaced and role["metadata"].get("namespace") == INJECTOR_NAMESPACE, rat,
                                 f"Secret access only in a Role of namespace {INJECTOR_NAMESPACE}")
            else:
                pairs = {(g, r) for g in groups for r in resources}
                report.check(pairs <= CACHED, rat,
                             f"reads only what the injector caches (got {sorted(pairs - CACHED) or 'ok'})")
    for binding in by_kind(docs, "ClusterRoleBinding") + by_kind(docs, "RoleBinding"):
        at = f"{where} {describe(binding)}"
        ref = binding["roleRef"]
        target = [r for r in roles if r["kind"] == ref["kind"] and r["metadata"]["name"] == ref["name"]]
        report.check(bool(target), at, f"roleRef {ref['kind']}/{ref['name']} exists in this install")
        report.check(binding.get("subjects") == [{"kind": "ServiceAccount", "name": INJECTOR,
                                                  "namespace": INJECTOR_NAMESPACE}],
                     at, "binds only the injector's ServiceAccount")


def check_deployment(report: Report, where: str, docs: list[dict]) -> None:
    deployments = by_kind(docs, "Deployment")
    if not report.check(len(deployments) == 1, where, "exactly one Deployment (the injector)"):
        return
    deployment = deployments[0]
    at = f"{where} {describe(deployment)}"
    k8scheck.check_typed_round_trip(report, deployment, where)
    spec = deployment["spec"]
    pod = spec["template"]["spec"]
    labels = spec["template"]["metadata"].get("labels") or {}
    report.check(spec.get("replicas", 1) >= 2, at, f"runs at least 2 replicas (got {spec.get('replicas', 1)})")
    report.check(labels.get("serverless.fluid.io/inject") == "false", at, "its pods opt out of injection")
    accounts = [s["metadata"]["name"] for s in by_kind(docs, "ServiceAccount")]
    report.check(pod.get("serviceAccountName") in accounts, at, "uses a ServiceAccount of this install")
    anti = (((pod.get("affinity") or {}).get("podAntiAffinity") or {}))
    report.check(bool(anti), at, "has pod anti-affinity")
    pdbs = [p for p in by_kind(docs, "PodDisruptionBudget")
            if k8scheck.selector_matches(p["spec"].get("selector"), labels)]
    report.check(len(pdbs) == 1 and pdbs[0]["spec"].get("minAvailable", 0) >= 1, at,
                 "a PodDisruptionBudget with minAvailable >= 1 selects its pods")
    services = [s for s in by_kind(docs, "Service")
                if k8scheck.selector_matches({"matchLabels": s["spec"].get("selector") or {}}, labels)]
    report.check(len(services) == 1, at, "one Service selects its pods")
    psc = pod.get("securityContext") or {}
    report.check(psc.get("runAsNonRoot") is True, at, "pod securityContext.runAsNonRoot is true")
    report.check(psc.get("runAsUser", 0) != 0, at, "pod runs as a non-zero UID")
    report.check((psc.get("seccompProfile") or {}).get("type") == "RuntimeDefault", at, "seccomp RuntimeDefault")
    report.check(not pod.get("hostNetwork") and not pod.get("hostPID") and not pod.get("hostIPC"), at,
                 "no host namespaces")
    for container in (pod.get("initContainers") or []) + pod["containers"]:
        cat = f"{at} container {container['name']}"
        sc = container.get("securityContext") or {}
        report.check(sc.get("runAsNonRoot", psc.get("runAsNonRoot")) is True and sc.get("runAsUser", 1) != 0, cat,
                     "runs as non-root")
        report.check(sc.get("readOnlyRootFilesystem") is True, cat, "readOnlyRootFilesystem is true")
        report.check(sc.get("allowPrivilegeEscalation") is False, cat, "allowPrivilegeEscalation is false")
        report.check(not sc.get("privileged"), cat, "not privileged")
        report.check((sc.get("capabilities") or {}).get("drop") == ["ALL"] and
                     not (sc.get("capabilities") or {}).get("add"), cat, "drops ALL capabilities, adds none")
        resources = container.get("resources") or {}
        report.check({"cpu", "memory"} <= set(resources.get("requests") or {}) and
                     "memory" in (resources.get("limits") or {}), cat, "has cpu/memory requests and a memory limit")
        probes = {kind: ((container.get(kind) or {}).get("httpGet") or {}).get("path")
                  for kind in ("livenessProbe", "readinessProbe")}
        report.check(probes == {"livenessProbe": "/healthz", "readinessProbe": "/readyz"}, cat,
                     f"liveness on /healthz, readiness on /readyz (got {probes})")
        named_ports = {p.get("name"): p["containerPort"] for p in container.get("ports") or []}
        for service in services:
            for port in service["spec"].get("ports", []):
                target = port.get("targetPort")
                report.check(target in named_ports or target in named_ports.values(), cat,
                             f"Service {service['metadata']['name']} port {port['port']} targets a port of the "
                             f"container ({target})")


def check_crds(report: Report, where: str, install: str, docs: list[dict]) -> None:
    crds = {c["metadata"]["name"]: c for c in by_kind(docs, "CustomResourceDefinition")}
    for crd in crds.values():
        at = f"{where} {describe(crd)}"
        spec = crd["spec"]
        report.check(crd["metadata"]["name"] == f"{spec['names']['plural']}.{spec['group']}", at,
                     "is named <plural>.<group>")
        storage = [v for v in spec["versions"] if v.get("storage")]
        report.check(len(storage) == 1, at, "exactly one storage version")
        for version in spec["versions"]:
            schema = (version.get("schema") or {}).get("openAPIV3Schema")
            if report.check(isinstance(schema, dict), at, f"version {version['name']} has an openAPIV3Schema"):
                k8scheck.check_structural(report, schema, f"{at} {version['name']}")
    policy = crds.get("injectionpolicies.serverless.fluid.io")
    if report.check(policy is not None, where, "installs the InjectionPolicy CRD"):
        version = policy["spec"]["versions"][0]
        spec_props = version["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]
        at = f"{where} {describe(policy)}"
        report.check(policy["spec"]["scope"] == "Namespaced" and version["name"] == "v1alpha1", at,
                     "namespaced, v1alpha1")
        missing = INJECTION_POLICY_FIELDS - set(spec_props)
        report.check(not missing, at, f"spec declares {sorted(INJECTION_POLICY_FIELDS)} (missing {sorted(missing)})")
        report.check(set(spec_props.get("mode", {}).get("enum", [])) == {"auto", "fuse", "copy", "s3"}, at,
                     "mode is an enum of auto/fuse/copy/s3")
        # The schema and the injector must agree field by field: a field the injector does not read is silently
        # ignored (a podSelector ignored means the policy selects every pod), and a field it reads that the schema
        # lacks is pruned by the API server before the injector ever sees it.
        reader = os.path.join(REPO, "injector", "Datasets", "InjectionPolicy.cs")
        if report.check(os.path.isfile(reader), at, "injector/Datasets/InjectionPolicy.cs reads InjectionPolicy objects"):
            with open(reader, encoding="utf-8") as handle:
                read = set(re.findall(r'spec\.(?:Str|Obj|Arr|Bool|Int)\("(\w+)"\)', handle.read()))
            for field_name in sorted(spec_props):
                report.check(field_name in read, at, f"spec.{field_name} is read by the injector "
                             f"(injector/Datasets/InjectionPolicy.cs reads spec.{{{', '.join(sorted(read))}}})")
            for field_name in sorted(read - set(spec_props)):
                report.fail(at, f"the injector reads spec.{field_name}, which the CRD schema lacks (the API server "
                            f"would prune it)")
    dataload = crds.get("dataloads.data.fluid.io")
    if install == "with-fluid":
        report.check(dataload is None, where, "leaves the DataLoad CRD to Fluid")
    elif report.check(dataload is not None, where, "installs the DataLoad CRD (no Fluid assumed)"):
        version = dataload["spec"]["versions"][0]
        spec_props = version["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]
        expected = {"dataset", "target", "loadMetadata", "policy", "schedule", "runAfter"}
        report.check(expected <= set(spec_props), f"{where} {describe(dataload)}",
                     f"spec declares Fluid's {sorted(expected)}")
        report.check("status" in (version.get("subresources") or {}), f"{where} {describe(dataload)}",
                     "has the status subresource (the controller patches only status)")
    dataset = crds.get("datasets.data.fluid.io")
    if install == "with-fluid":
        report.check(dataset is None, where, "leaves the Dataset CRD to Fluid")
    elif report.check(dataset is not None, where, "installs the Dataset CRD (no Fluid assumed)"):
        at = f"{where} {describe(dataset)}"
        mounts = dataset["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["mounts"]
        fields = set(mounts["items"]["properties"])
        expected = {"mountPoint", "name", "path", "options", "readOnly", "shared", "encryptOptions"}
        report.check(expected <= fields, at, f"mounts[] declares {sorted(expected)}")
        secret_ref = (mounts["items"]["properties"]["encryptOptions"]["items"]["properties"]["valueFrom"]
                      ["properties"]["secretKeyRef"]["properties"])
        report.check({"name", "key"} <= set(secret_ref), at, "encryptOptions[].valueFrom.secretKeyRef has name and key")


def container_env(deployment: dict) -> dict[str, str | None]:
    """The injector container's env, ConfigMap envFrom included (resolved against the install's ConfigMaps)."""
    return deployment.get("_resolved_env", {})


def check_config(report: Report, where: str, docs: list[dict], ports: dict[str, int]) -> None:
    maps = {m["metadata"]["name"]: m for m in by_kind(docs, "ConfigMap")}
    deployments = by_kind(docs, "Deployment")
    if not report.check(INJECTOR in maps and len(deployments) == 1, where,
                        f"a ConfigMap {INJECTOR} holds the global config"):
        return
    deployment = deployments[0]
    at = f"{where} {describe(deployment)}"
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    env: dict[str, str | None] = {}
    for source in container.get("envFrom") or []:
        name = (source.get("configMapRef") or {}).get("name")
        if report.check(name in maps, at, f"envFrom names a ConfigMap of this install ({name})"):
            env.update(maps[name].get("data") or {})
    env.update({e["name"]: e.get("value") for e in container.get("env") or []})
    deployment["_resolved_env"] = env
    settings = injector_settings(REPO)
    for key in env:
        if key.startswith("FLUID_INJECTOR_"):
            # list settings take one key per element: FLUID_INJECTOR_Injector__AllowedHostPaths__0
            # a shared cache tier: FLUID_INJECTOR_Injector__SharedCacheTiers__<name>__<Field>[__<Sub>|__<n>]
            match = re.fullmatch(r"FLUID_INJECTOR_(Server|Injector|Controller)__([A-Za-z0-9]+)(?:__\d+|__[a-z0-9-]+__[A-Za-z]+(?:__\d+|__Name|__Key)?)?", key)
            report.check(match is not None and match.group(2) in settings.get(match.group(1), set()), at,
                         f"{key} is a setting the injector binds (FLUID_INJECTOR_<Section>__<Property> of "
                         f"ServerSettings/InjectorOptions/ControllerOptions)")
    report.check(env.get("FLUID_INJECTOR_Injector__S3Port") == str(ports.get("S3Port"))
                 and env.get("FLUID_INJECTOR_Injector__AdminPort") == str(ports.get("AdminPort")), at,
                 f"sidecar ports match contracts/SidecarDefaults.cs ({ports})")
    report.check(env.get("FLUID_INJECTOR_Injector__InjectorNamespace") == INJECTOR_NAMESPACE, at,
                 f"the injector knows its own namespace ({INJECTOR_NAMESPACE}) and never injects it")
    report.check(env.get("FLUID_INJECTOR_Injector__DefaultMode") in {"auto", "fuse", "copy", "s3"}, at,
                 "the default mode is auto, fuse, copy or s3")
    report.check(env.get("FLUID_INJECTOR_Injector__InjectByDefault", "false") == "false", at,
                 "pods that did not opt in are not injected")
    report.check(env.get("FLUID_INJECTOR_Server__CertificateMode") in {"self-managed", "files"}, at,
                 f"the certificate mode is set by the overlay (got {env.get('FLUID_INJECTOR_Server__CertificateMode')})")
    port = env.get("FLUID_INJECTOR_Server__Port")
    report.check(any(str(p["containerPort"]) == port and p.get("name") == "https" for p in container.get("ports") or []),
                 at, f"the HTTPS port the injector listens on ({port}) is the container port named https")
    report.check(env.get("FLUID_INJECTOR_Server__SecretName") == TLS_SECRET
                 and env.get("FLUID_INJECTOR_Server__WebhookConfigurationName") == INJECTOR, at,
                 "the injector manages the Secret and webhook configuration its RBAC names")


def check_certificates(report: Report, where: str, docs: list[dict]) -> None:
    webhook = by_kind(docs, "MutatingWebhookConfiguration")
    deployment = by_kind(docs, "Deployment")
    if not webhook or not deployment:
        return
    inject_from = (webhook[0]["metadata"].get("annotations") or {}).get("cert-manager.io/inject-ca-from")
    env = container_env(deployment[0])
    mode = env.get("FLUID_INJECTOR_Server__CertificateMode")
    at = f"{where} {describe(webhook[0])}"
    if mode != "files":
        report.check(inject_from is None, at, "self-managed certificates: no cert-manager annotation")
        return
    if not report.check(inject_from is not None, at, "cert-manager: the webhook asks for caBundle injection"):
        return
    namespace, name = inject_from.split("/", 1)
    certs = [c for c in by_kind(docs, "Certificate")
             if c["metadata"]["name"] == name and c["metadata"].get("namespace") == namespace]
    if not report.check(len(certs) == 1, at, f"inject-ca-from names a Certificate of this install ({inject_from})"):
        return
    cert = certs[0]
    mounts = {m["mountPath"]: m["name"] for m in deployment[0]["spec"]["template"]["spec"]["containers"][0].get("volumeMounts", [])}
    cert_dir = os.path.dirname(env.get("FLUID_INJECTOR_Server__CertificateFile") or "")
    report.check(cert_dir in mounts and os.path.dirname(env.get("FLUID_INJECTOR_Server__KeyFile") or "") == cert_dir,
                 f"{where} {describe(deployment[0])}", f"the certificate and key files are in a mounted volume ({cert_dir})")
    volumes = {v.get("secret", {}).get("secretName") for v in deployment[0]["spec"]["template"]["spec"].get("volumes", [])}
    report.check(cert["spec"]["secretName"] == TLS_SECRET and TLS_SECRET in volumes, f"{where} {describe(cert)}",
                 f"issues into {TLS_SECRET}, which the Deployment mounts")
    report.check(f"{INJECTOR}.{INJECTOR_NAMESPACE}.svc" in cert["spec"].get("dnsNames", []), f"{where} {describe(cert)}",
                 "covers the Service's DNS name")
    issuers = {(i["kind"], i["metadata"]["name"]) for i in by_kind(docs, "Issuer") + by_kind(docs, "ClusterIssuer")}
    for certificate in by_kind(docs, "Certificate"):
        ref = certificate["spec"]["issuerRef"]
        report.check((ref.get("kind", "Issuer"), ref["name"]) in issuers, f"{where} {describe(certificate)}",
                     f"its issuer {ref['name']} is part of this install")


# ---------------------------------------------------------------------------------------------------------


def self_test(repo: str, rendered: dict[str, list[dict]], ports: dict[str, int]) -> int:
    """Each mutation must be reported with a message containing the expected words."""

    def webhook(docs):
        return by_kind(docs, "MutatingWebhookConfiguration")[0]

    def container(docs):
        return by_kind(docs, "Deployment")[0]["spec"]["template"]["spec"]["containers"][0]

    def selectors(docs):
        for hook in webhook(docs)["webhooks"]:
            for expr in hook["namespaceSelector"]["matchExpressions"]:
                if expr["key"] == "kubernetes.io/metadata.name":
                    expr["values"].remove("kube-system")

    def secret_write(docs):
        by_kind(docs, "ClusterRole")[0]["rules"].append({"apiGroups": [""], "resources": ["secrets"],
                                                         "verbs": ["get", "update"]})

    def delete_verb(docs):
        for role in by_kind(docs, "Role"):
            role["rules"][0]["verbs"].append("delete")

    def pod_write(docs):
        by_kind(docs, "ClusterRole")[0]["rules"].append({"apiGroups": [""], "resources": ["pods"],
                                                         "verbs": ["update", "delete"]})

    def pod_exec(docs):
        by_kind(docs, "ClusterRole")[0]["rules"].append({"apiGroups": [""], "resources": ["pods/exec"],
                                                         "verbs": ["create"]})

    def cluster_lease(docs):
        by_kind(docs, "ClusterRole")[0]["rules"].append({"apiGroups": ["coordination.k8s.io"], "resources": ["leases"],
                                                         "verbs": ["get", "update"]})

    def status_with_fluid(docs):
        by_kind(docs, "ConfigMap")[0]["data"]["FLUID_INJECTOR_Controller__DatasetStatus"] = "true"

    def any_lease(docs):
        for role in by_kind(docs, "Role"):
            for rule in role["rules"]:
                if rule.get("resources") == ["leases"]:
                    rule.pop("resourceNames", None)

    def unnamed_webhook_write(docs):
        for role in by_kind(docs, "ClusterRole"):
            for rule in role["rules"]:
                rule.pop("resourceNames", None)

    def root(docs):
        container(docs)["securityContext"]["runAsNonRoot"] = False

    def writable_root(docs):
        container(docs)["securityContext"]["readOnlyRootFilesystem"] = False

    def typo(docs):
        container(docs)["securityContext"]["readOnlyRootFilesytem"] = True

    def timeout(docs):
        webhook(docs)["webhooks"][0]["timeoutSeconds"] = 30

    def review_versions(docs):
        webhook(docs)["webhooks"][1]["admissionReviewVersions"] = ["v1", "v1beta1"]

    def fail_open(docs):
        webhook(docs)["webhooks"][0]["failurePolicy"] = "Ignore"

    def everyone(docs):
        webhook(docs)["webhooks"][0].pop("objectSelector")

    def opt_out_ignored(docs):
        webhook(docs)["webhooks"][1]["objectSelector"]["matchExpressions"] = []

    def single_replica(docs):
        by_kind(docs, "Deployment")[0]["spec"]["replicas"] = 1

    def bad_schema(docs):
        crd = [c for c in by_kind(docs, "CustomResourceDefinition") if c["spec"]["group"] == "serverless.fluid.io"][0]
        crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["mode"].pop("type")

    def wrong_port(docs):
        by_kind(docs, "ConfigMap")[0]["data"]["FLUID_INJECTOR_Injector__S3Port"] = "9000"

    def misspelt_setting(docs):
        by_kind(docs, "ConfigMap")[0]["data"]["FLUID_INJECTOR_Injector__SidecarImag"] = "x"

    def own_namespace(docs):
        by_kind(docs, "ConfigMap")[0]["data"].pop("FLUID_INJECTOR_Injector__InjectorNamespace")

    def named_list(docs):
        for role in by_kind(docs, "ClusterRole"):
            for rule in role["rules"]:
                if rule.get("resourceNames"):
                    rule["verbs"] += ["list", "watch"]

    def network_policy(docs):
        return by_kind(docs, "NetworkPolicy")[0]

    def pods_admitted(docs):
        network_policy(docs)["spec"]["ingress"][0]["from"].append({"namespaceSelector": {}})

    def any_source(docs):
        network_policy(docs)["spec"]["ingress"][0].pop("from")

    def pod_cidr_admitted(docs):
        network_policy(docs)["spec"]["ingress"][0]["from"][0]["ipBlock"].pop("except")

    def other_port(docs):
        network_policy(docs)["spec"]["ingress"][0]["ports"].append({"protocol": "TCP", "port": 8080})

    def no_network_policy(docs):
        docs.remove(network_policy(docs))

    def client_ca_unmounted(docs):
        for volume_mount in container(docs)["volumeMounts"]:
            if volume_mount["name"] == "client-ca":
                volume_mount["mountPath"] = "/elsewhere"

    def engine_policy(docs):
        return [p for p in by_kind(docs, "NetworkPolicy") if p["metadata"]["name"] == "fluid-shared-cache"][0]

    def engine_open_to_every_pod(docs):
        engine_policy(docs)["spec"]["ingress"][0]["from"][0]["podSelector"] = {}

    def engine_open_to_everyone(docs):
        engine_policy(docs)["spec"]["ingress"][0].pop("from")

    def engine_bus_to_injected(docs):
        engine_policy(docs)["spec"]["ingress"][0]["ports"].append({"protocol": "TCP", "port": 16379})

    def engine_config(docs):
        return [m for m in by_kind(docs, "ConfigMap") if m["metadata"]["name"] == "fluid-shared-cache"][0]["data"]

    def engine_no_eviction(docs):
        engine_config(docs)["valkey.conf"] = engine_config(docs)["valkey.conf"].replace("allkeys-lru", "noeviction")

    def engine_maxmemory_above_limit(docs):
        engine_config(docs)["valkey.conf"] = engine_config(docs)["valkey.conf"].replace("maxmemory 1536mb", "maxmemory 4gb")

    def engine_not_default(docs):
        by_kind(docs, "ConfigMap")[0]["data"]["FLUID_INJECTOR_Injector__DefaultSharedCache"] = "none"

    def engine_one_shard(docs):
        by_kind(docs, "StatefulSet")[0]["spec"]["replicas"] = 1

    def engine_no_bootstrap(docs):
        docs.remove(by_kind(docs, "Job")[0])

    cases = [
        ("shared-cache", engine_open_to_every_pod, "admits only injected pods"),
        ("shared-cache", engine_open_to_everyone, "admits only selected pods"),
        ("shared-cache", engine_bus_to_injected, "injected pods reach the client port"),
        ("shared-cache", engine_no_eviction, "allkeys-lru"),
        ("shared-cache", engine_maxmemory_above_limit, "below the memory limit"),
        ("shared-cache", engine_not_default, "names the engine's pods as seed nodes"),
        ("shared-cache", engine_one_shard, "at least 3 shards"),
        ("shared-cache", engine_no_bootstrap, "a Job forms the cluster"),
        ("default", named_list, "resourceNames cannot limit them"),
        ("default", pods_admitted, "admits only the API server path"),
        ("default", any_source, "admits only the API server path"),
        ("default", pod_cidr_admitted, "excepts the pod CIDR"),
        ("default", other_port, "admits only the webhook port"),
        ("default", no_network_policy, "no pod can call /mutate"),
        ("api-server-client-auth", client_ca_unmounted, "is in a mounted volume"),
        ("default", selectors, "excludes kube-system"),
        ("default", secret_write, "limited to the named objects"),
        ("default", delete_verb, "limited to the named objects"),
        ("default", pod_write, "the controller's access to ['pods']"),
        ("default", pod_exec, "limited to the named objects"),
        ("default", cluster_lease, "Lease access only in a Role"),
        ("with-fluid", status_with_fluid, "exactly where the install ships the Dataset CRD"),
        ("default", any_lease, "get/update on fluid-serverless-injector-controller only"),
        ("default", unnamed_webhook_write, "limited to the named objects"),
        ("default", root, "runs as non-root"),
        ("default", writable_root, "readOnlyRootFilesystem is true"),
        ("default", typo, "unknown or mistyped"),
        ("default", timeout, "timeoutSeconds"),
        ("default", review_versions, "admissionReviewVersions"),
        ("default", fail_open, "failurePolicy"),
        ("default", everyone, "unlabelled pod in a plain namespace"),
        ("default", opt_out_ignored, "opted-out pod"),
        ("default", single_replica, "at least 2 replicas"),
        ("default", bad_schema, "has a type"),
        ("default", wrong_port, "match contracts"),
        ("default", own_namespace, "its own namespace"),
        ("default", misspelt_setting, "a setting the injector binds"),
    ]
    failed = 0
    for install, mutate, expected in cases:
        docs = copy.deepcopy(rendered[install])
        mutate(docs)
        report = Report()
        saved = sys.stderr
        sys.stderr = open(os.devnull, "w", encoding="utf-8")
        try:
            check_install(report, install, docs, ports)
        finally:
            sys.stderr.close()
            sys.stderr = saved
        caught = [f for f in report.failures if expected in f]
        if caught:
            print(f"ok   self-test {mutate.__name__}: reported: {caught[0]}")
        else:
            failed += 1
            print(f"FAIL self-test {mutate.__name__}: no failure mentioning {expected!r} "
                  f"(got {report.failures or 'no failure at all'})", file=sys.stderr)
    print(f"self-test: {len(cases) - failed} passed, {failed} failed")
    return 1 if failed else 0


def main(argv: list[str]) -> int:
    global REPO
    repo = os.path.abspath(argv[1] if len(argv) > 1 and not argv[1].startswith("--") else ".")
    REPO = repo
    report = Report(verbose="--verbose" in argv)
    ports = sidecar_ports(repo)
    rendered: dict[str, list[dict]] = {}
    print(f"YAML parser: {'PyYAML ' + k8scheck.yaml.__version__ if k8scheck.HAVE_PYYAML else 'kubectl (PyYAML missing)'}")
    for name, directory in installs(repo).items():
        where = f"[{name}]"
        try:
            text = k8scheck.kustomize(directory)
        except RuntimeError as error:
            report.fail(where, str(error))
            continue
        report.passed += 1
        try:
            docs = k8scheck.parse_yaml(text, f"{where} rendered output")
        except ValueError as error:
            report.fail(where, str(error))
            continue
        k8scheck.check_objects_parse(report, docs, text, where)
        rendered[name] = docs
        before = len(report.failures)
        check_install(report, name, docs, ports)
        print(f"{where} {os.path.relpath(directory, repo)}: {len(docs)} objects, "
              f"{'ok' if len(report.failures) == before else 'FAILED'}")
    report.check({"default", "self-managed", "cert-manager", "with-fluid", "shared-cache"} <= set(rendered), "manifests",
                 f"the default install and the overlays self-managed, cert-manager, with-fluid, shared-cache render "
                 f"(got {sorted(rendered)})")
    if "default" in rendered and "self-managed" in rendered:
        report.check(rendered["default"] == rendered["self-managed"], "manifests",
                     "the default install is the self-managed overlay")
    status = 0
    if "--self-test" in argv and "default" in rendered:
        status = self_test(repo, rendered, ports)
    print(f"manifests: {report.passed} passed, {len(report.failures)} failed")
    return 1 if report.failures or status else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
