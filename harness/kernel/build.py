"""Build a kernel from a source, a patch series and config fragments; cache it.

Layout under the cache (see harness.paths.cache_dir):
  work/<slot>/src     the source's work copy, patched (one per source)
  work/<slot>/obj     its persistent O= build tree (incremental rebuilds)
  work/<slot>/cfg     scratch O= tree where the config is generated
  kernels/<key>/      finished artefacts: bzImage, .config, System.map,
                      build.log, metadata.json, modroot/ (when any =m)
  kernels/requests/   request hash -> artefact key, for a hit without make
An artefact's key hashes (source identity, patch contents, final .config).
It is assembled in a temporary directory and renamed into place.
"""

import fcntl
import hashlib
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Iterable, List, Optional, Sequence

from harness.errors import HarnessError, HostError
from harness.kernel import config as kconfig
from harness.kernel import patches as kpatches
from harness.kernel import source as ksource
from harness.kernel.artifact import Kernel
from harness.cache import mark_used, publish
from harness.hostshare import occupying
from harness.paths import cache_dir

DEFAULT = kconfig.DEFAULT_FRAGMENTS
LAYOUT_VERSION = "1"        # bump when the artefact layout or build recipe changes
PROGRESS_EVERY_S = 15
MAKE_ENV = {"KBUILD_BUILD_USER": "damon-harness", "KBUILD_BUILD_HOST": "harness",
            "KBUILD_BUILD_TIMESTAMP": "1970-01-01"}


class BuildError(HarnessError):
    """The kernel itself failed to build (not the host)."""

    exit_code = 1


@dataclass
class Request:
    source: Optional[str] = None
    patches: Sequence[str] = ()
    fragments: Sequence[str] = DEFAULT
    jobs: int = field(default_factory=lambda: os.cpu_count() or 1)
    # Fragments inside the (patched) source tree, merged after `fragments`:
    # a selftest directory's own `config`, which a patch may change.
    tree_fragments: Sequence[str] = ()


def build_kernel(source: Optional[str] = None, patches: Iterable[str] = (),
                 fragments: Iterable[str] = DEFAULT, jobs: Optional[int] = None,
                 log: Optional[IO] = None) -> Kernel:
    """Kernel for this source + patch series + fragments; a cache hit when possible."""
    request = Request(source, tuple(patches), tuple(fragments), jobs or os.cpu_count() or 1)
    return Builder(request, log).run()


def check_kernel_config(source: Optional[str] = None, patches: Iterable[str] = (),
                        fragments: Iterable[str] = DEFAULT,
                        log: Optional[IO] = None) -> Path:
    """Generate and verify the config only (no compile); the .config's path.

    Bad fragments raise the same InputError a build would, in seconds.
    """
    return Builder(Request(source, tuple(patches), tuple(fragments)), log).check_config()


def _sha(*parts: str) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode() + b"\0")
    return h.hexdigest()


def validate_build_inputs(source: Optional[str], patches: Iterable[str] = (),
                          fragments: Iterable[str] = ()) -> None:
    """InputError for a bad source, patch series or config fragment.

    Fetches, unpacks and writes nothing: the source (when given) must be a
    kernel tree or a tarball of one, every patch input must hold patches and
    every fragment must resolve and parse; when the tree is on disk, at least
    one patch must fit it. source None is Debian's package, which only the
    build itself can check when it is not cached yet.
    """
    series = kpatches.load_all(patches)
    kconfig.merge(kconfig.resolve_fragment(f) for f in fragments)
    if source is not None:
        ksource.check_source(source)
    tree = ksource.local_tree(source)
    if tree is not None:
        kpatches.check_applies(series, tree)


class Builder:
    def __init__(self, request: Request, log: Optional[IO]):
        self.req = request
        self.out = log
        # Every input is checked before the source is fetched or unpacked.
        validate_build_inputs(request.source, request.patches, request.fragments)
        self.patches = kpatches.load_all(request.patches)
        self.fragment_paths = [kconfig.resolve_fragment(f) for f in request.fragments]
        self.requested = kconfig.merge(self.fragment_paths)
        self.left_out: List[str] = []      # options marked "if in tree" the tree lacks
        self.src = ksource.resolve(request.source)
        self.slot = cache_dir("work", self.src.slot)
        self.kernels = cache_dir("kernels")

    def say(self, message: str) -> None:
        # sys.stderr as it is at this moment: pytest swaps it while capturing.
        print(f"build: {message}", file=self.out or sys.stderr, flush=True)

    # -- the steps ---------------------------------------------------------------------

    def run(self) -> Kernel:
        hit = self.request_hit()
        if hit:
            self.say(f"cache hit {hit}")
            return load_artifact(hit)
        with self.locked():
            work = self.prepare_tree()
            config = self.configure(work)
            key = _sha(LAYOUT_VERSION, self.src.identity, kpatches.digest(self.patches),
                       config.read_text())[:24]
            final = self.kernels / key
            if not has_metadata(final):
                self.compile(work, config, final)
            else:
                self.say(f"cache hit {final}")
            self.remember_request(key)
        return load_artifact(final)

    def request_key(self) -> str:
        return _sha(LAYOUT_VERSION, self.src.identity, kpatches.digest(self.patches),
                    kconfig.render(self.requested), *self.req.tree_fragments)[:24]

    def request_hit(self) -> Optional[Path]:
        link = cache_dir("kernels", "requests") / self.request_key()
        if not link.is_file():
            return None
        final = self.kernels / link.read_text().strip()
        return final if has_metadata(final) else None

    def remember_request(self, key: str) -> None:
        link = cache_dir("kernels", "requests") / self.request_key()
        tmp = link.with_suffix(".tmp")
        tmp.write_text(key + "\n")
        os.replace(tmp, link)

    @contextmanager
    def locked(self):
        mark_used(self.slot)
        with open(self.slot / "lock", "w") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                self.say(f"waiting for another build using {self.slot}")
                fcntl.flock(handle, fcntl.LOCK_EX)
            yield

    def prepare_tree(self) -> Path:
        """Work copy = source + patches; redone only when either changed.

        state.json is marked incomplete before the work copy is touched, so
        a sync or a patch that fails (or is interrupted) leaves a half-patched
        copy that the next run syncs again instead of building on it.
        """
        work = self.slot / "src"
        state = {"identity": self.src.identity, "patches": kpatches.digest(self.patches),
                 "patched_files": sorted({f for p in self.patches for f in p.files()})}
        old = self.read_state()
        if old.get("complete") and {**state, "complete": True} == old:
            return work
        self.say(f"syncing {self.src.origin} into {work}")
        # Record what is about to be patched before patching, so an interrupted
        # run still has the next sync refresh those files' timestamps.
        touched = sorted(set(old.get("patched_files", [])) | set(state["patched_files"]))
        self.write_state({**state, "patched_files": touched, "complete": False})
        ksource.sync(self.src, work, touch=old.get("patched_files", []))
        if self.patches:
            self.say(f"applying {len(self.patches)} patch(es)")
            kpatches.apply_all(work, self.patches, use_git=self.src.is_git)
        self.write_state({**state, "complete": True})
        return work

    def read_state(self) -> dict:
        try:
            state = json.loads((self.slot / "state.json").read_text())
        except (OSError, ValueError):
            return {}
        return state if isinstance(state, dict) else {}

    def write_state(self, state: dict) -> None:
        path = self.slot / "state.json"
        tmp = path.with_name("state.json.tmp")
        tmp.write_text(json.dumps(state))
        os.replace(tmp, path)

    def check_config(self) -> Path:
        return self.with_tree(self.generate_verified)

    def with_tree(self, use):
        """use(work copy), with the work copy patched for this request and locked."""
        with self.locked():
            return use(self.prepare_tree())

    def all_fragments(self, work: Path) -> List[Path]:
        """The fragments given, then those the tree has of the ones it may
        carry (6.1's DAMON selftests come without a config)."""
        return self.fragment_paths + [work / f for f in self.req.tree_fragments
                                      if (work / f).is_file()]

    def generate_verified(self, work: Path) -> Path:
        """The config, generated in a scratch tree; every requested option holds."""
        fragments = self.all_fragments(work)
        self.say("configuring: allnoconfig + " + " ".join(p.name for p in fragments))
        if_in_tree: set = set()
        requested = kconfig.merge(fragments, if_in_tree)
        generated = kconfig.generate(work, self.slot / "cfg", requested, make_args())
        self.left_out = kconfig.verify(work, requested, generated, if_in_tree)
        if self.left_out:
            self.say(f"left out, as this tree has no such option ({kconfig.IN_TREE_MARK!r} "
                     f"in their fragment): {' '.join(self.left_out)}")
        return generated

    def configure(self, work: Path) -> Path:
        """Hand the verified config to obj/ only when it changed (so an
        unchanged config leaves timestamps alone)."""
        generated = self.generate_verified(work)
        obj = self.slot / "obj"
        obj.mkdir(exist_ok=True)
        target = obj / ".config"
        if not target.is_file() or target.read_bytes() != generated.read_bytes():
            shutil.copyfile(generated, target)
        return target

    def compile(self, work: Path, config: Path, final: Path) -> None:
        obj = config.parent
        started = time.time()

        def make(tmp: Path) -> None:
            tmp.mkdir(mode=0o755)
            with occupying("kernel build", final.name):
                run_make(work, obj, self.req.jobs, tmp / "build.log", self.say)
            self.collect(work, obj, tmp, time.time() - started)

        publish(final, make, complete=has_metadata)
        self.say(f"built {final} in {_fmt(time.time() - started)}")

    def collect(self, work: Path, obj: Path, dest: Path, duration: float) -> None:
        shutil.copyfile(obj / "arch/x86/boot/bzImage", dest / "bzImage")
        for name in (".config", "System.map"):
            shutil.copyfile(obj / name, dest / name.lstrip("."))
        if kconfig.option_set(obj / ".config", "CONFIG_DEBUG_INFO"):
            # Debuggers in the guest (drgn) need the image's symbols and types;
            # compressed, they are a third of the size to copy into a guest.
            compress_debug_info(obj / "vmlinux", dest / "vmlinux")
        release = make_output(work, obj, "kernelrelease")
        if has_modules(obj / ".config"):
            make_quiet(work, obj, "modules_install", "INSTALL_MOD_STRIP=1",
                       f"INSTALL_MOD_PATH={dest / 'modroot'}")
        meta = self.metadata(work, release, duration, make_output(work, obj, "kernelversion"))
        (dest / "metadata.json").write_text(json.dumps(meta, indent=2) + "\n")

    def metadata(self, work: Path, release: str, duration: float, version: str) -> dict:
        return {
            "source": {"kind": self.src.kind, "identity": self.src.identity,
                       "origin": self.src.origin, "version": version},
            "release": release,
            "patches": [p.describe() for p in self.patches],
            "left_out_options": self.left_out,
            "fragments": [{"path": str(p), "sha256": _file_sha(p)}
                          for p in self.all_fragments(work)],
            "compiler": compiler_version(),
            "jobs": self.req.jobs,
            "duration_s": round(duration, 1),
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "reproducer": self.reproducer(),
            "make": shlex.join(["make", "ARCH=" + kconfig.ARCH, *make_args(),
                                f"-j{self.req.jobs}", "O=<obj>"]),
        }

    def reproducer(self) -> str:
        argv = ["damon-harness", "build"]
        if self.req.source:
            named = ksource.debian_package(self.req.source) is not None
            argv += ["--source", self.req.source if named
                     else str(Path(self.req.source).expanduser().resolve())]
        for spec in self.req.patches:
            argv += ["--patches", str(Path(spec).expanduser().resolve())]
        for frag in self.req.fragments:
            argv += ["--config", frag]
        return shlex.join(argv)


# --- make ------------------------------------------------------------------------------

def make_args() -> List[str]:
    """Variables for every make call (config and build must agree on CC)."""
    return ["CC=ccache gcc"] if shutil.which("ccache") else []


def make_env() -> dict:
    env = kconfig.own_make_env()
    env.update(MAKE_ENV)
    env.setdefault("CCACHE_DIR", str(cache_dir("ccache")))
    # Kbuild passes absolute source paths; relative to the base they are the
    # same for every work copy, so one source's objects serve another's.
    env.setdefault("CCACHE_BASEDIR", str(cache_dir("work")))
    return env


def _make_cmd(work: Path, obj: Path, *targets: str) -> List[str]:
    return ["make", "-C", str(work), f"O={obj}", f"ARCH={kconfig.ARCH}", *make_args(),
            *targets]


def run_make(work: Path, obj: Path, jobs: int, log_path: Path, say) -> None:
    """make -jN, all output to log_path, a progress line every ~15 s."""
    cmd = _make_cmd(work, obj, f"-j{jobs}")
    say(f"make -j{jobs} (log: {log_path})")
    with open(log_path, "wb") as log, _terminate_as_exit():
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=make_env())
        try:
            _watch(proc, log_path, say)
        except BaseException:
            proc.terminate()
            proc.wait()
            raise
    if proc.returncode != 0:
        kept = cache_dir("logs") / f"failed-{time.strftime('%Y%m%d-%H%M%S')}.log"
        shutil.copyfile(log_path, kept)
        raise BuildError(f"kernel build failed: {first_error(kept)} (log: {kept})")


@contextmanager
def _terminate_as_exit():
    """Turn SIGTERM into SystemExit so make is stopped and temp dirs removed."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _watch(proc: subprocess.Popen, log_path: Path, say) -> None:
    started = time.time()
    while True:
        try:
            proc.wait(timeout=PROGRESS_EVERY_S)
            return
        except subprocess.TimeoutExpired:
            say(f"{_fmt(time.time() - started)} elapsed, {count_compiled(log_path)} files "
                "compiled so far")


def count_compiled(log_path: Path) -> int:
    try:
        text = log_path.read_bytes()
    except OSError:
        return 0
    return sum(1 for line in text.splitlines() if line.lstrip().startswith(b"CC "))


def first_error(log_path: Path) -> str:
    lines = log_path.read_text(errors="replace").splitlines()
    for line in lines:
        if "error:" in line or "Error " in line:
            return line.strip()[:200]
    return (lines[-1].strip() if lines else "no output")[:200]


def make_output(work: Path, obj: Path, target: str) -> str:
    proc = subprocess.run(_make_cmd(work, obj, "-s", target), capture_output=True,
                          text=True, env=make_env())
    if proc.returncode != 0:
        raise HostError(f"make {target} failed: {proc.stderr.strip()[-200:]}")
    return proc.stdout.strip()


def make_quiet(work: Path, obj: Path, *targets: str) -> None:
    proc = subprocess.run(_make_cmd(work, obj, "-s", *targets), capture_output=True,
                          text=True, env=make_env())
    if proc.returncode != 0:
        raise HostError(f"make {targets[0]} failed: {proc.stderr.strip()[-200:]}")


def compress_debug_info(vmlinux: Path, dest: Path) -> None:
    proc = subprocess.run(["objcopy", "--compress-debug-sections=zlib", str(vmlinux),
                           str(dest)], capture_output=True, text=True)
    if proc.returncode != 0:
        raise HostError(f"objcopy of vmlinux failed: {proc.stderr.strip()[-200:]}")


def has_modules(config: Path) -> bool:
    return any(line.endswith("=m") for line in config.read_text().splitlines())


def compiler_version() -> str:
    proc = subprocess.run(["gcc", "--version"], capture_output=True, text=True)
    name = proc.stdout.splitlines()[0] if proc.stdout else "gcc (unknown)"
    return name + (" via ccache" if shutil.which("ccache") else "")


# --- artefacts ---------------------------------------------------------------------------

def load_artifact(path: Path) -> Kernel:
    mark_used(path)
    meta = json.loads((path / "metadata.json").read_text())
    modroot = path / "modroot" / "lib" / "modules"
    return Kernel(image=path / "bzImage",
                  modules_dir=modroot if modroot.is_dir() else None,
                  release=meta.get("release", ""),
                  origin={"kind": "build", "artifact": str(path), **meta})


def has_metadata(entry: Path) -> bool:
    """An artefact is complete once its metadata.json is written (last)."""
    return (entry / "metadata.json").is_file()


def _file_sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _fmt(seconds: float) -> str:
    return f"{int(seconds // 60)}m{int(seconds % 60):02d}s"
