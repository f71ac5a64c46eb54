"""The rendered chart fixtures of `tests/chart` serve the offline Kubernetes checks too."""

from tests.chart.conftest import dev, helm, prod, prod_kind, render

__all__ = ["dev", "helm", "prod", "prod_kind", "render"]
