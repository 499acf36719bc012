"""pdvm serve from Python: start it on a free loopback port, and make
OpenAI requests with http.client (streamed requests read event by event).
Shared by bench/serve_bench.py and tests/serve_load.py."""
import http.client
import json
import os
import re
import signal
import subprocess
import tempfile
import time


class Server:
    """`pdvm serve --port 0 ...` as a child; .port once the model is loaded."""

    def __init__(self, binary, args, env=None, timeout=300):
        self.log = tempfile.TemporaryFile(mode="w+b")
        self.proc = subprocess.Popen([binary, "serve", "--port", "0"] + list(args),
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=self.log, env=env)
        self.port = None
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            text = self.text()
            m = re.search(r"http://[0-9.]+:(\d+)", text)
            if m and "model loaded" in text:
                self.port = int(m.group(1))
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        self.proc.kill()
        raise RuntimeError("pdvm serve did not come up:\n" + self.text())

    def text(self):
        self.log.seek(0)
        return self.log.read().decode("utf-8", "replace")

    def rss_kib(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def stop(self, timeout=120):
        """SIGTERM; returns (exit code, stderr)."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        return rc, self.text()


def connect(port, timeout=600):
    return http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)


def post(conn, path, body, headers=None):
    h = {"Content-Type": "application/json"}
    h.update(headers or {})
    conn.request("POST", path, body if isinstance(body, (bytes, str)) else json.dumps(body), h)
    return conn.getresponse()


def events(resp):
    """The `data:` payloads of an SSE response, as they arrive."""
    buf = b""
    while True:
        chunk = resp.read1(65536) if hasattr(resp, "read1") else resp.read(1)
        if not chunk:
            return
        buf += chunk
        while b"\n\n" in buf:
            ev, buf = buf.split(b"\n\n", 1)
            for line in ev.split(b"\n"):
                if line.startswith(b"data: "):
                    yield line[6:].decode("utf-8")


def env_with(extra):
    e = dict(os.environ)
    e.update(extra)
    return e
