"""The load and SLA commands (`python -m scenarios.cli load|sla-check`): argument types, the
deployment a run measures, one measured run, the interactive run, the commands and the parser."""
