"""Refresh the vendored front-end files from the npm registry, pinned and checksummed.

The dashboard (htmx, uPlot) and the API docs of the manager and of every service (Swagger
UI, ReDoc) are served from files inside the package, so that no page loads anything from
outside the machine. This script is how those files got there and how they are updated:

    python scripts/vendor_assets.py            # fetch, check, write
    python scripts/vendor_assets.py --check    # only check the files in the tree

Each package is pinned to one version; its tarball must match the registry's ``sha512``
integrity recorded here, and each file taken from it must match its ``sha256``. A file
may be rewritten before it is written (ReDoc's bundle loses the one image it would fetch
from a CDN); its written ``sha256`` is pinned too. To move to
a new version, change ``version`` and ``integrity`` (from ``npm view PKG@VER dist``), run
with ``--print-hashes`` to see the new files' sha256, review the diff, and record them.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import sys
import tarfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DASHBOARD = ROOT / "src/mvi/manager/dashboard/static/vendor"
DOCS = ROOT / "src/mvi/serving/assets"
REGISTRY = "https://registry.npmjs.org"
REDOC_LOGO = (
    'n.createElement("img",{alt:"redocly logo",onError:()=>t(!1),'
    'src:"https://cdn.redoc.ly/redoc/logo-mini.svg"})'
)


@dataclass(frozen=True)
class VendoredFile:
    """One file taken from a package's tarball."""

    member: str
    """Its path in the tarball (under ``package/``)."""
    target: Path
    sha256: str
    """Of the file as the package has it."""
    rewrites: tuple[tuple[str, str], ...] = ()
    """Exact substitutions made before writing (each must match once)."""
    written_sha256: str = ""
    """Of the file as written, when ``rewrites`` changed it."""

    def rewritten(self, data: bytes) -> bytes:
        """``data`` with the rewrites made."""
        text = data.decode("utf-8") if self.rewrites else ""
        for old, new in self.rewrites:
            if text.count(old) != 1:
                raise SystemExit(f"{self.member}: {old!r} is not in it exactly once")
            text = text.replace(old, new)
        return text.encode("utf-8") if self.rewrites else data

    @property
    def expected(self) -> str:
        """The sha256 of the file in the tree."""
        return self.written_sha256 or self.sha256


@dataclass(frozen=True)
class Package:
    """One npm package at one version."""

    name: str
    version: str
    integrity: str
    """The registry's ``dist.integrity`` of the tarball (``sha512-...``)."""
    files: tuple[VendoredFile, ...]

    @property
    def tarball(self) -> str:
        """The tarball's URL on the registry."""
        base = self.name.rsplit("/", 1)[-1]
        return f"{REGISTRY}/{self.name}/-/{base}-{self.version}.tgz"


PACKAGES = (
    Package(
        "htmx.org",
        "2.0.4",
        "sha512-HLxMCdfXDOJirs3vBZl/ZLoY+c7PfM4Ahr2Ad4YXh6d22T5ltbTXFFkpx9Tgb2vvmWFMbIc3LqN2ToNkZJvyYQ==",
        (
            VendoredFile(
                "package/dist/htmx.min.js",
                DASHBOARD / "htmx.min.js",
                "e209dda5c8235479f3166defc7750e1dbcd5a5c1808b7792fc2e6733768fb447",
            ),
            VendoredFile(
                "package/LICENSE",
                DASHBOARD / "htmx.LICENSE",
                "d3d2456f76414f2456104660ebd65aff1c04cd7966b942bdabd63f3cdb316a38",
            ),
        ),
    ),
    Package(
        "uplot",
        "1.6.32",
        "sha512-KIMVnG68zvu5XXUbC4LQEPnhwOxBuLyW1AHtpm6IKTXImkbLgkMy+jabjLgSLMasNuGGzQm/ep3tOkyTxpiQIw==",
        (
            VendoredFile(
                "package/dist/uPlot.iife.min.js",
                DASHBOARD / "uPlot.iife.min.js",
                "19c8d4c6ad88929a79f4ae49d6f7161566dfd0ba3d15cc495e974f787eb78f1f",
            ),
            VendoredFile(
                "package/dist/uPlot.min.css",
                DASHBOARD / "uPlot.min.css",
                "df630c6a8d6f8eeaff264b50f73ce5b114f646ffd9a0bb74f049b0a00135fa04",
            ),
            VendoredFile(
                "package/LICENSE",
                DASHBOARD / "uPlot.LICENSE",
                "8f989229699b4fe2f1a0432d0e9edc338a8a911e250e2d1b01ecd770a5f5b1bd",
            ),
        ),
    ),
    Package(
        "swagger-ui-dist",
        "5.35.0",
        "sha512-U06rpMtW9V3XPGOBeamTUSr0Z09jMX4IJuANpE/EZbAhw0G8CgwrzU4YmXkn/h0wCDNsXdGarTNNHC3sU8yVUQ==",
        (
            VendoredFile(
                "package/swagger-ui-bundle.js",
                DOCS / "swagger-ui-bundle.js",
                "e6a898692f2d768e807c3ba4626068a69a2c5dd960dd6c76f3e4d3a3de180af2",
            ),
            VendoredFile(
                "package/swagger-ui.css",
                DOCS / "swagger-ui.css",
                "5ed08757e53da3e026d6cbecc61fe5d43585c9560b302d534ad56692519a273d",
            ),
            VendoredFile(
                "package/favicon-32x32.png",
                DOCS / "favicon-32x32.png",
                "3ed612f41e050ca5e7000cad6f1cbe7e7da39f65fca99c02e99e6591056e5837",
            ),
            VendoredFile(
                "package/LICENSE",
                DOCS / "swagger-ui.LICENSE",
                "cfc7749b96f63bd31c3c42b5c471bf756814053e847c10f3eb003417bc523d30",
            ),
        ),
    ),
    Package(
        "redoc",
        "2.5.0",
        "sha512-NpYsOZ1PD9qFdjbLVBZJWptqE+4Y6TkUuvEOqPUmoH7AKOmPcE+hYjotLxQNTqVoWL4z0T2uxILmcc8JGDci+Q==",
        (
            VendoredFile(
                "package/bundles/redoc.standalone.js",
                DOCS / "redoc.standalone.js",
                "0ec05be285ac885a330289b02f470e1bdbd2b6b3223a9fa213f24bf805a851d1",
                # the side menu's "API docs by Redocly" logo is fetched from a CDN: drop it
                rewrites=((REDOC_LOGO, "null"),),
                written_sha256="ee43378f243fd9bf78c75ed94588fff89f6dff2277bc44a665b87b9aaf85a3c0",
            ),
            VendoredFile(
                "package/LICENSE",
                DOCS / "redoc.LICENSE",
                "d3026d549cf68ab7355bcfa85877bf8f845b3334a7efbfdc63936432fb34ff0e",
            ),
        ),
    ),
)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _fetch(package: Package) -> bytes:
    with urllib.request.urlopen(package.tarball, timeout=120) as answer:
        data: bytes = answer.read()
    algorithm, _, expected = package.integrity.partition("-")
    digest = base64.b64encode(hashlib.new(algorithm, data).digest()).decode()
    if digest != expected:
        raise SystemExit(
            f"{package.tarball}: {algorithm} is {digest}, not the pinned {expected}; "
            "the registry served something else: do not use it"
        )
    return data


def _members(data: bytes, wanted: set[str]) -> dict[str, bytes]:
    found: dict[str, bytes] = {}
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
        for member in archive.getmembers():
            if member.name in wanted and member.isfile():
                extracted = archive.extractfile(member)
                if extracted is not None:
                    found[member.name] = extracted.read()
    missing = wanted - found.keys()
    if missing:
        raise SystemExit(f"not in the tarball: {', '.join(sorted(missing))}")
    return found


def refresh(print_hashes: bool) -> int:
    """Fetch every package, check it, and write its files (or print their hashes)."""
    failures = 0
    for package in PACKAGES:
        contents = _members(_fetch(package), {file.member for file in package.files})
        for file in package.files:
            data = contents[file.member]
            digest = _sha256(data)
            written = file.rewritten(data)
            if print_hashes:
                print(f"{package.name}@{package.version} {file.member} {digest}")
                if file.rewrites:
                    print(f"  as written: {_sha256(written)}")
                continue
            if digest != file.sha256 or _sha256(written) != file.expected:
                print(f"{file.target}: sha256 {digest}, pinned {file.sha256}", file=sys.stderr)
                failures += 1
                continue
            file.target.parent.mkdir(parents=True, exist_ok=True)
            file.target.write_bytes(written)
            print(f"wrote {file.target.relative_to(ROOT)} ({len(data)} bytes)")
    return 1 if failures else 0


def check() -> int:
    """Whether every vendored file in the tree has its pinned hash."""
    failures = 0
    for package in PACKAGES:
        for file in package.files:
            if not file.target.is_file():
                print(f"missing: {file.target.relative_to(ROOT)}", file=sys.stderr)
                failures += 1
            elif _sha256(file.target.read_bytes()) != file.expected:
                print(f"changed: {file.target.relative_to(ROOT)}", file=sys.stderr)
                failures += 1
    return 1 if failures else 0


def main() -> int:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--check", action="store_true", help="only check the files in the tree")
    parser.add_argument("--print-hashes", action="store_true", help="print, do not write")
    args = parser.parse_args()
    return check() if args.check else refresh(args.print_hashes)


if __name__ == "__main__":
    sys.exit(main())
