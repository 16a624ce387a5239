#!/usr/bin/env python3
"""A static file server with scripted faults, for the catalog downloader's tests.

    fileserver.py ROOT

Serves ROOT on 127.0.0.1 (a free port, printed as `PORT <n>`), HTTP/1.1 with Range support.
The first path segment picks a behaviour for the rest of the path:

    /files/<p>         the file, honouring Range (206)
    /cut/<p>           first GET: full Content-Length, half the body, connection cut;
                       later GETs behave like /files
    /norange/<p>       first GET cut like /cut; later GETs ignore Range and send 200 + everything
    /corrupt-once/<p>  first GET: one byte flipped; later GETs correct
    /corrupt/<p>       always one byte flipped
    /redirect/<p>      302 to `/files/<p>` (a path without scheme and host)
    /nolength/<p>      200 without Content-Length (connection close ends the body)
    /busy-once/<p>     first GET: 503; later GETs behave like /files

Each request is logged as `REQ <path> range=<Range header or ->`.
Before serving, it writes the fixture files the tests use into ROOT (see make_fixtures).
"""

import hashlib
import http.server
import io
import os
import socket
import sys
import tarfile
import threading

ROOT = sys.argv[1]
COUNTS = {}
LOCK = threading.Lock()


def make_fixtures():
    def put(rel, data):
        path = os.path.join(ROOT, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)

    # 3 MiB of deterministic bytes: large enough to cut mid-body.
    block = hashlib.sha256(b"kk").digest()
    big = bytearray()
    counter = 0
    while len(big) < 3 * 1024 * 1024:
        big += hashlib.sha256(block + counter.to_bytes(8, "big")).digest()
        counter += 1
    put("big.bin", bytes(big))
    kubeadm = bytes(big[: 1024 * 1024 + 17])
    put("dl.k8s.io/release/v1.99.0/bin/linux/amd64/kubeadm", kubeadm)
    put(
        "dl.k8s.io/release/v1.99.0/bin/linux/amd64/kubeadm.sha256",
        hashlib.sha256(kubeadm).hexdigest().encode() + b"  kubeadm\n",
    )
    helm = b"#!/bin/sh\necho helm\n" + bytes(big[: 200 * 1024])
    put("helm.expected", helm)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in [("linux-amd64/LICENSE", b"Apache-2.0\n"), ("linux-amd64/helm", helm)]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o755
            tar.addfile(info, io.BytesIO(data))
    put("get.helm.sh/helm-v3.18.5-linux-amd64.tar.gz", buf.getvalue())


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        rng = self.headers.get("Range")
        print(f"REQ {self.path} range={rng or '-'}", flush=True)
        parts = self.path.lstrip("/").split("/", 1)
        mode, rel = (parts[0], parts[1]) if len(parts) == 2 else (parts[0], "")
        with LOCK:
            key = (mode, rel)
            COUNTS[key] = COUNTS.get(key, 0) + 1
            count = COUNTS[key]
        if mode == "redirect":
            self.send_response(302)
            self.send_header("Location", "/files/" + rel)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if mode == "busy-once" and count == 1:
            self.send_response(503)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        path = os.path.join(ROOT, rel)
        if not rel or ".." in rel.split("/") or not os.path.isfile(path):
            self.send_error(404)
            return
        if mode not in ("cut", "norange", "corrupt", "corrupt-once", "nolength"):
            # The plain path sends straight from the page cache (sendfile): the stand-in for
            # a remote mirror should not eat the CPU of the machine it shares with kk (the
            # benchmarks serve 660 MB of binaries from it, to kk and to curl alike).
            self.send_file(path, rng)
            return
        with open(path, "rb") as f:
            data = f.read()
        if mode in ("cut", "norange") and count == 1:
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        if mode == "corrupt" or (mode == "corrupt-once" and count == 1):
            data = bytearray(data)
            data[len(data) // 3] ^= 0xFF
            data = bytes(data)
            rng = None
        if mode == "norange":
            rng = None
        if mode == "nolength":
            self.send_response(200)
            self.end_headers()
            self.wfile.write(data)
            self.close_connection = True
            return
        if rng and rng.startswith("bytes=") and rng.endswith("-"):
            start = int(rng[6:-1])
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            self.send_header("Content-Length", str(len(data) - start))
            self.end_headers()
            self.wfile.write(data[start:])
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def send_file(self, path, rng):
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            start = 0
            if rng and rng.startswith("bytes=") and rng.endswith("-"):
                start = int(rng[6:-1])
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{size - 1}/{size}")
            else:
                self.send_response(200)
            self.send_header("Content-Length", str(size - start))
            self.end_headers()
            self.wfile.flush()
            if size > start:
                self.connection.sendfile(f, start, size - start)


def main():
    make_fixtures()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(f"PORT {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
