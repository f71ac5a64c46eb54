"""A Service Bus namespace connection string, parsed and checked before the SDK sees it.

The usual `Endpoint=sb://<ns>.servicebus.windows.net/;SharedAccessKeyName=…;SharedAccessKey=…`,
or the emulator's `Endpoint=sb://localhost;…;UseDevelopmentEmulator=true;`. The SDK understands
the emulator flag from 7.14 on, but only spelled exactly `true`; the string is parsed here (clear
errors, any capitalisation) and handed to the SDK in canonical form.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit

import azure.servicebus

from services.kit.queue.port import QueueConfigurationError

EMULATOR_SDK_VERSION = (7, 14)  # first azure-servicebus release that reads UseDevelopmentEmulator


def _sdk_version() -> tuple[int, ...]:
    parts = azure.servicebus.__version__.split(".")[:2]
    return tuple(int("".join(ch for ch in part if ch.isdigit()) or 0) for part in parts)


@dataclass(frozen=True)
class ServiceBusConnection:
    """A parsed namespace connection string (the key never appears in repr or errors)."""

    host: str
    port: int | None
    shared_access_key_name: str | None
    shared_access_key: str | None = field(repr=False)
    shared_access_signature: str | None = field(repr=False)
    use_development_emulator: bool

    @classmethod
    def parse(cls, connection_string: str) -> ServiceBusConnection:
        settings: dict[str, str] = {}
        for part in connection_string.strip().split(";"):
            if not part.strip():
                continue
            setting, sep, value = part.partition("=")
            if not sep or not setting.strip():
                shown = setting.strip()[:20] or "(empty)"
                raise QueueConfigurationError(
                    f"malformed Service Bus connection string: {shown!r}… is not Key=Value"
                )
            settings[setting.strip().lower()] = value.strip()
        if not settings:
            raise QueueConfigurationError("the Service Bus connection string is empty")

        endpoint = settings.get("endpoint")
        if not endpoint:
            raise QueueConfigurationError(
                "Service Bus connection string has no Endpoint=sb://<namespace>/ "
                "(the emulator's is Endpoint=sb://localhost)"
            )
        url = urlsplit(endpoint)
        if url.scheme.lower() != "sb" or not url.hostname:
            raise QueueConfigurationError(
                f"Service Bus Endpoint must look like sb://<host>[:port]/, got {endpoint!r}"
            )
        try:
            port = url.port
        except ValueError as exc:
            raise QueueConfigurationError(f"Service Bus Endpoint has a bad port: {exc}") from exc

        flag = settings.get("usedevelopmentemulator", "false").lower()
        if flag not in ("true", "false"):
            given = settings["usedevelopmentemulator"]
            raise QueueConfigurationError(
                f"UseDevelopmentEmulator must be true or false, got {given!r}"
            )
        if "entitypath" in settings:
            raise QueueConfigurationError(
                "the Service Bus connection string names one entity (EntityPath); "
                "TripGen needs a namespace-level connection string"
            )
        key_name = settings.get("sharedaccesskeyname")
        key = settings.get("sharedaccesskey")
        signature = settings.get("sharedaccesssignature")
        if bool(key_name) != bool(key):
            raise QueueConfigurationError(
                "Service Bus connection string needs both SharedAccessKeyName and SharedAccessKey"
            )
        if not key and not signature:
            raise QueueConfigurationError(
                "Service Bus connection string needs SharedAccessKeyName + SharedAccessKey "
                "or SharedAccessSignature"
            )
        if key and signature:
            raise QueueConfigurationError(
                "Service Bus connection string has both SharedAccessKey and SharedAccessSignature"
            )
        return cls(url.hostname, port, key_name or None, key or None, signature, flag == "true")

    @property
    def fully_qualified_namespace(self) -> str:
        return f"{self.host}:{self.port}" if self.port else self.host

    def to_sdk_string(self) -> str:
        """The canonical connection string the SDK's parser expects."""
        parts = [f"Endpoint=sb://{self.fully_qualified_namespace}/"]
        if self.shared_access_key:
            parts += [
                f"SharedAccessKeyName={self.shared_access_key_name}",
                f"SharedAccessKey={self.shared_access_key}",
            ]
        else:
            parts.append(f"SharedAccessSignature={self.shared_access_signature}")
        if self.use_development_emulator:
            if _sdk_version() < EMULATOR_SDK_VERSION:
                raise QueueConfigurationError(
                    f"the Service Bus emulator needs azure-servicebus >= 7.14 "
                    f"(installed: {azure.servicebus.__version__})"
                )
            parts.append("UseDevelopmentEmulator=true")  # the SDK accepts only lowercase "true"
        return ";".join(parts)
