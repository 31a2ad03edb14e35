#!/usr/bin/env python3
"""A small stand-in for kubelet: runs ONE pod spec (as the injector produced it) as local processes.

There is no Kubernetes here, so this does the few things kubelet and the container runtime would do for the
pods of the end-to-end test, and refuses (exit 2, naming the field) anything it does not implement:

* volumes: emptyDir (a directory; `medium: Memory` a tmpfs with the sizeLimit), hostPath (the host path),
  downwardAPI and configMap (files in kubelet's atomic-writer layout: `..<timestamp>/`, `..data` symlink, one
  symlink per item; annotations formatted like kubelet's fieldpath.FormatMap: sorted `key="value"` lines, Go quoting).
* every container runs in its own mount namespace (`unshare -m`) with each volumeMount bind-mounted at its
  mountPath, propagation as asked (Bidirectional = rshared, HostToContainer = rslave, none = private),
  `readOnly` as a read-only bind. Mount points missing on this machine are created before the pod starts and
  removed (if still empty) afterwards. securityContext: a non-privileged container keeps only the runtime's
  default capabilities + `add` - `drop` (`ALL` drops every one) in its bounding set (so no SYS_ADMIN, no FUSE
  mount); `allowPrivilegeEscalation: false` sets no_new_privs. The filesystem stays the host's (no
  image root filesystem, no seccomp, no cgroup limits).
* users: runAsUser/runAsGroup (container, then pod) over the image's USER given with --image-user (the sidecar
  image's comes from Dockerfile.sidecar); emptyDirs are world-writable as kubelet makes them; runAsNonRoot with
  uid 0 is refused like kubelet does. No fsGroup, no supplemental groups.
* env: value, valueFrom secretKeyRef/configMapKeyRef (from Secrets/ConfigMaps in the given files), fieldRef
  (metadata.name/namespace/uid, labels/annotations['k'], status.podIP = 127.0.0.1); $(VAR) expansion in
  command/args. PATH/HOME come from this machine (the "image").
* images: the command of the sidecar image (`/app/fluid-sidecar`) is the locally built sidecar; other commands
  (`sh`, `python`) run from this machine's PATH.
* ordering: init containers with `restartPolicy: Always` (native sidecars) start first, each waited for until its
  startupProbe (httpGet on 127.0.0.1) succeeds; then regular init containers run to completion; then the app
  containers start, in order, each one's postStart exec hook (run in its mount namespace) returning before the
  next starts (what the legacy sidecar form relies on). When every app container has exited, native sidecars get SIGTERM in reverse order and
  SIGKILL after terminationGracePeriodSeconds, as kubelet does.

The caller runs this inside the pod's network namespace and a private mount namespace
(`ip netns exec NS unshare -m --propagation private python3 kubelet.py run ...`), so the pod's mounts vanish
with it. The outcome (phase, exit codes, timestamps) goes to --result as JSON.
"""

from __future__ import annotations

import argparse
import base64
import ctypes
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

import yaml

SIDECAR_IMAGE_COMMAND = "/app/fluid-sidecar"
PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS = 24, 38
CAPABILITIES = ["CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID", "SETPCAP",
                "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW", "IPC_LOCK",
                "IPC_OWNER", "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT", "SYS_ADMIN",
                "SYS_BOOT", "SYS_NICE", "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD", "LEASE",
                "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP", "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG", "WAKE_ALARM",
                "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF", "CHECKPOINT_RESTORE"]
# containerd's/Docker's default capability set for a non-privileged container.
DEFAULT_CAPABILITIES = {"CHOWN", "DAC_OVERRIDE", "FSETID", "FOWNER", "MKNOD", "NET_RAW", "SETGID", "SETUID",
                        "SETFCAP", "SETPCAP", "NET_BIND_SERVICE", "SYS_CHROOT", "KILL", "AUDIT_WRITE"}


def capabilities_to_drop(security: dict) -> list[int]:
    """The bounding-set entries a container runtime would not grant: defaults + add - drop (ALL = every one)."""
    if security.get("privileged"):
        return []
    caps = security.get("capabilities") or {}
    normalize = lambda names: {n.upper().removeprefix("CAP_") for n in names or []}  # noqa: E731
    dropped = normalize(caps.get("drop"))
    allowed = (set() if "ALL" in dropped else DEFAULT_CAPABILITIES - dropped) | normalize(caps.get("add"))
    with open("/proc/sys/kernel/cap_last_cap") as handle:
        last = int(handle.read())
    return [number for number, name in enumerate(CAPABILITIES) if number <= last and name not in allowed]


class Unsupported(Exception):
    """The pod uses something this stand-in does not implement: fail loudly, never ignore it."""


def go_quote(value: str) -> str:
    """strconv.Quote: what kubelet's fieldpath.FormatMap uses for downward-API label/annotation values."""
    out = ['"']
    for ch in value:
        code = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch in "\a\b\f\n\r\t\v":
            out.append({"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v"}[ch])
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\x{code:02x}")
        elif ch.isprintable():
            out.append(ch)
        elif code < 0x10000:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    out.append('"')
    return "".join(out)


def format_map(values: dict[str, str]) -> str:
    return "\n".join(f"{key}={go_quote(values[key])}" for key in sorted(values))


def atomic_writer(directory: str, files: dict[str, bytes]) -> None:
    """kubelet's AtomicWriter layout: data in ..<timestamp>/, `..data` -> it, each item a symlink via ..data."""
    os.makedirs(directory, exist_ok=True)
    stamp = "..%s" % time.strftime("%Y_%m_%d_%H_%M_%S.000000000", time.gmtime())
    os.makedirs(os.path.join(directory, stamp))
    for path, content in files.items():
        full = os.path.join(directory, stamp, path)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "wb") as handle:
            handle.write(content)
    os.symlink(stamp, os.path.join(directory, "..data"))
    for path in files:
        top = path.split("/")[0]
        link = os.path.join(directory, top)
        if not os.path.lexists(link):
            os.symlink(os.path.join("..data", top), link)


def quantity_bytes(text: str) -> int:
    match = re.fullmatch(r"(\d+)(Ki|Mi|Gi|Ti|k|M|G|T)?", str(text))
    if not match:
        raise Unsupported(f"emptyDir sizeLimit {text!r}: expected an integer quantity like 2Gi")
    factor = {None: 1, "Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30, "Ti": 1 << 40,
              "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12}[match.group(2)]
    return int(match.group(1)) * factor


class Pod:
    def __init__(self, pod_docs: list[dict], cluster_docs: list[dict], root: str, sidecar_binary: str,
                 image_users: dict[str, str]) -> None:
        self.root, self.sidecar_binary, self.image_users = root, sidecar_binary, image_users
        self.startup_timeout = 60.0
        templates = [d for d in pod_docs if d.get("kind") in ("Pod", "Job")]
        if len(templates) != 1:
            raise Unsupported(f"expected exactly one Pod or Job in the pod file, found {len(templates)}")
        doc = templates[0]
        if doc["kind"] == "Job":
            self.meta, self.spec = doc["spec"]["template"].get("metadata", {}) or {}, doc["spec"]["template"]["spec"]
            self.meta.setdefault("name", doc["metadata"]["name"] + "-e2e")
        else:
            self.meta, self.spec = doc.get("metadata", {}), doc["spec"]
        self.meta.setdefault("namespace", doc.get("metadata", {}).get("namespace", "default"))
        self.meta.setdefault("uid", "00000000-0000-0000-0000-00000000e2e0")
        everything = pod_docs + cluster_docs
        self.secrets = {d["metadata"]["name"]: self._secret_data(d) for d in everything if d.get("kind") == "Secret"}
        self.config_maps = {d["metadata"]["name"]: dict(d.get("data") or {}) for d in everything
                            if d.get("kind") == "ConfigMap"}
        self.volume_dirs: dict[str, str] = {}
        self.created_dirs: list[str] = []
        self.events: list[dict] = []
        self.started = time.monotonic()

    @staticmethod
    def _secret_data(doc: dict) -> dict[str, str]:
        data = {k: base64.b64decode(v).decode() for k, v in (doc.get("data") or {}).items()}
        data.update(doc.get("stringData") or {})
        return data

    def event(self, what: str, **fields) -> None:
        entry = {"t": round(time.monotonic() - self.started, 3), "event": what, **fields}
        self.events.append(entry)
        print(f"[kubelet +{entry['t']:7.3f}s] {what} " + " ".join(f"{k}={v}" for k, v in fields.items()), flush=True)

    # ---- volumes -------------------------------------------------------------------------------------------
    def prepare_volumes(self) -> None:
        for volume in self.spec.get("volumes") or []:
            name = volume["name"]
            path = os.path.join(self.root, "volumes", name)
            if "emptyDir" in volume:
                empty_dir = volume["emptyDir"] or {}
                os.makedirs(path)
                if empty_dir.get("medium") == "Memory":
                    size = quantity_bytes(empty_dir.get("sizeLimit", "1Gi"))
                    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", path], check=True)
                else:
                    subprocess.run(["mount", "--bind", path, path], check=True)
                # A shared mount, like kubelet's pod volume directory, so Bidirectional mounts (FUSE) propagate.
                subprocess.run(["mount", "--make-shared", path], check=True)
                os.chmod(path, 0o777)  # kubelet makes emptyDirs world-writable: any container user may write
            elif "hostPath" in volume:
                path = volume["hostPath"]["path"]
                kind = volume["hostPath"].get("type", "")
                if kind == "CharDevice" and not os.path.exists(path):
                    raise Unsupported(f"volume {name!r}: hostPath {path} (CharDevice) does not exist on this machine")
            elif "downwardAPI" in volume:
                files = {}
                for item in volume["downwardAPI"]["items"]:
                    field = item.get("fieldRef", {}).get("fieldPath")
                    if field not in ("metadata.annotations", "metadata.labels"):
                        raise Unsupported(f"volume {name!r}: downwardAPI fieldPath {field!r}")
                    values = self.meta.get(field.split(".")[1]) or {}
                    files[item["path"]] = format_map({k: str(v) for k, v in values.items()}).encode()
                atomic_writer(path, files)
            elif "configMap" in volume:
                source = volume["configMap"]["name"]
                if source not in self.config_maps:
                    raise Unsupported(f"volume {name!r}: ConfigMap {source!r} is not in the given files")
                data = self.config_maps[source]
                items = volume["configMap"].get("items") or [{"key": k, "path": k} for k in data]
                atomic_writer(path, {i["path"]: data[i["key"]].encode() for i in items})
            else:
                raise Unsupported(f"volume {name!r}: type {sorted(set(volume) - {'name'})} is not implemented")
            self.volume_dirs[name] = path

    def create_mount_points(self) -> None:
        for container in self.all_containers():
            for mount in container.get("volumeMounts") or []:
                target = mount["mountPath"]
                missing = target
                while not os.path.exists(os.path.dirname(missing)):
                    missing = os.path.dirname(missing)
                if not os.path.exists(target):
                    os.makedirs(target)
                    self.created_dirs.append(missing)
                    # Recorded for the caller's clean-up too, in case this process is killed before its own.
                    with open(os.path.join(self.root, "created-mount-points"), "a") as handle:
                        handle.write(missing + "\n")

    def snapshot_volumes(self) -> dict:
        """What the sidecar has put on each emptyDir by the time the app starts, as this (the node's) side sees it:
        the filesystem type on top of the volume directory (fuse.* only if the sidecar's Bidirectional mount
        propagated back) and up to 100 file names."""
        mounts = {}
        with open("/proc/self/mountinfo") as handle:
            for line in handle:
                fields = line.split()
                mounts[fields[4]] = fields[fields.index("-") + 1]  # the last mount on a path wins: the top one
        snapshot = {}
        for volume in self.spec.get("volumes") or []:
            if "emptyDir" not in volume:
                continue
            path = self.volume_dirs[volume["name"]]
            files = []
            for directory, _, names in os.walk(path):
                files.extend(os.path.relpath(os.path.join(directory, n), path) for n in names)
                if len(files) >= 100:
                    break
            snapshot[volume["name"]] = {"fstype": mounts.get(path), "files": sorted(files)[:100]}
        return snapshot

    def remove_mount_points(self) -> None:
        for top in reversed(self.created_dirs):
            for directory, _, _ in sorted(os.walk(top, topdown=False), key=lambda w: -len(w[0])):
                try:
                    os.rmdir(directory)
                except OSError:
                    pass

    # ---- containers ----------------------------------------------------------------------------------------
    def all_containers(self) -> list[dict]:
        return (self.spec.get("initContainers") or []) + (self.spec.get("containers") or [])

    def field_ref(self, path: str) -> str:
        simple = {"metadata.name": self.meta.get("name"), "metadata.namespace": self.meta.get("namespace"),
                  "metadata.uid": self.meta.get("uid"), "status.podIP": "127.0.0.1", "spec.nodeName": "e2e-node",
                  "spec.serviceAccountName": self.spec.get("serviceAccountName", "default")}
        if path in simple:
            return str(simple[path])
        match = re.fullmatch(r"metadata\.(labels|annotations)\['(.+)'\]", path)
        if match:
            return str((self.meta.get(match.group(1)) or {}).get(match.group(2), ""))
        raise Unsupported(f"env fieldRef {path!r}")

    def environment(self, container: dict) -> dict[str, str]:
        env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/root"),
               "HOSTNAME": self.meta["name"]}
        for passthrough in ("DOTNET_ROOT", "PYENV_ROOT", "LANG"):
            if passthrough in os.environ:
                env[passthrough] = os.environ[passthrough]
        for source in container.get("envFrom") or []:
            if "configMapRef" in source:
                env.update({source.get("prefix", "") + k: v for k, v in self.config_maps[source["configMapRef"]["name"]].items()})
            elif "secretRef" in source:
                env.update({source.get("prefix", "") + k: v for k, v in self.secrets[source["secretRef"]["name"]].items()})
        for item in container.get("env") or []:
            name = item["name"]
            if "value" in item:
                env[name] = expand(str(item["value"]), env)
            elif "valueFrom" in item:
                value_from = item["valueFrom"]
                if "secretKeyRef" in value_from:
                    ref = value_from["secretKeyRef"]
                    if ref["name"] not in self.secrets or ref["key"] not in self.secrets[ref["name"]]:
                        raise Unsupported(f"container {container['name']!r} env {name}: Secret {ref['name']!r} "
                                          f"key {ref['key']!r} is not in the given files")
                    env[name] = self.secrets[ref["name"]][ref["key"]]
                elif "configMapKeyRef" in value_from:
                    ref = value_from["configMapKeyRef"]
                    env[name] = self.config_maps[ref["name"]][ref["key"]]
                elif "fieldRef" in value_from:
                    env[name] = self.field_ref(value_from["fieldRef"]["fieldPath"])
                else:
                    raise Unsupported(f"container {container['name']!r} env {name}: valueFrom {sorted(value_from)}")
            else:
                env[name] = ""
        return env

    def argv(self, container: dict, env: dict[str, str]) -> list[str]:
        command = list(container.get("command") or []) + list(container.get("args") or [])
        if not container.get("command"):
            raise Unsupported(f"container {container['name']!r} has no command (an image entrypoint cannot be run here)")
        command = [expand(part, env) for part in command]
        if command[0] == SIDECAR_IMAGE_COMMAND:
            command[0] = self.sidecar_binary
        return command

    def start(self, container: dict) -> subprocess.Popen:
        env = self.environment(container)
        security = container.get("securityContext") or {}
        spec = {
            "argv": self.argv(container, env),
            "env": env,
            "workingDir": container.get("workingDir"),
            "mounts": [{"source": os.path.join(self.volume_dirs[m["name"]], m.get("subPath", "")).rstrip("/"),
                        "target": m["mountPath"], "readOnly": bool(m.get("readOnly")),
                        "propagation": m.get("mountPropagation", "None")}
                       for m in container.get("volumeMounts") or []],
            "dropCapabilities": capabilities_to_drop(security),
            "user": self.user(container),
            "noNewPrivileges": security.get("allowPrivilegeEscalation") is False,
        }
        spec_path = os.path.join(self.root, f"container-{container['name']}.json")
        with open(spec_path, "w") as handle:
            json.dump(spec, handle)
        log = open(os.path.join(self.root, "logs", f"{container['name']}.log"), "wb")
        # --propagation unchanged: the container's copies of the shared volume mounts stay in their peer groups.
        process = subprocess.Popen(["unshare", "--mount", "--propagation", "unchanged", "--",
                                    sys.executable, os.path.abspath(__file__), "enter", spec_path],
                                   stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self.event("started", container=container["name"], pid=process.pid, uid=spec["user"][0], argv=" ".join(spec["argv"][:3]).replace("\n", " ")[:100])
        return process

    def user(self, container: dict) -> list[int]:
        """uid/gid as the runtime picks them: securityContext (container, then pod) over the image's USER."""
        image = container.get("image", "").rsplit(":", 1)[0] if "@" not in container.get("image", "") else ""
        image_uid, _, image_gid = self.image_users.get(image, "0:0").partition(":")
        pod_security = self.spec.get("securityContext") or {}
        security = container.get("securityContext") or {}
        uid = security.get("runAsUser", pod_security.get("runAsUser", int(image_uid)))
        gid = security.get("runAsGroup", pod_security.get("runAsGroup", int(image_gid or 0) if uid == int(image_uid) else 0))
        if (security.get("runAsNonRoot", pod_security.get("runAsNonRoot")) is True) and uid == 0:
            raise Unsupported(f"container {container['name']!r}: runAsNonRoot but the user is root "
                              "(kubelet refuses to start it: CreateContainerConfigError)")
        return [int(uid), int(gid)]

    def wait_startup_probe(self, container: dict, process: subprocess.Popen) -> None:
        probe = container.get("startupProbe")
        if not probe:
            return
        if "httpGet" not in probe:
            raise Unsupported(f"container {container['name']!r}: startupProbe {sorted(probe)}")
        http = probe["httpGet"]
        url = f"http://127.0.0.1:{http['port']}{http.get('path', '/')}"
        # kubelet probes every periodSeconds; polling faster only makes the test quicker, the limit is the same.
        # The spec's limit (the injector allows 600 s for a long prefetch), capped so a sidecar that never becomes
        # ready fails the test in a minute rather than ten.
        limit = probe.get("periodSeconds", 10) * probe.get("failureThreshold", 3) + probe.get("initialDelaySeconds", 0)
        deadline = time.monotonic() + min(limit, self.startup_timeout)
        last = "no answer yet"
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"container {container['name']!r} exited with {process.returncode} before its "
                                   f"startupProbe {url} succeeded")
            try:
                with urllib.request.urlopen(url, timeout=probe.get("timeoutSeconds", 1)) as response:
                    if 200 <= response.status < 400:
                        self.event("startupProbe succeeded", container=container["name"], url=url)
                        return
                    last = f"HTTP {response.status}"
            except urllib.error.HTTPError as error:
                last = f"HTTP {error.code}"
            except (OSError, urllib.error.URLError) as error:
                last = str(error)
            time.sleep(0.1)
        raise RuntimeError(f"container {container['name']!r}: startupProbe {url} did not succeed in time ({last})")

    def run_post_start(self, container: dict, process: subprocess.Popen, timeout: float) -> None:
        lifecycle = container.get("lifecycle") or {}
        if set(lifecycle) - {"postStart"}:
            raise Unsupported(f"container {container['name']!r}: lifecycle {sorted(set(lifecycle) - {'postStart'})}")
        hook = lifecycle.get("postStart")
        if not hook:
            return
        if "exec" not in hook:
            raise Unsupported(f"container {container['name']!r}: postStart {sorted(hook)}")
        # The hook runs inside the container: wait until it has its own mount namespace and has exec'd its
        # command (its volumes are mounted by then), then nsenter that mount namespace.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and process.poll() is None:
            try:
                own = os.readlink("/proc/self/ns/mnt") != os.readlink(f"/proc/{process.pid}/ns/mnt")
                with open(f"/proc/{process.pid}/cmdline", "rb") as handle:
                    entered = b"kubelet.py" not in handle.read()
            except OSError:
                break
            if own and entered:
                break
            time.sleep(0.01)
        env = self.environment(container)
        argv = [expand(part, env) for part in hook["exec"]["command"]]
        if argv[0] == SIDECAR_IMAGE_COMMAND:
            argv[0] = self.sidecar_binary
        with open(os.path.join(self.root, "logs", f"{container['name']}.postStart.log"), "wb") as log:
            hook_process = subprocess.Popen(["nsenter", "-t", str(process.pid), "-m", "--"] + argv, env=env,
                                            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
            try:
                code = hook_process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                hook_process.kill()
                code = "timeout"
        if code != 0:
            with open(log.name, errors="replace") as handle:
                output = handle.read().strip()[-400:]
            raise RuntimeError(f"container {container['name']!r}: postStart hook {' '.join(hook['exec']['command'])} "
                               f"failed ({code}): {output}; kubelet kills the container")
        self.event("postStart succeeded", container=container["name"])

    def stop(self, name: str, process: subprocess.Popen) -> dict:
        grace = self.spec.get("terminationGracePeriodSeconds", 30)
        if process.poll() is not None:
            self.event("already exited", container=name, code=process.returncode)
            return {"name": name, "exitCode": process.returncode, "stoppedBy": "itself"}
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        self.event("SIGTERM", container=name)
        try:
            process.wait(timeout=grace)
            stopped_by = "SIGTERM"
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            stopped_by = "SIGKILL after terminationGracePeriodSeconds"
        seconds = round(time.monotonic() - started, 3)
        self.event("stopped", container=name, code=process.returncode, by=stopped_by, seconds=seconds)
        return {"name": name, "exitCode": process.returncode, "stoppedBy": stopped_by, "stopSeconds": seconds}

    def run(self, app_timeout: float) -> dict:
        os.makedirs(os.path.join(self.root, "logs"), exist_ok=True)
        result: dict = {"pod": self.meta["name"], "phase": "Failed", "containers": [], "sidecars": []}
        sidecars: list[tuple[str, subprocess.Popen]] = []
        apps: list[tuple[str, subprocess.Popen]] = []
        try:
            self.prepare_volumes()
            self.create_mount_points()
            for container in self.spec.get("initContainers") or []:
                if container.get("restartPolicy") == "Always":
                    process = self.start(container)
                    sidecars.append((container["name"], process))
                    self.wait_startup_probe(container, process)
                else:
                    process = self.start(container)
                    code = process.wait(timeout=app_timeout)
                    self.event("init container exited", container=container["name"], code=code)
                    result["containers"].append({"name": container["name"], "init": True, "exitCode": code})
                    if code != 0:
                        raise RuntimeError(f"init container {container['name']!r} exited with {code}")
            result["volumesAtAppStart"] = self.snapshot_volumes()
            for container in self.spec.get("containers") or []:
                process = self.start(container)
                apps.append((container["name"], process))
                # kubelet starts containers in order and does not start the next one until postStart returns
                # (the legacy sidecar relies on this); a failed hook kills the container.
                self.run_post_start(container, process, app_timeout)
            deadline = time.monotonic() + app_timeout
            for name, process in apps:
                code = process.wait(timeout=max(deadline - time.monotonic(), 0.1))
                self.event("container exited", container=name, code=code)
                result["containers"].append({"name": name, "exitCode": code})
            if all(c["exitCode"] == 0 for c in result["containers"]):
                result["phase"] = "Succeeded"
        except (Unsupported, RuntimeError, subprocess.TimeoutExpired) as error:
            result["error"] = f"{type(error).__name__}: {error}"
            self.event("pod failed", reason=result["error"])
        finally:
            for name, process in apps:
                if process.poll() is None:
                    process.kill()
                    process.wait()
            # Native sidecars stop after the app containers, in reverse order of start (KEP-753).
            for name, process in reversed(sidecars):
                result["sidecars"].append(self.stop(name, process))
            self.remove_mount_points()
        result["events"] = self.events
        return result


def expand(text: str, env: dict[str, str]) -> str:
    """Kubernetes $(VAR) expansion: defined variables are replaced, $$ escapes, unknown references stay as is."""
    return re.sub(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)",
                  lambda m: "$" if m.group(0) == "$$" else env.get(m.group(1), m.group(0)), text)


def enter(spec_path: str) -> None:
    """Runs inside the container's fresh mount namespace: bind the volumes, drop SYS_ADMIN if due, exec."""
    with open(spec_path) as handle:
        spec = json.load(handle)
    for mount in spec["mounts"]:
        subprocess.run(["mount", "--rbind", mount["source"], mount["target"]], check=True)
        flag = {"Bidirectional": "--make-rshared", "HostToContainer": "--make-rslave"}.get(mount["propagation"],
                                                                                         "--make-rprivate")
        subprocess.run(["mount", flag, mount["target"]], check=True)
        if mount["readOnly"]:
            subprocess.run(["mount", "-o", "remount,bind,ro", mount["target"]], check=True)
    libc = ctypes.CDLL(None, use_errno=True)
    # Root keeps only the bounding set across exec: dropping there is what the runtime's capability set does.
    for number in spec["dropCapabilities"]:
        if libc.prctl(PR_CAPBSET_DROP, number, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), f"prctl(PR_CAPBSET_DROP, {CAPABILITIES[number]})")
    if spec["noNewPrivileges"] and libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS)")
    uid, gid = spec["user"]
    if uid != 0 or gid != 0:
        os.setgroups([])
        os.setgid(gid)
        os.setuid(uid)  # a non-root uid also loses every capability, as in a container
    if spec.get("workingDir"):
        os.chdir(spec["workingDir"])
    argv = spec["argv"]
    os.execvpe(argv[0], argv, spec["env"])


def main() -> int:
    parser = argparse.ArgumentParser(description="Run one pod spec as local processes (a kubelet stand-in).")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run")
    run.add_argument("--pod", required=True, help="the injected manifest (Pod or Job, plus ConfigMaps)")
    run.add_argument("--cluster", action="append", default=[], help="files with Secrets/ConfigMaps")
    run.add_argument("--root", required=True, help="an empty directory for the pod's volumes and logs")
    run.add_argument("--sidecar-binary", required=True)
    run.add_argument("--result", required=True)
    run.add_argument("--app-timeout", type=float, default=60)
    run.add_argument("--startup-timeout", type=float, default=60, help="cap on a startupProbe's own limit")
    run.add_argument("--image-user", action="append", default=[], metavar="IMAGE=UID:GID",
                     help="an image's USER (images run as root otherwise)")
    entered = sub.add_parser("enter")
    entered.add_argument("spec")
    args = parser.parse_args()
    if args.command == "enter":
        enter(args.spec)
        return 127
    load = lambda path: [d for d in yaml.safe_load_all(open(path)) if d]  # noqa: E731
    cluster = [d for path in args.cluster for d in load(path)]
    try:
        image_users = dict(item.split("=", 1) for item in args.image_user)
        pod = Pod(load(args.pod), cluster, args.root, args.sidecar_binary, image_users)
        pod.startup_timeout = args.startup_timeout
    except Unsupported as error:
        print(f"kubelet: {error}", file=sys.stderr)
        return 2
    result = pod.run(args.app_timeout)
    with open(args.result, "w") as handle:
        json.dump(result, handle, indent=1)
    return 0 if result["phase"] == "Succeeded" else 1


if __name__ == "__main__":
    sys.exit(main())
