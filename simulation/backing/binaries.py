"""Where the backing servers' binaries live, and installing them from Debian when missing.

As root the harness installs what is missing with apt-get (printing what and why); as another
user it stops and names the command to run. `TRIPGEN_AUTO_INSTALL=0` turns installing off.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from simulation.backing.errors import BinariesMissingError

PG_MAJOR = 15
DEBIAN_PACKAGES = (f"postgresql-{PG_MAJOR}", f"postgresql-{PG_MAJOR}-postgis-3", "redis-server")
_TRUTHY = frozenset({"1", "true", "yes", "on"})


@dataclass(frozen=True)
class MissingFile:
    """A file a backing server needs, and the Debian package that provides it."""

    path: Path
    package: str


@dataclass(frozen=True)
class Binaries:
    """Where the server binaries live (Debian layout; each overridable by environment variable)."""

    pg_bindir: Path
    pg_libdir: Path
    pg_extension_dir: Path
    redis_server: Path

    @classmethod
    def from_env(cls) -> Binaries:
        bindir = Path(os.environ.get("TRIPGEN_PG_BINDIR", f"/usr/lib/postgresql/{PG_MAJOR}/bin"))
        redis_default = shutil.which("redis-server") or "/usr/bin/redis-server"
        return cls(
            pg_bindir=bindir,
            pg_libdir=Path(os.environ.get("TRIPGEN_PG_LIBDIR", str(bindir.parent / "lib"))),
            pg_extension_dir=Path(
                os.environ.get(
                    "TRIPGEN_PG_EXTENSION_DIR", f"/usr/share/postgresql/{PG_MAJOR}/extension"
                )
            ),
            redis_server=Path(os.environ.get("TRIPGEN_REDIS_SERVER", redis_default)),
        )

    @property
    def initdb(self) -> Path:
        return self.pg_bindir / "initdb"

    @property
    def postgres(self) -> Path:
        return self.pg_bindir / "postgres"

    def missing(self) -> list[MissingFile]:
        """Every required file that does not exist, with the package to install for it."""
        postgresql, postgis, redis_server = DEBIAN_PACKAGES
        required = [
            (self.initdb, postgresql),
            (self.postgres, postgresql),
            (self.pg_extension_dir / "pg_trgm.control", postgresql),
            (self.pg_extension_dir / "postgis.control", postgis),
            (self.pg_libdir / "postgis-3.so", postgis),
            (self.redis_server, redis_server),
        ]
        return [MissingFile(path, package) for path, package in required if not path.exists()]

    def versions(self) -> dict[str, str]:
        """`--version` output of each server binary that exists."""
        found: dict[str, str] = {}
        for name, binary in (("postgres", self.postgres), ("redis-server", self.redis_server)):
            if binary.exists():
                result = subprocess.run(
                    [str(binary), "--version"], capture_output=True, text=True, check=False
                )
                found[name] = (result.stdout or result.stderr).strip()
        return found


def _missing_message(missing: Sequence[MissingFile]) -> str:
    packages = sorted({item.package for item in missing})
    files = "\n".join(f"  {item.path}  (package {item.package})" for item in missing)
    return (
        f"PostgreSQL {PG_MAJOR} + PostGIS and Redis are needed but these files are missing:\n"
        f"{files}\n"
        f"Install them with:  sudo apt-get install -y {' '.join(packages)}\n"
        "(run as root, the harness installs them itself)"
    )


def auto_install_allowed() -> bool:
    """As root, install unless `TRIPGEN_AUTO_INSTALL` says no; never as another user."""
    if os.geteuid() != 0:
        return False
    choice = os.environ.get("TRIPGEN_AUTO_INSTALL", "").strip().lower()
    return choice in _TRUTHY if choice else True


_apt_updated = False


def apt_install(packages: Sequence[str], *, why: str) -> None:
    """Install Debian packages with apt-get (root only), saying what and why first.

    `apt-get update` runs once per process: a fresh machine's package lists may be empty.
    """
    global _apt_updated
    wanted = " ".join(packages)
    if os.geteuid() != 0:
        raise BinariesMissingError(f"{why} needs {wanted}; run: sudo apt-get install -y {wanted}")
    if shutil.which("apt-get") is None:
        raise BinariesMissingError(
            f"apt-get not found: install {wanted} (needed for {why}) by hand"
        )
    print(f"installing {wanted} with apt-get ({why})", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    # Debian's postinst scripts would start system servers; policy-rc.d exit 101 is Debian's
    # documented way to forbid that, so the install leaves no server process behind.
    policy = Path("/usr/sbin/policy-rc.d")
    added_policy = not policy.exists()
    if added_policy:
        policy.write_text("#!/bin/sh\nexit 101\n")
        policy.chmod(0o755)
    commands = [["apt-get", "install", "-y", "--no-install-recommends", *packages]]
    if not _apt_updated:
        commands.insert(0, ["apt-get", "update"])
    try:
        for command in commands:
            result = subprocess.run(command, env=env, check=False)
            if result.returncode != 0:
                raise BinariesMissingError(
                    f"`{' '.join(command)}` failed with exit code {result.returncode}"
                )
            _apt_updated = _apt_updated or command[1] == "update"
    finally:
        if added_policy:
            policy.unlink(missing_ok=True)


def ensure_binaries(install: bool | None = None) -> None:
    """Make sure PostgreSQL 15, PostGIS 3 and Redis are installed.

    Missing ones are installed with apt when `install` is true, or when it is None and we are
    root (unless `TRIPGEN_AUTO_INSTALL=0`). Otherwise raise `BinariesMissingError` naming the
    Debian packages to install.
    """
    missing = Binaries.from_env().missing()
    if not missing:
        return
    if install is None:
        install = auto_install_allowed()
    if not install:
        raise BinariesMissingError(_missing_message(missing))
    apt_install(
        sorted({item.package for item in missing}),
        why="the real PostgreSQL + PostGIS and Redis servers the harness starts",
    )
    still_missing = Binaries.from_env().missing()
    if still_missing:
        raise BinariesMissingError("apt-get finished but " + _missing_message(still_missing))


@dataclass(frozen=True)
class Tool:
    """A program the prod simulation runs, where Debian puts it, and the package that has it."""

    name: str
    path: Path
    package: str

    def exists(self) -> bool:
        return self.path.is_file()


# The production parts of prod-sim (DESIGN.md › Production parts on this kind of machine).
_EXPORTERS = ("nginx", "postgres", "redis")
TOOLS: dict[str, Tool] = {
    tool.name: tool
    for tool in (
        Tool("pg_autoctl", Path("/usr/bin/pg_autoctl"), f"postgresql-{PG_MAJOR}-auto-failover"),
        Tool("redis-sentinel", Path("/usr/bin/redis-sentinel"), "redis-sentinel"),
        Tool("prometheus", Path("/usr/bin/prometheus"), "prometheus"),
        Tool("promtool", Path("/usr/bin/promtool"), "prometheus"),
        *(
            Tool(f"{name}-exporter", Path(f"/usr/bin/prometheus-{name}-exporter"),
                 f"prometheus-{name}-exporter")
            for name in _EXPORTERS
        ),
        Tool("pgbackrest", Path("/usr/bin/pgbackrest"), "pgbackrest"),
        Tool("iptables", Path("/usr/sbin/iptables"), "iptables"),
    )
}  # fmt: skip
HA_TOOLS = ("pg_autoctl", "redis-sentinel", "pgbackrest")
MONITORING_TOOLS = ("prometheus", "promtool", *(f"{name}-exporter" for name in _EXPORTERS))


def tool(name: str) -> Path:
    """The path of tool `name` (`TRIPGEN_TOOL_<NAME>` overrides the Debian location)."""
    override = os.environ.get("TRIPGEN_TOOL_" + name.upper().replace("-", "_"))
    return Path(override) if override else TOOLS[name].path


def ensure_tools(names: Sequence[str], *, why: str, install: bool | None = None) -> dict[str, Path]:
    """The paths of tools `names`, installing the missing ones' packages as root (unless
    `TRIPGEN_AUTO_INSTALL=0`); otherwise `BinariesMissingError` names the packages."""
    missing = [TOOLS[name] for name in names if not tool(name).is_file()]
    if missing:
        packages = sorted({item.package for item in missing})
        if install is None:
            install = auto_install_allowed()
        if not install:
            raise BinariesMissingError(
                f"{why} needs {', '.join(item.name for item in missing)}; install with: "
                f"sudo apt-get install -y {' '.join(packages)}"
            )
        apt_install(packages, why=why)
        still = [item.name for item in missing if not tool(item.name).is_file()]
        if still:
            raise BinariesMissingError(f"apt-get finished but {', '.join(still)} still missing")
    return {name: tool(name) for name in names}
