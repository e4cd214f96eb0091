#!/usr/bin/env python3
"""How much memory the server takes for a burst of password hashes, and whether it gives it
back: the documented check of docs/benchmarks.md ("Password hashing under a burst").

Starts the flowpilot binary on a fresh SQLite database, sends BURST concurrent sign-ups, then
BURST concurrent failed logins (each from its own forwarded address, so the per-address login
limit does not answer them before the hash), and prints the server's resident memory before,
at its peak, and 10 s after each burst. Exits non-zero when the peak passes LIMIT_MB.

Usage: scripts/hashing-memory.py [path/to/flowpilot] (default target/release/flowpilot)
Environment: BURST (64), LIMIT_MB (300).
"""
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

BURST = int(os.environ.get("BURST", "64"))
LIMIT_MB = int(os.environ.get("LIMIT_MB", "300"))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def post(base, path, body, forwarded_for=None):
    req = urllib.request.Request(base + path, data=json.dumps(body).encode(), method="POST")
    req.add_header("content-type", "application/json")
    if forwarded_for:
        req.add_header("x-forwarded-for", forwarded_for)
    try:
        with urllib.request.urlopen(req, timeout=120) as resp:
            return resp.status
    except urllib.error.HTTPError as e:
        return e.code


def burst(pid, name, make_request):
    before = rss_mb(pid)
    peak = before
    statuses = []
    threads = [threading.Thread(target=lambda i=i: statuses.append(make_request(i))) for i in range(BURST)]
    start = time.time()
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads):
        peak = max(peak, rss_mb(pid))
        time.sleep(0.02)
    took = time.time() - start
    time.sleep(10)
    after = rss_mb(pid)
    counts = {s: statuses.count(s) for s in sorted(set(statuses))}
    print(f"{name:>14}: {BURST} at once in {took:.1f} s, statuses {counts}; "
          f"RSS before {before:.0f} MB, peak {peak:.0f} MB, 10 s after {after:.0f} MB")
    return peak


def main():
    binary = sys.argv[1] if len(sys.argv) > 1 else "target/release/flowpilot"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    data = tempfile.mkdtemp(prefix="fp-hashing-")
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": data,
        "FLOWPILOT_BIND": f"127.0.0.1:{port}",
        "FLOWPILOT_DATABASE_URL": f"sqlite://{data}/flowpilot.db",
        "FLOWPILOT_LLM_PROVIDER": "offline",
        # The worst case: every request reaches the hash (no sign-up limit, one address each).
        "FLOWPILOT_RATE_LIMITS": "off",
        "FLOWPILOT_TRUSTED_PROXIES": "127.0.0.1",
        "RUST_LOG": "warn",
    }
    server = subprocess.Popen([binary, "serve"], env=env)
    try:
        for _ in range(600):
            try:
                urllib.request.urlopen(base + "/readyz", timeout=1)
                break
            except Exception:
                time.sleep(0.1)
        time.sleep(1)
        print(f"{'idle':>14}: RSS {rss_mb(server.pid):.0f} MB")
        peaks = [
            burst(server.pid, "sign-ups", lambda i: post(base, "/api/v1/auth/register", {
                "email": f"admin{i}@shop{i}.test", "password": "a long password",
                "full_name": "Ada", "account_name": f"Shop {i}"})),
            burst(server.pid, "failed logins", lambda i: post(base, "/api/v1/auth/login", {
                "email": f"nobody{i}@shop.test", "password": "wrong password"},
                forwarded_for=f"198.51.{i // 250}.{i % 250 + 1}")),
        ]
    finally:
        server.terminate()
        server.wait(timeout=30)
    if max(peaks) > LIMIT_MB:
        print(f"peak {max(peaks):.0f} MB is over {LIMIT_MB} MB")
        sys.exit(1)


if __name__ == "__main__":
    main()
