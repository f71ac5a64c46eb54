"""Data-init settings (`TRIPGEN_DATAINIT_*`, falling back to `TRIPGEN_*`)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import SecretStr

from services.kit.settings import ServiceSettings, service_settings_config

# The sample users' password when none is configured: dev and kind only, `sample` refuses prod.
DEV_SAMPLE_PASSWORD = "tripgen-dev-2024"


class DataInitSettings(ServiceSettings):
    service_name: ClassVar[str] = "datainit"
    model_config = service_settings_config("datainit")

    sample_password: SecretStr = SecretStr(DEV_SAMPLE_PASSWORD)
