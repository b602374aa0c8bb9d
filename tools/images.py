"""Container images for the one-node test cluster, built and cached without a registry."""

#     python -m tools.images build                  build what is missing (printing names, sizes, timings)
#     python -m tools.images import --address SOCK  build, then import every image into containerd (k8s.io)
#
# Each image is built with buildah in a private storage under CACHE/images and kept there as a
# docker-archive tar named by a key over its inputs, so a cache hit needs no buildah at all:
#
# - localhost/extdns:<version>: the repository's Dockerfile on a local Debian python base (the
#   Dockerfile's default base stays python:3.11-slim; only the PYTHON_IMAGE build argument changes);
# - localhost/etcd:<version>: the testenv etcd binary at /usr/local/bin/etcd on Debian minbase;
# - localhost/redis:7.0-bookworm: Debian's redis-server and redis-tools, user redis = 999:1000;
# - localhost/pause:extdns-1: tools/pause.c, static, alone in the image (containerd's sandbox_image).
#
# Root file systems come from mmdebstrap (bookworm, minbase) and are cached as tars keyed by their
# package list and hooks. The kustomize overlay tests/cluster/overlay points deploy/'s public
# image names at these (EXTDNS_IMAGE, ETCD_IMAGE, REDIS_IMAGE); PAUSE_IMAGE is for containerd's
# sandbox_image.

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from tools.testenv import CACHE, ETCD_VERSION, binary, debian_binary, log

ROOT = Path(__file__).resolve().parents[1]
PAUSE_SOURCE = Path(__file__).resolve().with_name("pause.c")
HOST_CA = Path("/etc/ssl/certs/ca-certificates.crt")

IMAGES = CACHE / "images"
STORAGE = IMAGES / "storage"
RUNROOT = IMAGES / "run"
ARCHIVES = IMAGES / "archives"
ROOTFS = IMAGES / "rootfs"
LOGS = IMAGES / "logs"
KEY_LENGTH = 16

PROJECT_VERSION: str = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
EXTDNS_IMAGE = f"localhost/extdns:{PROJECT_VERSION}"
ETCD_IMAGE = f"localhost/etcd:{ETCD_VERSION}"
REDIS_IMAGE = "localhost/redis:7.0-bookworm"
PAUSE_IMAGE = "localhost/pause:extdns-1"
PYTHON_BASE = "localhost/extdns-python"  # tagged with its key; lives only in the buildah storage

# ---------------------------------------------------------------- root file systems

SUITE = "bookworm"
SOURCES = (
    "deb http://deb.debian.org/debian bookworm main",
    "deb http://deb.debian.org/debian bookworm-updates main",
    "deb http://deb.debian.org/debian-security bookworm-security main",
)
# No manuals, docs (but the copyright files) or translations in an image.
DPKG_OPTIONS = (
    "path-exclude=/usr/share/man/*",
    "path-exclude=/usr/share/info/*",
    "path-exclude=/usr/share/doc/*",
    "path-include=/usr/share/doc/*/copyright",
    "path-exclude=/usr/share/locale/*",
    "path-include=/usr/share/locale/locale.alias",
)
# mmdebstrap copies the host's resolv.conf and hostname in for apt; the runtime mounts its own.
COMMON_HOOKS = (': >"$1/etc/resolv.conf"; echo localhost >"$1/etc/hostname"',)
PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def _digest(*parts: str) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode())
        h.update(b"\0")
    return h.hexdigest()[:KEY_LENGTH]


def _file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def _mib(path: Path) -> str:
    return f"{path.stat().st_size / 2**20:.0f} MiB"


@dataclass(frozen=True)
class Rootfs:
    """A Debian minbase tree from mmdebstrap, cached as a tar keyed by its packages and hooks."""

    name: str
    packages: tuple[str, ...] = ()
    hooks: tuple[str, ...] = ()  # mmdebstrap --customize-hook commands; "$1" is the tree

    @property
    def key(self) -> str:
        recipe = [SUITE, "minbase", SOURCES, DPKG_OPTIONS, COMMON_HOOKS, self.packages, self.hooks]
        return _digest(json.dumps(recipe))

    @property
    def path(self) -> Path:
        return ROOTFS / f"{self.name}-{self.key}.tar"


PYTHON_ROOTFS = Rootfs(
    "python", ("python3", "python3-venv", "python3-pip", "python-is-python3", "ca-certificates")
)
# The user deploy/etcd.yaml runs as (65532, distroless' nonroot) and a data dir it owns.
ETCD_ROOTFS = Rootfs(
    "etcd",
    hooks=(
        'chroot "$1" sh -ec "groupadd --gid 65532 etcd;'
        " useradd --uid 65532 --gid 65532 --no-create-home --home-dir /var/lib/etcd"
        " --shell /usr/sbin/nologin etcd;"
        ' install -d -o 65532 -g 65532 -m 0700 /var/lib/etcd"',
    ),
)
# Debian's redis user renumbered to what deploy/redis.yaml runs as (999:1000, as the upstream
# image), every file it owned following, and a /data it can write (deploy mounts an emptyDir there).
REDIS_ROOTFS = Rootfs(
    "redis",
    ("redis-server", "redis-tools"),
    hooks=(
        'chroot "$1" sh -ec \'u=$(id -u redis); g=$(id -g redis);'
        " groupmod --gid 1000 redis; usermod --uid 999 --gid 1000 redis;"
        ' find / -xdev -uid "$u" -exec chown -h 999 {} +; find / -xdev -gid "$g" -exec chgrp -h 1000 {} +;'
        " install -d -o 999 -g 1000 -m 0750 /data'",
    ),
)


def rootfs(r: Rootfs) -> Path:
    """The cached tar of a root file system, made with mmdebstrap when missing."""
    if r.path.exists():
        return r.path
    mmdebstrap = debian_binary("mmdebstrap", "mmdebstrap")
    r.path.parent.mkdir(parents=True, exist_ok=True)
    tmp = r.path.with_name(r.path.name + ".tmp")
    argv = [
        str(mmdebstrap),
        "--variant=minbase",
        "--format=tar",
        "--skip=output/dev",  # the runtime provides /dev
        *(f"--dpkgopt={o}" for o in DPKG_OPTIONS),
        *([f"--include={','.join(r.packages)}"] if r.packages else []),
        *(f"--customize-hook={h}" for h in COMMON_HOOKS + r.hooks),
        SUITE,
        str(tmp),
        *SOURCES,
    ]
    log(f"building rootfs {r.name} with mmdebstrap ({', '.join(r.packages) or 'minbase only'}) ...")
    start = time.monotonic()
    _run(argv, f"rootfs-{r.name}")
    tmp.rename(r.path)
    _prune(ROOTFS, r.name, r.path, ".tar")
    log(f"built rootfs {r.name} in {time.monotonic() - start:.0f}s ({_mib(r.path)}) -> {r.path}")
    return r.path


# ---------------------------------------------------------------- running the tools


def _run(argv: list[str], step: str, cwd: Path | None = None) -> None:
    """Run one build step with its output in LOGS/<step>.log; a failure raises with the log's tail."""
    LOGS.mkdir(parents=True, exist_ok=True)
    logfile = LOGS / f"{step}.log"
    with logfile.open("wb") as out:
        out.write(f"$ {shlex.join(argv)}\n".encode())
        out.flush()
        rc = subprocess.run(
            argv, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        ).returncode
    if rc != 0:
        tail = logfile.read_text(errors="replace")[-4000:]
        raise RuntimeError(f"{step} failed (exit {rc}); log {logfile}:\n{tail}")


def _prune(folder: Path, name: str, keep: Path, suffix: str) -> None:
    """Remove the entries of `name` in folder cached under another key than keep's."""
    pattern = re.compile(re.escape(name) + f"-[0-9a-f]{{{KEY_LENGTH}}}" + re.escape(suffix))
    for old in folder.iterdir():
        if old != keep and pattern.fullmatch(old.name):
            old.unlink()
            log(f"removed stale {old}")


class Buildah:
    """buildah on the cache's private storage (its own root and runroot, overlay driver)."""

    def __init__(self) -> None:
        exe = debian_binary("buildah", "buildah")
        STORAGE.mkdir(parents=True, exist_ok=True)
        RUNROOT.mkdir(parents=True, exist_ok=True)
        self.argv = [
            str(exe),
            "--root",
            str(STORAGE),
            "--runroot",
            str(RUNROOT),
            "--storage-driver",
            "overlay",
        ]

    def out(self, *args: str) -> str:
        """Run a buildah command and return its stdout; a failure raises with its stderr."""
        proc = subprocess.run([*self.argv, *args], capture_output=True, text=True, stdin=subprocess.DEVNULL)
        if proc.returncode != 0:
            raise RuntimeError(f"buildah {shlex.join(args)} failed (exit {proc.returncode}):\n{proc.stderr}")
        return proc.stdout.strip()

    def run(self, step: str, *args: str, cwd: Path | None = None) -> None:
        """Run a long buildah command with its output in the step's log file."""
        _run([*self.argv, *args], step, cwd=cwd)

    def has_image(self, name: str) -> bool:
        argv = [*self.argv, "inspect", "--type", "image", name]
        return subprocess.run(argv, capture_output=True, stdin=subprocess.DEVNULL).returncode == 0

    @contextlib.contextmanager
    def scratch(self) -> Iterator[tuple[str, Path]]:
        """An empty working container and where its root is mounted; removed on the way out."""
        container = self.out("from", "--pull=never", "scratch")
        try:
            yield container, Path(self.out("mount", container))
        finally:
            self.out("rm", container)

    def commit(self, container: str, name: str, config: tuple[str, ...]) -> None:
        self.out("config", *config, container)
        self.out("commit", "--quiet", "--format", "docker", container, name)


def _extract(tar: Path, into: Path) -> None:
    _run(
        ["tar", "-C", str(into), "--numeric-owner", "--xattrs", "--xattrs-include=*", "-xpf", str(tar)],
        "extract",
    )


# ---------------------------------------------------------------- the images


@dataclass(frozen=True)
class Image:
    """One image of the cluster: its name, a key over its inputs, and how to build it into buildah."""

    name: str
    slug: str  # the archive's file name: <slug>-<key>.tar
    inputs: Callable[[], list[str]]
    build: Callable[[Buildah], None]

    @property
    def key(self) -> str:
        return _digest(self.name, *self.inputs())


# --- pause: tools/pause.c, static, alone in the image

PAUSE_CFLAGS = ("-static", "-O2", "-s", "-Wall", "-Wextra", "-Werror")
PAUSE_CONFIG = ("--entrypoint", '["/pause"]', "--cmd", "", "--user", "65535:65535")


def _pause_inputs() -> list[str]:
    return [_file_digest(PAUSE_SOURCE), *PAUSE_CFLAGS, *PAUSE_CONFIG]


def _static_libc(gcc: Path) -> None:
    """libc.a for `gcc -static` (Debian's libc6-dev, which gcc only recommends)."""
    found = subprocess.run([str(gcc), "-print-file-name=libc.a"], capture_output=True, text=True, check=True)
    if Path(found.stdout.strip()).is_absolute():
        return
    log("installing Debian libc6-dev (static libc for the pause binary) ...")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "libc6-dev"], check=True, env=env
    )


def _build_pause(bh: Buildah) -> None:
    gcc = debian_binary("gcc", "gcc")
    _static_libc(gcc)
    with tempfile.TemporaryDirectory(prefix="extdns-pause-") as tmp:
        exe = Path(tmp) / "pause"
        _run([str(gcc), *PAUSE_CFLAGS, "-o", str(exe), str(PAUSE_SOURCE)], "pause-gcc")
        with bh.scratch() as (container, root):
            shutil.copyfile(exe, root / "pause")
            (root / "pause").chmod(0o755)
            bh.commit(container, PAUSE_IMAGE, PAUSE_CONFIG)


# --- etcd: the testenv binary on Debian minbase; deploy/etcd.yaml probes over HTTP (no etcdctl)

ETCD_CONFIG = (
    "--env",
    PATH_ENV,
    "--cmd",
    '["/usr/local/bin/etcd"]',
    "--user",
    "65532:65532",
    *("--port", "2379", "--port", "2380", "--port", "2381"),
)


def _etcd_inputs() -> list[str]:
    return [ETCD_VERSION, _file_digest(binary("etcd")), ETCD_ROOTFS.key, *ETCD_CONFIG]


def _build_etcd(bh: Buildah) -> None:
    etcd = binary("etcd")
    tar = rootfs(ETCD_ROOTFS)
    with bh.scratch() as (container, root):
        _extract(tar, root)
        target = root / "usr" / "local" / "bin" / "etcd"
        shutil.copyfile(etcd, target)
        target.chmod(0o755)
        bh.commit(container, ETCD_IMAGE, ETCD_CONFIG)


# --- redis: Debian's redis-server and redis-tools (deploy/redis.yaml's readiness runs redis-cli)

REDIS_CONFIG = (
    "--env",
    PATH_ENV,
    "--cmd",
    '["redis-server"]',
    "--user",
    "999:1000",
    "--workingdir",
    "/data",
    "--port",
    "6379",
)


def _redis_inputs() -> list[str]:
    return [REDIS_ROOTFS.key, *REDIS_CONFIG]


def _build_redis(bh: Buildah) -> None:
    tar = rootfs(REDIS_ROOTFS)
    with bh.scratch() as (container, root):
        _extract(tar, root)
        bh.commit(container, REDIS_IMAGE, REDIS_CONFIG)


# --- extdns: the repository's Dockerfile on a local Debian python base

PYTHON_CONFIG = ("--env", PATH_ENV, "--env", "LANG=C.UTF-8", "--cmd", '["python3"]')


def _python_base_key() -> str:
    return _digest(PYTHON_ROOTFS.key, *PYTHON_CONFIG)


def python_base(bh: Buildah) -> str:
    """The local stand-in for python:3.11-slim in the buildah storage (made from its rootfs tar)."""
    name = f"{PYTHON_BASE}:{_python_base_key()}"
    if bh.has_image(name):
        return name
    tar = rootfs(PYTHON_ROOTFS)
    start = time.monotonic()
    with bh.scratch() as (container, root):
        _extract(tar, root)
        bh.commit(container, name, PYTHON_CONFIG)
    for other in bh.out("images", "--format", "{{.Name}}:{{.Tag}}").splitlines():
        if other.startswith(f"{PYTHON_BASE}:") and other != name:
            bh.out("rmi", other)
    log(f"built image {name} in {time.monotonic() - start:.0f}s")
    return name


Rule = tuple[bool, str, re.Pattern[str]]  # (re-include, pattern, regex)


def _ignore_rules() -> list[Rule]:
    """The .dockerignore patterns, compiled with Docker's matching rules."""
    rules = []
    ignore = ROOT / ".dockerignore"
    for raw in ignore.read_text().splitlines() if ignore.exists() else []:
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        pattern = os.path.normpath(line.removeprefix("!").strip()).lstrip("/")
        rules.append((negate, pattern, re.compile(_pattern_regex(pattern))))
    return rules


def _pattern_regex(pattern: str) -> str:
    """One .dockerignore pattern as a regex (as moby's patternmatcher compiles it)."""
    out, i = "", 0
    while i < len(pattern):
        ch = pattern[i]
        if pattern.startswith("**", i):
            i += 2
            if pattern.startswith("/", i):
                i += 1
            out += ".*" if i >= len(pattern) else "(.*/)?"
            continue
        if ch == "*":
            out += "[^/]*"
        elif ch == "?":
            out += "[^/]"
        elif ch == "\\" and i + 1 < len(pattern):
            i += 1
            out += re.escape(pattern[i])
        elif ch in ".+()|{}$":
            out += "\\" + ch
        else:
            out += ch
        i += 1
    return out


def _excluded(rel: str, rules: list[Rule]) -> bool:
    """Docker's rule: the last pattern matching the path or one of its parents decides."""
    parts = rel.split("/")
    paths = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    excluded = False
    for negate, _, rx in rules:
        if any(rx.fullmatch(p) for p in paths):
            excluded = not negate
    return excluded


def context_files() -> list[str]:
    """The build context the .dockerignore admits: relative paths, sorted."""
    rules = _ignore_rules()
    # A folder that is excluded can be skipped unless a re-include pattern could reach inside it.
    literal = [re.split(r"[\[*?\\]", pattern, maxsplit=1)[0] for negate, pattern, _ in rules if negate]
    found = []
    for dirpath, dirnames, filenames in os.walk(ROOT):
        base = Path(dirpath).relative_to(ROOT)
        for d in list(dirnames):
            rel = (base / d).as_posix()
            if (ROOT / rel).is_symlink():
                dirnames.remove(d)
                filenames.append(d)
            elif _excluded(rel, rules) and not any(
                rel.startswith(lit) or lit.startswith(f"{rel}/") for lit in literal
            ):
                dirnames.remove(d)
        found += [rel for f in filenames if not _excluded(rel := (base / f).as_posix(), rules)]
    return sorted(found)


def _extdns_inputs() -> list[str]:
    parts = [_python_base_key(), _file_digest(ROOT / "Dockerfile")]
    ignore = ROOT / ".dockerignore"
    parts.append(_file_digest(ignore) if ignore.exists() else "")
    for rel in context_files():
        path = ROOT / rel
        content = os.readlink(path) if path.is_symlink() else _file_digest(path)
        parts.append(f"{rel} {path.lstat().st_mode & 0o111:o} {content}")
    return parts


def _build_extdns(bh: Buildah) -> None:
    base = python_base(bh)
    # The host's CA bundle for pip, which trusts a TLS-intercepting proxy's CA where there is one.
    volumes = ["--volume", f"{HOST_CA}:{HOST_CA}:ro"] if HOST_CA.exists() else []
    bh.run(
        "extdns-bud",
        "bud",
        "--format",
        "docker",
        "--pull=never",
        "--network",
        "host",
        "--isolation",
        "chroot",
        "--build-arg",
        f"PYTHON_IMAGE={base}",
        *volumes,
        "--tag",
        EXTDNS_IMAGE,
        "--file",
        str(ROOT / "Dockerfile"),
        str(ROOT),
    )


ALL = (
    Image(PAUSE_IMAGE, "pause", _pause_inputs, _build_pause),
    Image(ETCD_IMAGE, "etcd", _etcd_inputs, _build_etcd),
    Image(REDIS_IMAGE, "redis", _redis_inputs, _build_redis),
    Image(EXTDNS_IMAGE, "extdns", _extdns_inputs, _build_extdns),
)


# ---------------------------------------------------------------- build, cache, import


@contextlib.contextmanager
def _locked() -> Iterator[None]:
    """One builder at a time on the cache (tests and the cluster may ask at once)."""
    IMAGES.mkdir(parents=True, exist_ok=True)
    with (IMAGES / "lock").open("w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def archive(image: Image) -> Path:
    """The image's docker-archive tar, built first when no archive has its current key."""
    path = ARCHIVES / f"{image.slug}-{image.key}.tar"
    if path.exists():
        log(f"image {image.name} cached ({_mib(path)}) -> {path}")
        return path
    ARCHIVES.mkdir(parents=True, exist_ok=True)
    log(f"building image {image.name} ...")
    start = time.monotonic()
    bh = Buildah()
    image.build(bh)
    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)
    bh.out("push", "--quiet", image.name, f"docker-archive:{tmp}:{image.name}")
    bh.out("rmi", image.name)  # the archive is the cache; the storage keeps only the python base
    tmp.rename(path)
    _prune(ARCHIVES, image.slug, path, ".tar")
    log(f"built image {image.name} in {time.monotonic() - start:.0f}s ({_mib(path)}) -> {path}")
    return path


def build_images() -> dict[str, Path]:
    """Every image of the cluster as {name: docker-archive path}, building what is missing."""
    with _locked():
        return {image.name: archive(image) for image in ALL}


KEY_LABEL = "extdns.images/key"  # set on each imported image: the archive's key, to skip a re-import


def _imported_key(ctr: list[str], name: str) -> str | None:
    """The key label of the image `name` in containerd, None when it is not there."""
    listing = subprocess.run(
        [*ctr, "images", "ls", f"name=={name}"], capture_output=True, text=True, check=True
    )
    for line in listing.stdout.splitlines()[1:]:
        words = line.split()
        if words and words[0] == name:
            labels = dict(label.partition("=")[::2] for label in words[-1].split(","))
            return labels.get(KEY_LABEL)
    return None


def import_images(address: str) -> list[str]:
    """Build what is missing, import every image into containerd's k8s.io namespace; their names.

    An image already there from the same archive (its key label) is not imported again.
    """
    archives = build_images()
    ctr = [str(debian_binary("ctr", "containerd")), "--address", address, "-n", "k8s.io"]
    for name, path in archives.items():
        slug, key = path.stem.rsplit("-", 1)
        if _imported_key(ctr, name) == key:
            log(f"image {name} already in containerd ({address}, k8s.io)")
            continue
        start = time.monotonic()
        _run([*ctr, "images", "import", str(path)], f"import-{slug}")
        subprocess.run([*ctr, "images", "label", name, f"{KEY_LABEL}={key}"], capture_output=True, check=True)
        log(f"imported {name} into containerd ({address}, k8s.io) in {time.monotonic() - start:.1f}s")
    return list(archives)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.images", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("build", help="build and cache every image, print names and archives")
    imp = sub.add_parser("import", help="build what is missing, import every image into containerd")
    imp.add_argument("--address", required=True, help="containerd's socket")
    args = parser.parse_args(argv)
    start = time.monotonic()
    if args.cmd == "build":
        for name, path in build_images().items():
            print(f"{name:32} {_mib(path):>8}  {path}")
    else:
        for name in import_images(args.address):
            print(name)
    log(f"{args.cmd} done in {time.monotonic() - start:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
