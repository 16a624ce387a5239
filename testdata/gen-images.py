#!/usr/bin/env python3
"""Deterministic multi-arch test images for kk's tests and benchmarks.

Why: tests and benchmarks need realistic OCI images (multi-arch indexes, shared layers,
incompressible layer bytes) without the internet. The same arguments always give
byte-identical output, so digests can be compared across runs and machines.

    gen-images.py generate --out DIR [--preset small|bench] [--images N] [--seed S]
                           [--arches amd64,arm64] [--unique-mib M]
                           [--min-layer-kib K] [--max-layer-kib K] [--gzip-level 0|1]
    gen-images.py push --layout DIR --registry HOST:PORT [--repo-prefix P]
                       [--creds USER:PASS] [--summary FILE]

`generate` writes an OCI image layout (oci-layout, index.json, blobs/sha256) holding one
OCI image index per image (linux/amd64 + linux/arm64/v8 manifests), each annotated with
`org.opencontainers.image.ref.name` = `REPO:TAG`, and prints a JSON summary on stdout.
`push` copies every image of a layout into a registry with
`skopeo copy --all --dest-tls-verify=false oci:DIR:REF docker://HOST/REPO:TAG`.

Layer plan (all deterministic from --seed):
- a pool of "base" layers per architecture, each shared by several images;
- a few "cross-arch" layers whose bytes appear under both architectures;
- one to three layers unique to each image and architecture.
Layer sizes are log-uniform between the min and max, scaled so that the unique bytes of
all layers come close to --unique-mib.
"""

import argparse
import gzip
import hashlib
import io
import json
import math
import os
import random
import subprocess
import sys
import tarfile

PRESETS = {
    # 4 images, a few MiB: fast enough for every test run.
    "small": dict(images=4, unique_mib=4, min_layer_kib=16, max_layer_kib=1024, base_pool=2, cross_arch=1),
    # ~15 images x 2 arches, ~750 MiB unique, layers 0.3 .. 70 MiB.
    "bench": dict(images=15, unique_mib=750, min_layer_kib=300, max_layer_kib=70 * 1024, base_pool=4, cross_arch=3),
}

CHUNK = 1 << 20
MT_INDEX = "application/vnd.oci.image.index.v1+json"
MT_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MT_CONFIG = "application/vnd.oci.image.config.v1+json"
MT_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
REF_ANNOTATION = "org.opencontainers.image.ref.name"
PLATFORMS = {
    "amd64": {"architecture": "amd64", "os": "linux"},
    "arm64": {"architecture": "arm64", "os": "linux", "variant": "v8"},
}


class HashingWriter:
    """Forwards writes to `sink` (if any) while hashing and counting them."""

    def __init__(self, sink=None):
        self.sink = sink
        self.sha = hashlib.sha256()
        self.size = 0

    def write(self, data):
        self.sha.update(data)
        self.size += len(data)
        if self.sink is not None:
            self.sink.write(data)
        return len(data)

    def flush(self):
        if self.sink is not None:
            self.sink.flush()


class RandomReader:
    """A file-like source of `size` pseudo-random bytes, produced in chunks."""

    def __init__(self, seed, size):
        self.rng = random.Random(seed)
        self.left = size

    def read(self, n=-1):
        if n < 0 or n > self.left:
            n = self.left
        n = min(n, CHUNK)
        self.left -= n
        return self.rng.randbytes(n)


def canonical(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


class Layout:
    def __init__(self, root):
        self.root = root
        self.blobs = os.path.join(root, "blobs", "sha256")
        os.makedirs(self.blobs, exist_ok=True)
        self.unique_bytes = 0
        self.blob_count = 0

    def _commit(self, tmp, hexdigest, size):
        final = os.path.join(self.blobs, hexdigest)
        if os.path.exists(final):
            os.unlink(tmp)
        else:
            os.replace(tmp, final)
            self.unique_bytes += size
            self.blob_count += 1

    def put_bytes(self, data, media_type):
        hexdigest = hashlib.sha256(data).hexdigest()
        tmp = os.path.join(self.blobs, ".tmp-" + hexdigest)
        with open(tmp, "wb") as f:
            f.write(data)
        self._commit(tmp, hexdigest, len(data))
        return {"mediaType": media_type, "digest": "sha256:" + hexdigest, "size": len(data)}

    def put_layer(self, name, seed, size, level):
        """Writes a tar+gzip layer holding one file of `size` random bytes.

        Returns (descriptor, diff_id)."""
        tmp = os.path.join(self.blobs, ".tmp-layer")
        with open(tmp, "wb") as f:
            compressed = HashingWriter(f)
            with gzip.GzipFile(filename="", mode="wb", fileobj=compressed, compresslevel=level, mtime=0) as gz:
                uncompressed = HashingWriter(gz)
                with tarfile.open(fileobj=uncompressed, mode="w|", format=tarfile.USTAR_FORMAT, copybufsize=CHUNK) as tar:
                    info = tarfile.TarInfo("data/" + name + ".bin")
                    info.size, info.mtime, info.mode = size, 0, 0o644
                    info.uid = info.gid = 0
                    info.uname = info.gname = ""
                    tar.addfile(info, RandomReader(seed, size))
        hexdigest = compressed.sha.hexdigest()
        self._commit(tmp, hexdigest, compressed.size)
        desc = {"mediaType": MT_LAYER, "digest": "sha256:" + hexdigest, "size": compressed.size}
        return desc, "sha256:" + uncompressed.sha.hexdigest()


def plan(args):
    """Decides every layer (name, seed, size) and which image/arch uses it."""
    rng = random.Random(f"plan-{args.seed}")
    lo, hi = math.log(args.min_layer_kib * 1024), math.log(args.max_layer_kib * 1024)

    def draw():
        return math.exp(rng.uniform(lo, hi))

    layers = {}  # name -> raw size (before scaling)
    uses = {}  # (image, arch) -> [layer names]
    for arch in args.arches:
        for b in range(args.base_pool):
            layers[f"base-{arch}-{b}"] = draw()
    for c in range(args.cross_arch):
        layers[f"cross-{c}"] = draw()
    for i in range(args.images):
        for arch in args.arches:
            names = [f"base-{arch}-{i % args.base_pool}"] if args.base_pool else []
            # Every third image carries a layer shared across architectures.
            if args.cross_arch and i % 3 == 0:
                names.append(f"cross-{(i // 3) % args.cross_arch}")
            for u in range(1 + rng.randrange(3)):
                name = f"img{i:02d}-{arch}-{u}"
                layers[name] = draw()
                names.append(name)
            uses[(i, arch)] = names
    used = {n for names in uses.values() for n in names}
    layers = {n: s for n, s in layers.items() if n in used}
    # Scale towards the unique-bytes target, keeping every size within bounds.
    target = args.unique_mib * 1024 * 1024
    sizes = dict(layers)
    for _ in range(8):
        total = sum(sizes.values())
        if total <= 0:
            break
        factor = target / total
        sizes = {
            n: min(max(s * factor, args.min_layer_kib * 1024), args.max_layer_kib * 1024) for n, s in sizes.items()
        }
    sizes = {n: int(s) for n, s in sizes.items()}
    return sizes, uses


def generate(args):
    sizes, uses = plan(args)
    out = Layout(args.out)
    built = {}  # layer name -> (descriptor, diff_id)
    entries, images = [], []
    for i in range(args.images):
        repo, tag = f"{args.repo_prefix}app-{i:02d}", f"v1.{i}.0"
        ref = f"{repo}:{tag}"
        manifests, platforms = [], []
        for arch in args.arches:
            descs, diff_ids = [], []
            for name in uses[(i, arch)]:
                if name not in built:
                    built[name] = out.put_layer(name, f"{args.seed}-{name}", sizes[name], args.gzip_level)
                descs.append(built[name][0])
                diff_ids.append(built[name][1])
            platform = PLATFORMS[arch]
            config = {
                "architecture": platform["architecture"],
                "os": platform["os"],
                **({"variant": platform["variant"]} if "variant" in platform else {}),
                "created": "1970-01-01T00:00:00Z",
                "config": {"Cmd": ["/bin/app"], "Env": [f"KK_TEST_IMAGE={ref}"]},
                "rootfs": {"type": "layers", "diff_ids": diff_ids},
                "history": [{"created": "1970-01-01T00:00:00Z", "created_by": f"layer {d}"} for d in diff_ids],
            }
            cdesc = out.put_bytes(canonical(config), MT_CONFIG)
            manifest = {"schemaVersion": 2, "mediaType": MT_MANIFEST, "config": cdesc, "layers": descs}
            mdesc = out.put_bytes(canonical(manifest), MT_MANIFEST)
            manifests.append({**mdesc, "platform": platform})
            platforms.append({"platform": platform, "digest": mdesc["digest"], "layers": [d["digest"] for d in descs]})
        index = {"schemaVersion": 2, "mediaType": MT_INDEX, "manifests": manifests}
        idesc = out.put_bytes(canonical(index), MT_INDEX)
        entries.append({**idesc, "annotations": {REF_ANNOTATION: ref}})
        images.append({"ref": ref, "repository": repo, "tag": tag, "digest": idesc["digest"], "manifests": platforms})
    with open(os.path.join(args.out, "oci-layout"), "wb") as f:
        f.write(canonical({"imageLayoutVersion": "1.0.0"}))
    with open(os.path.join(args.out, "index.json"), "wb") as f:
        f.write(canonical({"schemaVersion": 2, "mediaType": MT_INDEX, "manifests": entries}))
    return {
        "layout": os.path.abspath(args.out),
        "images": images,
        "refs": [img["ref"] for img in images],
        "uniqueBytes": out.unique_bytes,
        "blobCount": out.blob_count,
        "layerCount": len(built),
    }


def push(args):
    """Copies every image of the layout into the registry with skopeo."""
    with open(os.path.join(args.layout, "index.json"), "rb") as f:
        index = json.load(f)
    refs = [m.get("annotations", {}).get(REF_ANNOTATION) for m in index.get("manifests", [])]
    pushed = []
    for ref in refs:
        if not ref:
            continue
        dest = f"docker://{args.registry}/{ref}"
        cmd = ["skopeo", "copy", "--all", "--retry-times", "2", "--dest-tls-verify=false"]
        if args.creds:
            cmd += ["--dest-creds", args.creds]
        cmd += [f"oci:{os.path.abspath(args.layout)}:{ref}", dest]
        proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True)
        if proc.returncode != 0:
            sys.stderr.write(f"gen-images.py: pushing {ref} to {dest} failed:\n{proc.stderr}")
            sys.exit(1)
        pushed.append(f"{args.registry}/{ref}")
    return {"registry": args.registry, "pushed": pushed}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    gen = sub.add_parser("generate", help="write an OCI image layout")
    gen.add_argument("--out", required=True)
    gen.add_argument("--preset", choices=sorted(PRESETS), default="small")
    gen.add_argument("--seed", default="kk")
    gen.add_argument("--images", type=int)
    gen.add_argument("--unique-mib", type=float)
    gen.add_argument("--min-layer-kib", type=int)
    gen.add_argument("--max-layer-kib", type=int)
    gen.add_argument("--arches", default="amd64,arm64")
    gen.add_argument("--repo-prefix", default="kk-test/")
    gen.add_argument("--gzip-level", type=int, choices=[0, 1], default=1)
    p = sub.add_parser("push", help="push every image of a layout with skopeo")
    p.add_argument("--layout", required=True)
    p.add_argument("--registry", required=True, help="HOST:PORT")
    p.add_argument("--creds", help="USER:PASS")
    args = parser.parse_args()
    if args.command == "generate":
        preset = PRESETS[args.preset]
        for key in ("images", "unique_mib", "min_layer_kib", "max_layer_kib"):
            if getattr(args, key) is None:
                setattr(args, key, preset[key])
        args.base_pool, args.cross_arch = preset["base_pool"], preset["cross_arch"]
        args.arches = [a for a in args.arches.split(",") if a]
        unknown = [a for a in args.arches if a not in PLATFORMS]
        if unknown or args.images < 1 or args.min_layer_kib > args.max_layer_kib:
            parser.error(f"bad arguments: arches must be among {sorted(PLATFORMS)}, images >= 1, min <= max")
        result = generate(args)
    else:
        result = push(args)
    json.dump(result, sys.stdout, indent=2, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
