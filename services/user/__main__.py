"""`python -m services.user`: serve user-service on TRIPGEN_HOST:TRIPGEN_PORT."""

from services.kit.serve import serve
from services.user.settings import UserSettings

if __name__ == "__main__":
    serve("services.user.app:create_app", UserSettings())
