"""`python -m services.ai`: serve ai-service, API and in-process worker, on host:port."""

from services.ai.settings import AISettings
from services.kit.serve import serve

if __name__ == "__main__":
    serve("services.ai.app:create_app", AISettings())
