#!/usr/bin/env python3
"""Builds an OCI image archive holding one WebAssembly program, for `ctr image import`.

Two flavours:

  plain (default)  one filesystem layer (a tar) holding the module at --entrypoint (default
                   /app.wasm), plus any --file given, and an empty /tmp; the image's
                   entrypoint is that path. Runs on every containerd.
  --wasm-layer     the module is a layer of its own, media type application/wasm, which the
                   shim reads from containerd's content store (and precompiles once, keeping
                   the artifact beside the image); the filesystem layer holds the --file
                   entries and /tmp. Needs containerd >= 1.6.25 or 1.7.7 to run.

The image's platform is wasip1/wasm (Docker's --platform wasi/wasm). With --native the program
is instead a static Linux executable and the platform linux/amd64, for runc: the same program
built natively, to compare with (scripts/bench-containerd.sh). The archive is an OCI
image layout (oci-layout, index.json, blobs/sha256/...) and byte-for-byte the same for the
same inputs.

  scripts/oci-image.py --wasm hello.wasm --name docker.io/library/hello:latest -o hello.tar
  ctr image import --all-platforms hello.tar
  ctr run --rm --runtime io.containerd.wasixrt.v1 docker.io/library/hello:latest hello
"""

import argparse
import hashlib
import io
import json
import sys
import tarfile

LAYER_TAR = "application/vnd.oci.image.layer.v1.tar"
WASM_LAYER = "application/wasm"
CONFIG = "application/vnd.oci.image.config.v1+json"
MANIFEST = "application/vnd.oci.image.manifest.v1+json"
INDEX = "application/vnd.oci.image.index.v1+json"
PLATFORM = {"architecture": "wasm", "os": "wasip1"}


def digest(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def json_bytes(value):
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


def add_bytes(tar, path, data, mode=0o644):
    info = tarfile.TarInfo(path)
    info.size = len(data)
    info.mode = mode
    info.mtime = 0
    tar.addfile(info, io.BytesIO(data))


def add_dir(tar, path, mode):
    info = tarfile.TarInfo(path)
    info.type = tarfile.DIRTYPE
    info.mode = mode
    info.mtime = 0
    tar.addfile(info)


def rootfs_layer(files):
    """A tar of `files` ({path in the image: (bytes, mode)}) and an empty /tmp."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        add_dir(tar, "tmp", 0o1777)
        dirs = set()
        for path in sorted(files):
            parts = path.strip("/").split("/")
            for i in range(1, len(parts)):
                d = "/".join(parts[:i])
                if d not in dirs and d != "tmp":
                    dirs.add(d)
                    add_dir(tar, d, 0o755)
            data, mode = files[path]
            add_bytes(tar, path.strip("/"), data, mode)
    return out.getvalue()


NATIVE_PLATFORM = {"architecture": "amd64", "os": "linux"}


def build(args):
    platform = NATIVE_PLATFORM if args.native else PLATFORM
    with open(args.wasm, "rb") as f:
        wasm = f.read()
    files = {}
    for spec in args.file:
        src, sep, dest = spec.partition(":")
        if not sep or not dest.startswith("/"):
            sys.exit(f"--file {spec}: expected HOST_PATH:/PATH_IN_IMAGE")
        with open(src, "rb") as f:
            files[dest] = (f.read(), 0o755)
    blobs = {}
    layers = []
    diff_ids = []
    entrypoint = [args.entrypoint or ("/app" if args.native else "/app.wasm")]
    if args.native and args.wasm_layer:
        sys.exit("--native and --wasm-layer do not go together")
    if not args.wasm_layer:
        files[entrypoint[0]] = (wasm, 0o755)
    layer = rootfs_layer(files)
    blobs[digest(layer)] = layer
    layers.append({"mediaType": LAYER_TAR, "digest": digest(layer), "size": len(layer)})
    diff_ids.append(digest(layer))
    if args.wasm_layer:
        blobs[digest(wasm)] = wasm
        layers.append({"mediaType": WASM_LAYER, "digest": digest(wasm), "size": len(wasm)})
    config = {
        **platform,
        "config": {
            "Entrypoint": entrypoint,
            "Cmd": args.cmd,
            "Env": args.env,
            "WorkingDir": args.workdir,
        },
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    }
    config = json_bytes(config)
    blobs[digest(config)] = config
    manifest = json_bytes(
        {
            "schemaVersion": 2,
            "mediaType": MANIFEST,
            "config": {"mediaType": CONFIG, "digest": digest(config), "size": len(config)},
            "layers": layers,
        }
    )
    blobs[digest(manifest)] = manifest
    name = args.name
    tag = name.rsplit(":", 1)[1] if ":" in name.rsplit("/", 1)[-1] else "latest"
    index = json_bytes(
        {
            "schemaVersion": 2,
            "mediaType": INDEX,
            "manifests": [
                {
                    "mediaType": MANIFEST,
                    "digest": digest(manifest),
                    "size": len(manifest),
                    "platform": platform,
                    "annotations": {
                        "io.containerd.image.name": name,
                        "org.opencontainers.image.ref.name": tag,
                    },
                }
            ],
        }
    )
    with tarfile.open(args.output, mode="w", format=tarfile.PAX_FORMAT) as tar:
        add_bytes(tar, "oci-layout", json_bytes({"imageLayoutVersion": "1.0.0"}))
        add_bytes(tar, "index.json", index)
        add_dir(tar, "blobs", 0o755)
        add_dir(tar, "blobs/sha256", 0o755)
        for d in sorted(blobs):
            add_bytes(tar, "blobs/sha256/" + d.split(":", 1)[1], blobs[d], 0o444)


def main():
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--wasm", required=True, help="the module (.wasm, .wat or a .cwasm artifact)")
    p.add_argument("--name", required=True, help="image name, e.g. docker.io/library/hello:latest")
    p.add_argument("-o", "--output", required=True, help="the archive to write")
    p.add_argument("--wasm-layer", action="store_true", help="the module as an application/wasm layer")
    p.add_argument("--native", action="store_true", help="--wasm is a static Linux executable (platform linux/amd64, for runc)")
    p.add_argument("--entrypoint", help="path of the module in the image (default /app.wasm; /app with --native)")
    p.add_argument("--cmd", action="append", default=[], help="an argument after the entrypoint (repeatable)")
    p.add_argument("--env", action="append", default=[], help="KEY=VALUE in the image's environment (repeatable)")
    p.add_argument("--workdir", default="/", help="working directory (default /)")
    p.add_argument("--file", action="append", default=[], help="HOST_PATH:/PATH_IN_IMAGE, another file of the image (repeatable)")
    build(p.parse_args())


if __name__ == "__main__":
    main()
