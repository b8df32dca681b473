"""Tiny real wheels in a local folder, so pip can be run for real without the network."""

from __future__ import annotations

import base64
import contextlib
import functools
import hashlib
import http.server
import os
import shutil
import threading
import zipfile
from pathlib import Path

from calliper.core.install.locks import Lock, LockEntry, normalised
from packaging.version import Version

ISOLATED_PIP = {"PIP_CONFIG_FILE": os.devnull}
"""pip without the machine's configuration (its extra indexes and find-links)."""


def make_wheel(folder: Path, name: str, version: str, requires: tuple[str, ...] = (), payload_bytes: int = 0) -> Path:
    """A pure-Python wheel whose module ``<name with _>`` holds ``VERSION`` (and an optional data file)."""
    module = name.replace("-", "_")
    dist = f"{module}-{version}.dist-info"
    files = {
        f"{module}/__init__.py": f"VERSION = {version!r}\n".encode(),
        f"{dist}/METADATA": ("Metadata-Version: 2.1\n" f"Name: {name}\nVersion: {version}\n"
                             + "".join(f"Requires-Dist: {r}\n" for r in requires)).encode(),
        f"{dist}/WHEEL": b"Wheel-Version: 1.0\nGenerator: calliper-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    if payload_bytes:
        files[f"{module}/payload.bin"] = os.urandom(payload_bytes)
    record = "".join(
        f"{path},sha256={base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b'=').decode()},{len(data)}\n"
        for path, data in files.items()
    ) + f"{dist}/RECORD,,\n"
    folder.mkdir(parents=True, exist_ok=True)
    wheel = folder / f"{module}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, data in files.items():
            archive.writestr(path, data)
        archive.writestr(f"{dist}/RECORD", record)
    return wheel


def local_index_args(folder: Path) -> list[str]:
    return ["--no-index", "--find-links", str(folder)]


def make_simple_index(root: Path, wheels: list[Path]) -> Path:
    """A PEP 503 index in ``root`` (one page per project), as PyPI or PyTorch's index serve it."""
    for wheel in wheels:
        project = root / wheel.name.split("-", 1)[0].replace("_", "-").lower()
        project.mkdir(parents=True, exist_ok=True)
        shutil.copy(wheel, project / wheel.name)
    for project in root.iterdir():
        links = "".join(f'<a href="{w.name}">{w.name}</a>\n' for w in sorted(project.glob("*.whl")))
        (project / "index.html").write_text(f"<html><body>\n{links}</body></html>\n")
    (root / "index.html").write_text("".join(f'<a href="{p.name}/">{p.name}</a>\n' for p in root.iterdir() if p.is_dir()))
    return root


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # pip's requests are not test output
        pass


@contextlib.contextmanager
def serve_folder(folder: Path):
    """Serve ``folder`` over HTTP on 127.0.0.1 (a package index that answers); yields its URL."""
    handler = functools.partial(QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


def locked(wheels: list[Path]) -> dict[str, LockEntry]:
    """Lock entries of these wheel files: name and version from each file name, and the file's sha256."""
    entries = {}
    for wheel in wheels:
        name, version = wheel.name.split("-")[:2]
        entries[normalised(name)] = LockEntry(normalised(name), version, (hashlib.sha256(wheel.read_bytes()).hexdigest(),))
    return entries


def fake_lock(folder: Path, pins: list[str], **torch: dict[str, LockEntry]) -> Lock:
    """A lock of a wheel folder as the lock maker would make it for ``pins``: each pin's wheel, and the newest wheel
    of every other name; ``torch`` gives the torch parts by source."""
    newest: dict[str, Path] = {}
    for wheel in sorted(Path(folder).glob("*.whl"), key=lambda wheel: Version(wheel.name.split("-")[1])):
        newest[normalised(wheel.name.split("-")[0])] = wheel
    for spec in pins:
        name, version = spec.split("==")
        newest[normalised(name)] = next(Path(folder).glob(f"{name.replace('-', '_')}-{version}-*.whl"))
    return Lock("3.99-test", locked(list(newest.values())), dict(torch))
