"""The ai-service setting that points it at an LLM endpoint (docs/contracts.md › Settings)."""

LLM_ENV = "TRIPGEN_AI_LLM_BASE_URL"
