#!/usr/bin/env python3
"""Hostile-client probes against the service binaries, on loopback.

    python3 scripts/hostile-probes.py [BIN_DIR] [PROBE ...]

BIN_DIR holds the `productpage`, `details` and `ratings` binaries (default target/release). PROBE is any of
idle, slowloris, metrics, sigterm, bigbody (default: all). Each probe starts its own processes
on free loopback ports, measures, stops them and prints one line of figures. Extra environment
for the services can be given as SERVICE_ENV="A=1 B=2". Standard library only.
"""

import os
import random
import signal
import socket
import string
import subprocess
import sys
import threading
import time
import urllib.request

HOST = "127.0.0.1"


def free_port():
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def status_of(pid):
    fields = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            fields[key] = value.strip()
    return fields


def rss_mb(pid):
    return int(status_of(pid)["VmRSS"].split()[0]) / 1024


def hwm_mb(pid):
    return int(status_of(pid)["VmHWM"].split()[0]) / 1024


def open_fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def extra_env():
    env = dict(os.environ)
    env.setdefault("RUST_LOG", "warn")
    for pair in os.environ.get("SERVICE_ENV", "").split():
        k, _, v = pair.partition("=")
        env[k] = v
    return env


class Service:
    def __init__(self, bindir, name, env=None, log=None):
        self.port = free_port()
        e = extra_env()
        e.update(env or {})
        self.log = open(log or os.devnull, "wb")
        self.proc = subprocess.Popen(
            [os.path.join(bindir, name), str(self.port)],
            env=e,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                urllib.request.urlopen(self.url("/health"), timeout=2).read()
                return
            except Exception:
                time.sleep(0.1)
        raise RuntimeError(f"{name} did not start")

    def url(self, path):
        return f"http://{HOST}:{self.port}{path}"

    @property
    def pid(self):
        return self.proc.pid

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def warm(svc, n=50):
    for _ in range(n):
        urllib.request.urlopen(svc.url("/health"), timeout=5).read()


def connect(port, timeout=5):
    s = socket.socket()
    s.settimeout(timeout)
    s.connect((HOST, port))
    return s


def closed_by_peer(s):
    """True when the server has closed `s` (EOF or reset), without blocking."""
    s.setblocking(False)
    try:
        while True:
            data = s.recv(65536)
            if not data:
                return True
    except BlockingIOError:
        return False
    except OSError:
        return True
    finally:
        s.setblocking(True)


def probe_idle(bindir, n=5000, hold=int(os.environ.get("IDLE_HOLD", "75"))):
    svc = Service(bindir, "details")
    try:
        warm(svc)
        before = rss_mb(svc.pid)
        conns = []
        failed = 0
        for _ in range(n):
            try:
                s = connect(svc.port)
                s.sendall(b"GET /health HTTP/1.1\r\nHost: probe\r\n\r\n")
                conns.append(s)
            except OSError:
                failed += 1
        time.sleep(2)
        answered = 0
        for s in conns:
            s.settimeout(10)
            try:
                if s.recv(4096).startswith(b"HTTP/1.1 200"):
                    answered += 1
            except OSError:
                pass
        held = rss_mb(svc.pid)
        fds_held = open_fds(svc.pid)
        time.sleep(hold)
        closed = sum(closed_by_peer(s) for s in conns)
        rss_after_hold = rss_mb(svc.pid)
        fds_after_hold = open_fds(svc.pid)
        for s in conns:
            s.close()
        time.sleep(3)
        after = rss_mb(svc.pid)
        # A second burst of the same size: freed memory is reused, not added to.
        again = []
        for _ in range(n):
            try:
                s = connect(svc.port)
                s.sendall(b"GET /health HTTP/1.1\r\nHost: probe\r\n\r\n")
                again.append(s)
            except OSError:
                pass
        time.sleep(2)
        second = rss_mb(svc.pid)
        for s in again:
            s.close()
        print(
            f"idle: {n} keep-alive connections ({failed} failed to connect, {answered} answered): "
            f"RSS {before:.1f} MB before, {held:.1f} MB with them open ({fds_held} fds), "
            f"{rss_after_hold:.1f} MB after {hold} s idle ({closed} closed by the server, "
            f"{fds_after_hold} fds), {after:.1f} MB after the client closed the rest; "
            f"{second:.1f} MB during a second burst of {n}",
            flush=True,
        )
    finally:
        svc.stop()


def probe_slowloris(bindir, n=300, hold=60):
    svc = Service(bindir, "details")
    try:
        warm(svc)
        before = rss_mb(svc.pid)
        conns = []
        for _ in range(n):
            s = connect(svc.port)
            s.sendall(b"GET /health HTTP/1.1\r\nHost: probe\r\n")
            conns.append(s)
        started = time.time()
        closed_at = {}
        peak = before
        while time.time() - started < hold and len(closed_at) < n:
            for i, s in enumerate(conns):
                if i in closed_at:
                    continue
                try:
                    s.sendall(b"X-Trickle: 1\r\n")
                except OSError:
                    closed_at[i] = time.time() - started
                    continue
                if closed_by_peer(s):
                    closed_at[i] = time.time() - started
            peak = max(peak, rss_mb(svc.pid))
            time.sleep(1)
        during = rss_mb(svc.pid)
        for s in conns:
            s.close()
        time.sleep(3)
        after = rss_mb(svc.pid)
        if closed_at:
            times = sorted(closed_at.values())
            closing = (
                f"{len(times)} closed by the server, after {times[0]:.1f}-{times[-1]:.1f} s"
            )
        else:
            closing = f"none closed by the server within {hold} s"
        print(
            f"slowloris: {n} connections trickling one header line a second: {closing}; "
            f"RSS {before:.1f} MB before, peak {peak:.1f} MB, {during:.1f} MB at the end, "
            f"{after:.1f} MB after the client closed",
            flush=True,
        )
    finally:
        svc.stop()


def probe_metrics(bindir, n=3000):
    svc = Service(bindir, "productpage")
    try:
        size_before = len(urllib.request.urlopen(svc.url("/metrics")).read())
        rng = random.Random(1)
        s = connect(svc.port)
        sent = 0
        for _ in range(n):
            method = "".join(rng.choice(string.ascii_uppercase) for _ in range(21))
            req = f"{method} /health HTTP/1.1\r\nHost: probe\r\nContent-Length: 0\r\n\r\n"
            try:
                s.sendall(req.encode())
                buf = b""
                while b"\r\n\r\n" not in buf:
                    chunk = s.recv(65536)
                    if not chunk:
                        raise OSError("closed")
                    buf += chunk
                head, _, rest = buf.partition(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                while len(rest) < length:
                    rest += s.recv(65536)
                if b"connection: close" in head.lower():
                    s.close()
                    s = connect(svc.port)
                sent += 1
            except OSError:
                s.close()
                s = connect(svc.port)
        s.close()
        size_after = len(urllib.request.urlopen(svc.url("/metrics")).read())
        print(
            f"metrics: /metrics {size_before / 1024:.1f} KB before, "
            f"{size_after / 1024:.1f} KB after {n} random 21-character methods ({sent} answered)",
            flush=True,
        )
    finally:
        svc.stop()


def probe_sigterm(bindir):
    results = []
    for kind in ("headers", "body"):
        # A head that never ends (details), and a body that trickles into a route that reads it
        # (ratings' POST).
        svc = Service(bindir, "details" if kind == "headers" else "ratings")
        warm(svc, 5)
        s = connect(svc.port)
        if kind == "headers":
            s.sendall(b"GET /details/0 HTTP/1.1\r\nHost: probe\r\n")
        else:
            s.sendall(
                b"POST /ratings/0 HTTP/1.1\r\nHost: probe\r\nContent-Length: 1000\r\n\r\n"
            )
        stop = threading.Event()

        def trickle():
            while not stop.is_set():
                try:
                    s.sendall(b"X-T: 1\r\n" if kind == "headers" else b"x")
                except OSError:
                    return
                time.sleep(0.5)

        t = threading.Thread(target=trickle, daemon=True)
        t.start()
        time.sleep(1)
        started = time.time()
        svc.proc.send_signal(signal.SIGTERM)
        try:
            svc.proc.wait(60)
            took = time.time() - started
            results.append(f"{kind} trickle: exit {svc.proc.returncode} after {took:.2f} s")
        except subprocess.TimeoutExpired:
            results.append(f"{kind} trickle: still running after 60 s")
        stop.set()
        s.close()
        svc.stop()
    print("sigterm: " + "; ".join(results), flush=True)


class BigBodyServer:
    """Answers every request with 200 and a JSON body of `size` bytes, as fast as it can."""

    def __init__(self, size):
        self.size = size
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((HOST, 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.answer, args=(c,), daemon=True).start()

    def answer(self, c):
        try:
            buf = b""
            while b"\r\n\r\n" not in buf:
                chunk = c.recv(65536)
                if not chunk:
                    return
                buf += chunk
            prefix = b'{"pad": "'
            suffix = b'"}'
            pad = self.size - len(prefix) - len(suffix)
            c.sendall(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                + f"Content-Length: {self.size}\r\n\r\n".encode()
                + prefix
            )
            block = b"x" * (1 << 20)
            while pad > 0:
                c.sendall(block[: min(pad, len(block))])
                pad -= len(block)
            c.sendall(suffix)
        except OSError:
            pass
        finally:
            c.close()


def probe_bigbody(bindir, size=200 * 1024 * 1024):
    big = BigBodyServer(size)
    small = BigBodyServer(200)
    svc = Service(
        bindir,
        "productpage",
        env={
            "DETAILS_HOSTNAME": HOST,
            "DETAILS_SERVICE_PORT": str(big.port),
            "REVIEWS_HOSTNAME": HOST,
            "REVIEWS_SERVICE_PORT": str(small.port),
            "BACKEND_TIMEOUT_SECONDS": "30",
        },
    )
    try:
        before = rss_mb(svc.pid)
        started = time.time()
        try:
            resp = urllib.request.urlopen(svc.url("/productpage"), timeout=60)
            page_status = resp.status
            page = resp.read().decode()
        except urllib.error.HTTPError as e:
            page_status, page = e.code, ""
        took = time.time() - started
        shown = "details error shown" if "Error fetching product details" in page else "no error"
        try:
            api_status = urllib.request.urlopen(svc.url("/api/v1/products/0"), timeout=60).status
        except urllib.error.HTTPError as e:
            api_status = e.code
        print(
            f"bigbody: details answers {size >> 20} MB: /productpage {page_status} ({shown}) "
            f"in {took:.2f} s, /api/v1/products/0 {api_status}; RSS {before:.1f} MB before, "
            f"peak {hwm_mb(svc.pid):.1f} MB",
            flush=True,
        )
    finally:
        svc.stop()


PROBES = {
    "idle": probe_idle,
    "slowloris": probe_slowloris,
    "metrics": probe_metrics,
    "sigterm": probe_sigterm,
    "bigbody": probe_bigbody,
}


def main():
    args = sys.argv[1:]
    bindir = "target/release"
    if args and args[0] not in PROBES:
        bindir = args.pop(0)
    for name in args or list(PROBES):
        PROBES[name](bindir)


if __name__ == "__main__":
    main()
