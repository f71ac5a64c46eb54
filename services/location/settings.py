"""location-service settings (`TRIPGEN_LOCATION_*`, falling back to `TRIPGEN_*`)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from services.kit.settings import ServiceSettings, service_settings_config


class LocationSettings(ServiceSettings):
    service_name: ClassVar[str] = "location"
    model_config = service_settings_config("location")

    # The most places one nearby cache entry holds (50 km around central Seoul covers all 150
    # of its sample places). A request the cut list cannot answer (a category, or a limit
    # beyond the cut) is answered from PostgreSQL instead.
    nearby_cache_max_places: int = Field(1000, ge=1, le=100_000)
