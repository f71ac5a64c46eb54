"""Where a profile runs: `local`, `kind`, `aks` behind one interface (`base.Platform`).

Load and chaos code uses `current_platform()` — the deployment recorded in `.tripgen/state.json`
— and then `.endpoints().base_url`, `.kill_replica("trip")`, `.zone_outage("zone-2")`, …
"""

from simulation.platforms.base import (
    DependencyStatus,
    DeploymentStatus,
    Endpoints,
    KilledReplica,
    NotDeployed,
    Platform,
    PlatformError,
    ReplicaStatus,
    Unsupported,
)
from simulation.platforms.select import choose_platform, current_platform, open_platform

__all__ = [
    "DependencyStatus",
    "DeploymentStatus",
    "Endpoints",
    "KilledReplica",
    "NotDeployed",
    "Platform",
    "PlatformError",
    "ReplicaStatus",
    "Unsupported",
    "choose_platform",
    "current_platform",
    "open_platform",
]
