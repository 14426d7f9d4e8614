#!/usr/bin/env python3
"""List the files in a local Docker image, from its layers, without running it.

    python3 docker/image-files.py IMAGE            # one path a line, with its type
    python3 docker/image-files.py IMAGE --cat PATH # the content of one regular file

Reads `docker save IMAGE` (the layer tarballs, lowest first) and applies them the way the
engine does, whiteouts included, so what is listed is exactly what a container of IMAGE starts
with: nothing the engine adds at run time (/etc/hosts, /proc, ...). Symbolic links are listed
as `path -> target`. Used by docker/test-images.sh to check that an image contains nothing but
what it promises.
"""

import io
import json
import posixpath
import subprocess
import sys
import tarfile


def layers(image):
    """The image's layer tarballs, lowest first, as open TarFile objects."""
    saved = subprocess.run(["docker", "save", image], check=True, capture_output=True).stdout
    outer = tarfile.open(fileobj=io.BytesIO(saved))
    manifest = json.load(outer.extractfile("manifest.json"))
    for name in manifest[0]["Layers"]:
        yield tarfile.open(fileobj=io.BytesIO(outer.extractfile(name).read()))


def filesystem(image):
    """path -> (kind, link target or None, layer TarFile, member) after all layers."""
    files = {}
    for layer in layers(image):
        for member in layer.getmembers():
            path = "/" + member.name.lstrip("./").rstrip("/")
            base = posixpath.basename(path)
            parent = posixpath.dirname(path)
            if base == ".wh..wh..opq":  # opaque directory: drop what lower layers put in it
                for old in [p for p in files if p.startswith(parent + "/")]:
                    del files[old]
                continue
            if base.startswith(".wh."):  # whiteout: the path is deleted
                gone = posixpath.join(parent, base[len(".wh."):])
                for old in [p for p in files if p == gone or p.startswith(gone + "/")]:
                    del files[old]
                continue
            if member.isdir():
                kind, target = "dir", None
            elif member.issym():
                kind, target = "symlink", member.linkname
            elif member.islnk():
                kind, target = "hardlink", "/" + member.linkname.lstrip("./")
            else:
                kind, target = "file", None
            files[path] = (kind, target, layer, member)
    return files


def main(argv):
    if len(argv) not in (2, 4) or (len(argv) == 4 and argv[2] != "--cat"):
        sys.exit(__doc__)
    files = filesystem(argv[1])
    if len(argv) == 4:
        entry = files.get(argv[3])
        if entry is None or entry[0] != "file":
            sys.exit(f"{argv[3]}: not a regular file in {argv[1]}")
        sys.stdout.buffer.write(entry[2].extractfile(entry[3]).read())
        return
    for path in sorted(files):
        kind, target, _, member = files[path]
        if path == "/":
            continue
        if kind == "dir":
            print(f"{path}/")
        elif target is not None:
            print(f"{path} -> {target}")
        else:
            print(f"{path} {member.size}")


if __name__ == "__main__":
    main(sys.argv)
