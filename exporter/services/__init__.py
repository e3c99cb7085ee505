"""The service registry: one module per service, one line here each."""

from __future__ import annotations

from exporter.services import ec2, elasticache, memorydb, opensearch, rds, redshift, savingsplans
from exporter.services.base import ServiceSpec

REGISTRY: dict[str, ServiceSpec] = {
    spec.name: spec
    for spec in (
        ec2.SPEC,
        rds.SPEC,
        elasticache.SPEC,
        redshift.SPEC,
        opensearch.SPEC,
        memorydb.SPEC,
        savingsplans.SPEC,
    )
}

SERVICE_NAMES: tuple[str, ...] = tuple(REGISTRY)
