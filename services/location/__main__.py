"""`python -m services.location`: serve location-service on TRIPGEN_HOST:TRIPGEN_PORT."""

from services.kit.serve import serve
from services.location.settings import LocationSettings

if __name__ == "__main__":
    serve("services.location.app:create_app", LocationSettings())
