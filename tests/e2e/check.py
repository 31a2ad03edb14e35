#!/usr/bin/env python3
"""Judges one end-to-end run: what a user would check after `kubectl get pod` and `kubectl logs`.

Usage: check.py VARIANT EXPECTED_MODE EXPECTED_NATIVE(true|false) INJECTED_YAML RESULT_JSON APP_LOG EXPECTED_JSON MOTO_REQUESTS_LOG
       MOTO_RECORDING_JSONL ACCESS_KEY_ID
Prints one summary line; exit 1 with every failed check named.
"""
import json
import os
import re
import sys

import yaml

LINE = re.compile(r"^(OK|MISMATCH)\s+(.+?)  file=(\S+)  s3=(\S+)$")


def main() -> int:
    variant, mode, native, injected_path, result_path, log_path, expected_path, moto_log, recording, access_key = sys.argv[1:11]
    native = native == "true"
    failures: list[str] = []
    docs = [d for d in yaml.safe_load_all(open(injected_path)) if d]
    job = next(d for d in docs if d.get("kind") in ("Job", "Pod"))
    template = job["spec"]["template"] if job["kind"] == "Job" else job
    status = json.loads(template["metadata"]["annotations"]["serverless.fluid.io/status"])
    if status["mode"] != mode:
        failures.append(f"injected mode is {status['mode']!r}, expected {mode!r}")
    if bool(status.get("native")) != native:
        failures.append(f"the sidecar was injected as a {'native' if status.get('native') else 'legacy'} sidecar, "
                        f"expected {'native' if native else 'legacy'}")

    result = json.load(open(result_path))
    if result["phase"] != "Succeeded":
        failures.append(f"pod phase {result['phase']}: {result.get('error', 'an app container failed')}")
    events = result["events"]
    sidecar_name = status["sidecar"]
    # Native: the startupProbe gates the app containers. Legacy: the sidecar's postStart hook does.
    gate = "startupProbe succeeded" if native else "postStart succeeded"
    ready = [e["t"] for e in events if e["event"] == gate and e["container"] == sidecar_name]
    app_names = {c["name"] for c in template["spec"]["containers"]} - {sidecar_name}
    app_starts = [e["t"] for e in events if e["event"] == "started" and e["container"] in app_names]
    if not ready or not app_starts or min(app_starts) < max(ready):
        failures.append(f"ordering: app containers started at {app_starts}, sidecar ready ({gate}) at {ready}")
    if native:
        sidecars = result["sidecars"]
        if not sidecars:
            failures.append("no native sidecar ran")
        for sidecar in sidecars:
            if sidecar.get("stoppedBy") != "SIGTERM" or sidecar.get("exitCode") != 0:
                failures.append(f"sidecar {sidecar['name']} after the app exited: stopped by {sidecar.get('stoppedBy')}, "
                                f"exit code {sidecar.get('exitCode')} (expected a clean exit on SIGTERM)")
    else:
        # A legacy sidecar is a regular container: the pod only finishes if it exits by itself (/quitquitquit).
        sidecars = [c for c in result["containers"] if c["name"] == sidecar_name]
        if not sidecars or sidecars[0]["exitCode"] != 0:
            failures.append(f"legacy sidecar did not exit 0 after the app's /quitquitquit: {sidecars}")

    expected = json.load(open(expected_path))
    # The dataset volume as the node saw it when the app started: FUSE mounted (propagated back from the sidecar's
    # Bidirectional mount), or every file already materialized (copy mode; its ready marker is on the cache volume).
    data_volume = next((m["name"] for c in template["spec"]["containers"] for m in c.get("volumeMounts") or []
                        if m["mountPath"] == "/data"), None)
    at_start = result.get("volumesAtAppStart", {}).get(data_volume, {})
    if mode == "fuse" and not str(at_start.get("fstype", "")).startswith("fuse"):
        failures.append(f"volume {data_volume}: filesystem at app start is {at_start.get('fstype')}, expected fuse")
    if mode == "copy":
        missing = sorted(set(expected) - set(at_start.get("files", [])))
        if missing:
            failures.append(f"volume {data_volume}: not materialized when the app started, missing {missing}")
    seen = {}
    for line in open(log_path, errors="replace"):
        match = LINE.match(line.rstrip("\n"))
        if match:
            seen[match.group(2)] = (match.group(3), match.group(4))
    for key, want in expected.items():
        if key not in seen:
            failures.append(f"{key}: not read by the app")
            continue
        file_sha, s3_sha = seen[key]
        if s3_sha != want["sha256"]:
            failures.append(f"{key}: S3 endpoint sha256 {s3_sha} != moto {want['sha256']}")
        if mode != "s3" and file_sha != want["sha256"]:
            failures.append(f"{key}: file path sha256 {file_sha} != moto {want['sha256']}")
    for key in sorted(set(seen) - set(expected)):
        failures.append(f"{key}: read by the app but not in the dataset on moto")

    # One download serves every view: whatever the app read (file path, then S3 endpoint) reached the remote at
    # most once per cache block. Twice as many GETs would mean the second view bypassed the block cache.
    block = json.loads(template["metadata"]["annotations"]["serverless.fluid.io/sidecar-config"])["cache"]["blockSizeBytes"]
    blocks = sum(max(1, -(-v["size"] // block)) for v in expected.values())
    requests = [line for line in open(moto_log, errors="replace") if '"GET /fluid-samples/' in line]
    object_gets = [r for r in requests if "?list-type" not in r]
    if len(object_gets) > blocks:
        failures.append(f"the remote served {len(object_gets)} object GETs for {blocks} cache blocks: "
                        f"a view re-downloaded what the cache held")
    if any("outside-the-dataset" in r for r in requests):
        failures.append("the sidecar read an object outside the dataset's prefix")

    # The Secret reached only the sidecar, and the sidecar used it: every request moto saw is signed with its key.
    recorded = [json.loads(line) for line in open(recording) if line.strip()]
    signed = [r for r in recorded if f"Credential={access_key}/" in r["headers"].get("Authorization", "")]
    if not recorded:
        failures.append("moto saw no request from the pod")
    elif len(signed) != len(recorded):
        failures.append(f"{len(recorded) - len(signed)} of {len(recorded)} requests at moto were not signed with the "
                        f"Secret's access key {access_key}")

    # ... and never an app container: no app env holds the Secret's value.
    for name in app_names:
        spec_file = os.path.join(os.path.dirname(result_path), "root", f"container-{name}.json")
        if os.path.exists(spec_file) and access_key in json.dumps(json.load(open(spec_file))["env"]):
            failures.append(f"app container {name} has the Secret's access key in its environment")

    matched = sum(1 for key in expected if not any(f.startswith(key + ":") for f in failures))
    stop = ", ".join(f"{s['name']} stopped in {s.get('stopSeconds', 0):.2f} s" if native else
                     f"{s['name']} exited {s['exitCode']} by itself" for s in sidecars)
    ready_at = f"sidecar ready at {max(ready):.2f} s" if ready else "sidecar never ready"
    total = sum(v["size"] for v in expected.values())
    verdict = "PASS" if not failures else "FAIL"
    print(f"{verdict} {variant:6} mode={status['mode']:5} phase={result['phase']:9} {matched}/{len(expected)} files "
          f"({total} bytes) match moto; remote GETs {len(object_gets)}/{blocks} blocks, {len(signed)}/{len(recorded)} signed with the Secret; {ready_at}; {stop}")
    for failure in failures:
        print(f"       - {failure}")
    return 0 if not failures else 1


if __name__ == "__main__":
    sys.exit(main())
