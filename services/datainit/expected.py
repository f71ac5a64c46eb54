"""What the dev data set must contain (SPEC.md › Dev data initialisation; seed `004` §5.2.1)."""

from __future__ import annotations

from dataclasses import dataclass

from services.kit.auth import Role


@dataclass(frozen=True)
class SampleUser:
    username: str
    role: Role
    trips: int

    @property
    def email(self) -> str:
        return f"{self.username}@tripgen.dev"


# SPEC.md › Dev data initialisation: users, role, sample trips.
SAMPLE_USERS = (
    SampleUser("admin", Role.ADMIN, 5),
    SampleUser("testuser1", Role.USER, 3),
    SampleUser("testuser2", Role.USER, 2),
    SampleUser("poweruser", Role.POWER_USER, 7),
)

# SPEC.md › Places: Seoul 150, Busan 80, Jeju 100, overseas 10 cities / 200.
PLACES_PER_REGION = {"Seoul": 150, "Busan": 80, "Jeju": 100}
OVERSEAS_CITIES = 10
OVERSEAS_PLACES = 200
DISTRICTS_PER_REGION = {"Seoul": 25, "Busan": 16, "Jeju": 2}

# SPEC.md › AI test data.
AI_COUNTS = {
    "preference_profiles": 50,
    "itinerary_templates": 30,
    "reviews": 500,
    "seasonal_patterns": 12,
}
