"""`python -m services.trip`: serve trip-service on TRIPGEN_HOST:TRIPGEN_PORT."""

from services.kit.serve import serve
from services.trip.settings import TripSettings

if __name__ == "__main__":
    serve("services.trip.app:create_app", TripSettings())
