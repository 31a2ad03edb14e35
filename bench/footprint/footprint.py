#!/usr/bin/env python3
"""Footprint of the sidecar: start -> /readyz, idle RSS, RSS under 32 concurrent 64 KiB range readers,
SIGTERM -> exit, for several builds measured in the same run; prints one table with ratios to the first build.

    footprint.py --build aot=/path/fluid-sidecar --build jit="dotnet /path/fluid-sidecar.dll" [--load-seconds 60]

Everything listens on 127.0.0.1 on free ports; every process started here is killed on exit.
"""
import argparse
import hashlib
import http.client
import json
import os
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

WARM_BLOCKS = 10_000
WARM_FILE_SIZE = 4096          # one block each (a file smaller than a block is one block)
LOAD_OBJECT_SIZE = 128 * 1024 * 1024
RANGE_SIZE = 64 * 1024
READERS = 32


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def readyz_once(port):
    """True when /readyz answers 200; False when not listening yet or not ready."""
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        conn.request("GET", "/readyz")
        status = conn.getresponse().status
        conn.close()
        return status == 200
    except OSError:
        return False


class Sidecar:
    def __init__(self, command, work, cache_dir, datasets, prefetch=None, shared_cache=None):
        self.command = command
        self.work = work
        self.s3_port = free_port()
        self.admin_port = free_port()
        # /status is served on the local admin port only (the probe port answers /healthz, /readyz, /metrics).
        self.admin_local_port = free_port()
        config = {
            "s3": {"address": "127.0.0.1", "port": self.s3_port},
            "admin": {"address": "127.0.0.1", "port": self.admin_port, "localPort": self.admin_local_port},
            "cache": {"directory": cache_dir, "quotaBytes": 8 * 1024 ** 3, "minFreeBytes": 64 * 1024 ** 2},
            "datasets": datasets,
        }
        if prefetch:
            config["prefetch"] = prefetch
        if shared_cache:
            config["sharedCache"] = shared_cache
        self.config_path = os.path.join(work, f"config-{self.admin_port}.json")
        with open(self.config_path, "w") as f:
            json.dump(config, f)
        self.log_path = os.path.join(work, f"sidecar-{self.admin_port}.log")
        self.process = None

    def start(self):
        """Starts the process; returns seconds from just before the spawn to the first /readyz 200."""
        log = open(self.log_path, "ab")
        env = dict(os.environ, DOTNET_CLI_TELEMETRY_OPTOUT="1", DOTNET_NOLOGO="1")
        t0 = time.perf_counter()
        self.process = subprocess.Popen(self.command + ["--config", self.config_path], stdout=log, stderr=log, env=env)
        while True:
            if readyz_once(self.admin_port):
                return time.perf_counter() - t0
            if self.process.poll() is not None:
                raise RuntimeError(f"sidecar exited with {self.process.returncode} before ready; see {self.log_path}")
            if time.perf_counter() - t0 > 120:
                raise RuntimeError(f"sidecar not ready within 120 s; see {self.log_path}")
            time.sleep(0.001)

    def terminate(self):
        """SIGTERM; returns (seconds to exit, exit code)."""
        t0 = time.perf_counter()
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=60)
        return time.perf_counter() - t0, code

    def kill(self):
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def status(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.admin_local_port, timeout=10)
        conn.request("GET", "/status")
        body = conn.getresponse().read()
        conn.close()
        return json.loads(body)


def get_sha256(port, bucket, key, chunk=256 * 1024):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    conn.request("GET", f"/{bucket}/{key}")
    response = conn.getresponse()
    if response.status != 200:
        raise RuntimeError(f"GET {bucket}/{key}: HTTP {response.status}")
    digest = hashlib.sha256()
    while True:
        data = response.read(chunk)
        if not data:
            break
        digest.update(data)
    conn.close()
    return digest.hexdigest()


def write_datasets(root):
    """10,000 small files (the warm cache) and one large object (the loaded run), deterministic bytes."""
    small = os.path.join(root, "small")
    for i in range(WARM_BLOCKS):
        directory = os.path.join(small, f"d{i % 100:02d}")
        os.makedirs(directory, exist_ok=True)
        with open(os.path.join(directory, f"f{i:05d}.bin"), "wb") as f:
            f.write(hashlib.sha256(str(i).encode()).digest() * (WARM_FILE_SIZE // 32))
    large = os.path.join(root, "large")
    os.makedirs(large, exist_ok=True)
    digest = hashlib.sha256()
    seed = hashlib.sha256(b"footprint").digest() * (1024 * 1024 // 32)
    with open(os.path.join(large, "object.bin"), "wb") as f:
        for i in range(LOAD_OBJECT_SIZE // len(seed)):
            piece = bytes([i & 0xFF]) + seed[1:]
            f.write(piece)
            digest.update(piece)
    return small, large, digest.hexdigest()


def warm_cache(command, work, cache_dir, small_dir):
    """Fills cache_dir with WARM_BLOCKS real block files: the sidecar itself prefetches the small dataset."""
    sidecar = Sidecar(command, work, cache_dir,
                      [{"name": "small", "source": f"local://{small_dir}", "prefetch": ["**"]}],
                      prefetch={"workers": 16, "waitForReady": True})
    try:
        sidecar.start()  # ready = prefetch done (waitForReady)
        blocks = sidecar.status()["cache"]["blocks"]
        sidecar.terminate()
    finally:
        sidecar.kill()
    return blocks


def count_block_files(cache_dir):
    return sum(1 for _, _, files in os.walk(os.path.join(cache_dir, "blocks")) for f in files if f.endswith(".blk"))


def loaded_rss(sidecar, seconds, sample_every=5.0):
    """32 concurrent readers of random 64 KiB ranges (wrk when installed, else Python threads); RSS every 5 s."""
    url = f"http://127.0.0.1:{sidecar.s3_port}/large/object.bin"
    lua = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "wrk", "random-range.lua")
    samples = []
    requests = 0
    if shutil.which("wrk"):
        load = subprocess.Popen(["wrk", "-t2", f"-c{READERS}", f"-d{seconds}s", "-s", lua, url, "--", str(LOAD_OBJECT_SIZE)],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        t0 = time.perf_counter()
        while load.poll() is None:
            time.sleep(max(0.0, sample_every - ((time.perf_counter() - t0) % sample_every)))
            if load.poll() is None:
                samples.append(rss_kib(sidecar.process.pid))
        out = load.stdout.read()
        for line in out.splitlines():
            if "requests in" in line:
                requests = int(line.split()[0])
            if "Non-2xx" in line:
                raise RuntimeError(f"range readers got errors:\n{out}")
    else:
        stop = threading.Event()
        counts = [0] * READERS

        def reader(n):
            import random
            rnd = random.Random(n)
            conn = http.client.HTTPConnection("127.0.0.1", sidecar.s3_port, timeout=60)
            while not stop.is_set():
                first = rnd.randrange(0, LOAD_OBJECT_SIZE // RANGE_SIZE) * RANGE_SIZE
                conn.request("GET", "/large/object.bin", headers={"Range": f"bytes={first}-{first + RANGE_SIZE - 1}"})
                r = conn.getresponse()
                if r.status != 206 or len(r.read()) != RANGE_SIZE:
                    raise RuntimeError(f"range read: HTTP {r.status}")
                counts[n] += 1

        threads = [threading.Thread(target=reader, args=(n,), daemon=True) for n in range(READERS)]
        for t in threads:
            t.start()
        for _ in range(int(seconds // sample_every)):
            time.sleep(sample_every)
            samples.append(rss_kib(sidecar.process.pid))
        stop.set()
        for t in threads:
            t.join()
        requests = sum(counts)
    return samples, requests


def in_flight_terminate(sidecar, large_hash):
    """SIGTERM while a whole-object GET is mid-body; returns (exit seconds, exit code, how the download ended)."""
    conn = http.client.HTTPConnection("127.0.0.1", sidecar.s3_port, timeout=60)
    conn.request("GET", "/large/object.bin")
    response = conn.getresponse()
    digest = hashlib.sha256(response.read(1024 * 1024))
    outcome = {}

    def drain():
        try:
            while True:
                data = response.read(256 * 1024)
                if not data:
                    break
                digest.update(data)
            outcome["end"] = "completed" if digest.hexdigest() == large_hash else "WRONG BYTES"
        except (http.client.IncompleteRead, OSError):
            outcome["end"] = "cut"

    seconds, code = sidecar.terminate()
    drain_thread = threading.Thread(target=drain)
    drain_thread.start()
    drain_thread.join(timeout=30)
    conn.close()
    return seconds, code, outcome.get("end", "hung")


def measure(name, command, args, work, warm_cache_dir, small_dir, large_dir, large_hash, shared_cache=None):
    print(f"--- {name}: {' '.join(command)}" + (f" with sharedCache {json.dumps(shared_cache)}" if shared_cache else ""), flush=True)
    result = {"name": name}
    cache_dir = os.path.join(work, f"cache-{name}")
    datasets = [{"name": "small", "source": f"local://{small_dir}"},
                {"name": "large", "source": f"local://{large_dir}"}]

    # (1) start -> ready, N starts on a copy of the warm cache (hard links: the files are never modified in place).
    if os.path.exists(cache_dir):
        shutil.rmtree(cache_dir)
    shutil.copytree(warm_cache_dir, cache_dir, copy_function=os.link)
    times = []
    for _ in range(args.starts):
        sidecar = Sidecar(command, work, cache_dir, datasets, shared_cache=shared_cache)
        try:
            times.append(sidecar.start())
            sidecar.terminate()
        finally:
            sidecar.kill()
    result["ready_ms"] = statistics.median(times) * 1000
    result["ready_min_ms"] = min(times) * 1000
    print(f"    start->ready: median {result['ready_ms']:.1f} ms, min {result['ready_min_ms']:.1f} ms, max {max(times) * 1000:.1f} ms", flush=True)

    sidecar = Sidecar(command, work, cache_dir, datasets, shared_cache=shared_cache)
    try:
        sidecar.start()
        # (2) idle RSS: after the background index scan of the 10,000 blocks has finished and the memory trimmer has
        # collected what the scan left behind (at its first quiet check, 2-4 s after the scan: an idle pod's steady
        # state, not the moment right after start).
        deadline = time.time() + 30
        while not sidecar.status()["cache"]["indexLoaded"] and time.time() < deadline:
            time.sleep(0.1)
        deadline = time.time() + 15
        while sidecar.status().get("runtime", {}).get("memoryTrims", 1) < 1 and time.time() < deadline:
            time.sleep(0.2)
        time.sleep(1)
        result["idle_mib"] = rss_kib(sidecar.process.pid) / 1024
        result["indexed_blocks"] = sidecar.status()["cache"]["blocks"]
        print(f"    idle RSS: {result['idle_mib']:.1f} MiB ({result['indexed_blocks']} blocks indexed)", flush=True)

        # (3) loaded RSS: warm the large object once (so the run measures serving, not the source), then 32 readers.
        if get_sha256(sidecar.s3_port, "large", "object.bin") != large_hash:
            raise RuntimeError("the large object came back with wrong bytes")
        samples, requests = loaded_rss(sidecar, args.load_seconds)
        result["load_samples_mib"] = [s / 1024 for s in samples]
        result["load_max_mib"] = max(samples) / 1024
        result["load_growth_mib"] = (samples[-1] - samples[0]) / 1024 if len(samples) > 1 else 0.0
        result["load_rps"] = requests / args.load_seconds
        print(f"    loaded RSS every 5 s (MiB): {' '.join(f'{s / 1024:.0f}' for s in samples)}; {result['load_rps']:.0f} req/s", flush=True)

        # (4) SIGTERM with a download in flight, then a restart on the same cache must serve the exact bytes.
        seconds, code, end = in_flight_terminate(sidecar, large_hash)
        result["exit_ms"], result["exit_code"], result["in_flight"] = seconds * 1000, code, end
        print(f"    SIGTERM with a GET in flight: exit {code} after {seconds * 1000:.0f} ms; the download was {end}", flush=True)
    finally:
        sidecar.kill()

    sidecar = Sidecar(command, work, cache_dir, datasets, shared_cache=shared_cache)
    try:
        sidecar.start()
        result["restart_ok"] = get_sha256(sidecar.s3_port, "large", "object.bin") == large_hash
        idle_seconds, _ = sidecar.terminate()
        result["idle_exit_ms"] = idle_seconds * 1000
        print(f"    restart serves exact bytes: {result['restart_ok']}; idle SIGTERM exit {result['idle_exit_ms']:.0f} ms", flush=True)
    finally:
        sidecar.kill()
    return result


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--build", action="append", required=True, help="NAME=COMMAND (first one is the reference for ratios)")
    parser.add_argument("--starts", type=int, default=20)
    parser.add_argument("--load-seconds", type=int, default=60)
    parser.add_argument("--work", default=None)
    parser.add_argument("--tier", action="append", default=[],
                        help="NAME=HOST:PORT: the build NAME runs with a Redis-protocol shared tier there (a closed port = a tier down at start)")
    args = parser.parse_args()
    builds = [(b.split("=", 1)[0], shlex.split(b.split("=", 1)[1])) for b in args.build]
    tiers = {t.split("=", 1)[0]: {"engine": "redis", "endpoints": [t.split("=", 1)[1]]} for t in args.tier}
    unknown = set(tiers) - {name for name, _ in builds}
    if unknown:
        parser.error(f"--tier names builds that do not exist: {', '.join(sorted(unknown))}")

    work = args.work or tempfile.mkdtemp(prefix="fluid-footprint-")
    try:
        t0 = time.perf_counter()
        small_dir, large_dir, large_hash = write_datasets(os.path.join(work, "data"))
        warm_dir = os.path.join(work, "warm-cache")
        # The fastest-starting build (the last: AOT) fills it; the files are the same whichever build writes them.
        blocks = warm_cache(builds[-1][1], work, warm_dir, small_dir)
        on_disk = count_block_files(warm_dir)
        print(f"warm cache: {on_disk} block files on disk ({blocks} indexed by the filling run), made in {time.perf_counter() - t0:.1f} s", flush=True)
        if on_disk < WARM_BLOCKS:
            raise RuntimeError(f"expected {WARM_BLOCKS} blocks in the warm cache, found {on_disk}")

        results = [measure(name, command, args, work, warm_dir, small_dir, large_dir, large_hash, tiers.get(name)) for name, command in builds]
        print_table(results, args)
        ok = all(r["exit_code"] == 0 and r["restart_ok"] and r["in_flight"] in ("completed", "cut") for r in results)
        return 0 if ok else 1
    finally:
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)


MIB_IN_MB = 1024 * 1024 / 1e6


def print_table(results, args):
    ref = results[0]
    # The targets are in MB (10^6 bytes): 40 MB = 38.1 MiB, 120 MB = 114.4 MiB. VmRSS is in KiB, so the
    # figures are printed in MiB and in MB, each next to the target in its own unit.
    for r in results:
        r["idle_mb"] = r["idle_mib"] * MIB_IN_MB
        r["load_max_mb"] = r["load_max_mib"] * MIB_IN_MB
    rows = [
        ("start -> /readyz, median of %d (ms)" % args.starts, "ready_ms", "<= 100"),
        ("start -> /readyz, fastest (ms)", "ready_min_ms", ""),
        ("idle RSS, 10,000 blocks indexed (MiB)", "idle_mib", "<= 38.1"),
        ("idle RSS, 10,000 blocks indexed (MB)", "idle_mb", "<= 40"),
        (f"RSS, 32 x 64 KiB range readers, max of {args.load_seconds} s (MiB)", "load_max_mib", "<= 114.4"),
        (f"RSS, 32 x 64 KiB range readers, max of {args.load_seconds} s (MB)", "load_max_mb", "<= 120"),
        ("RSS growth, first -> last sample (MiB)", "load_growth_mib", "~ 0"),
        ("range reads per second", "load_rps", ""),
        ("SIGTERM -> exit, GET in flight (ms)", "exit_ms", "<= 1000"),
        ("SIGTERM -> exit, idle (ms)", "idle_exit_ms", "<= 1000"),
    ]
    names = [r["name"] for r in results]
    header = f"{'':<52}" + "".join(f"{n:>12}" for n in names) + "".join(f"{n + '/' + ref['name']:>12}" for n in names[1:]) + f"{'target':>10}"
    print()
    print(header)
    for label, key, target in rows:
        line = f"{label:<52}" + "".join(f"{r[key]:>12.1f}" for r in results)
        for r in results[1:]:
            line += f"{(r[key] / ref[key] if ref[key] else float('nan')):>12.2f}"
        print(line + f"{target:>10}")
    print(f"{'exit code / in-flight GET / restart serves exact bytes':<52}" +
          "".join(f"{str(r['exit_code']) + '/' + r['in_flight'] + '/' + ('ok' if r['restart_ok'] else 'BAD'):>16}" for r in results))


if __name__ == "__main__":
    sys.exit(main())
