#!/usr/bin/env python3
"""Concurrent streaming clients against pdvm serve: for each client count
(1, 4, 8 by default) every client streams --requests completions of
--tokens tokens each (greedy, end-of-generation ignored); reports the
aggregate generated tokens/s over the phase's wall time and the time to
first token (median and max over requests). The server runs with --np
(default: the largest client count, so that all clients are served at
once).

  bench/serve_bench.py -m ../shared/models/stories260K.gguf            # llvmpipe
  bench/serve_bench.py -m llama-3-8b.gguf --platform device --tokens 128  # a GPU
  bench/serve_bench.py --url http://127.0.0.1:8080 ...                 # a running server
Prints a table and, with --out, one JSON line per client count.
"""
import argparse
import json
import os
import statistics
import sys
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(__file__))
from serve_client import Server, connect, events, post  # noqa: E402

PROMPT = "Once upon a time, in a small village by the sea, there lived"


def stream_one(port, n_tokens, out):
    conn = connect(port)
    t0 = time.monotonic()
    resp = post(conn, "/v1/completions",
                {"prompt": PROMPT, "max_tokens": n_tokens, "temperature": 0, "stream": True,
                 "ignore_eos": True, "stream_options": {"include_usage": True}})
    if resp.status != 200:
        raise RuntimeError(f"status {resp.status}: {resp.read()[:200]!r}")
    ttft, n = None, 0
    for data in events(resp):
        if data == "[DONE]":
            break
        ev = json.loads(data)
        if ev.get("usage"):
            n = ev["usage"]["completion_tokens"]
        if ttft is None and ev.get("choices") and ev["choices"][0].get("text"):
            ttft = time.monotonic() - t0
    conn.close()
    out.append((ttft if ttft is not None else time.monotonic() - t0, n))


def phase(port, clients, requests, n_tokens):
    results = []
    errors = []

    def client():
        try:
            for _ in range(requests):
                stream_one(port, n_tokens, results)
        except Exception as e:  # reported, the phase fails
            errors.append(e)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.monotonic() - t0
    if errors:
        raise RuntimeError(f"{len(errors)} clients failed: {errors[0]}")
    ttfts = [r[0] for r in results]
    tokens = sum(r[1] for r in results)
    return {"clients": clients, "requests": len(results), "tokens": tokens,
            "wall_s": round(wall, 3), "agg_tok_s": round(tokens / wall, 2),
            "ttft_median_ms": round(1e3 * statistics.median(ttfts), 1),
            "ttft_max_ms": round(1e3 * max(ttfts), 1)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-m", "--model", default="../shared/models/stories260K.gguf")
    ap.add_argument("--bin", default="build/pdvm")
    ap.add_argument("--url", help="a running server instead of starting one")
    ap.add_argument("--clients", default="1,4,8")
    ap.add_argument("--requests", type=int, default=2, help="per client")
    ap.add_argument("--tokens", type=int, default=64, help="per request")
    ap.add_argument("-c", "--ctx-size", type=int, default=512, help="per slot")
    ap.add_argument("--np", type=int, help="slots (default: the largest client count)")
    ap.add_argument("--backend", default="gpu")
    ap.add_argument("--platform")
    ap.add_argument("--out", help="append JSON lines here")
    a = ap.parse_args()
    counts = [int(c) for c in a.clients.split(",")]

    srv = None
    if a.url:
        port = urllib.parse.urlparse(a.url).port
    else:
        args = ["-m", a.model, "-np", str(a.np or max(counts)), "-c", str(a.ctx_size),
                "--backend", a.backend, "--max-queue", "256"]
        if a.platform:
            args += ["--platform", a.platform]
        srv = Server(a.bin, args)
        port = srv.port
    try:
        stream_one(port, 4, [])  # warm-up: shader compilation, first dispatches
        rows = [phase(port, c, a.requests, a.tokens) for c in counts]
    finally:
        if srv:
            srv.stop()
    base = rows[0]["agg_tok_s"]
    print(f"model {os.path.basename(a.model)}, {a.tokens} tokens per request, "
          f"{a.requests} requests per client")
    print("clients  requests  agg tok/s  vs 1 client  TTFT median ms  TTFT max ms")
    for r in rows:
        print(f"{r['clients']:7d}  {r['requests']:8d}  {r['agg_tok_s']:9.1f}  "
              f"{r['agg_tok_s'] / base:10.2f}x  {r['ttft_median_ms']:14.1f}  "
              f"{r['ttft_max_ms']:11.1f}")
    if a.out:
        with open(a.out, "a") as f:
            for r in rows:
                r.update(model=os.path.basename(a.model), tokens_per_request=a.tokens,
                         backend=a.backend, date=time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                               time.gmtime()))
                f.write(json.dumps(r) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
