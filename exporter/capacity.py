"""What a reservation is worth as capacity: its pool and its quantity (DESIGN §10).

Two reservations can only stand in for each other inside one pool, and their
quantities are compared in the pool's unit:

- size-flexible reservations (regional Linux/UNIX EC2 RIs with default
  tenancy, RDS on size-flexible engines, ElastiCache, MemoryDB) pool by
  family and count normalized units (count x size factor; RDS Multi-AZ x 2);
- every other reserved instance or node pools by its exact type and counts
  instances;
- Savings Plans pool by plan type (and family and region for EC2 Instance
  plans) and count their hourly commitment.

When a type cannot be normalized (an unknown size, a bare ``metal`` of a
family not listed here) it falls back to its exact type: a renewal then has
to match it exactly, which can raise a false alert but never hides a lapse.
Pure functions only; nothing here calls AWS.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from exporter.model import Reservation

NORMALIZED_UNITS = "normalized units"
INSTANCES = "instances"
COMMITMENT = "$/h commitment"

# Normalization factors of the named sizes; "<N>xlarge" is N x 8.
_NAMED_SIZES: Mapping[str, float] = MappingProxyType(
    {"nano": 0.25, "micro": 0.5, "small": 1.0, "medium": 2.0, "large": 4.0, "xlarge": 8.0}
)
_NXLARGE = re.compile(r"(\d+)xlarge")
_METAL_SIZED = re.compile(r"metal-(\d+)xl")  # c7i.metal-24xl, m7i.metal-48xl

# A bare ".metal" counts as its family's largest size. Only families whose
# largest size is certain are listed; others fall back to their exact type.
_METAL_AS_XLARGE: Mapping[str, int] = MappingProxyType(
    {
        **dict.fromkeys(("m5", "m5d", "m5n", "m5dn", "r5", "r5d", "r5n", "r5dn", "r5b"), 24),
        **dict.fromkeys(("c5", "c5d", "i3en"), 24),
        **dict.fromkeys(("m6i", "m6id", "c6i", "c6id", "r6i", "r6id", "i4i"), 32),
        **dict.fromkeys(("m6a", "c6a", "r6a"), 48),
        **dict.fromkeys(("m6g", "m6gd", "c6g", "c6gd", "r6g", "r6gd"), 16),
        **dict.fromkeys(("m7g", "m7gd", "c7g", "c7gd", "r7g", "r7gd"), 16),
        **dict.fromkeys(("i3",), 16),
        **dict.fromkeys(("c5n",), 18),
        **dict.fromkeys(("z1d", "m5zn"), 12),
    }
)

# EC2 families whose regional RIs are not size-flexible (AWS documentation).
_EC2_FIXED_SIZE_FAMILIES = frozenset({"g4ad", "g4dn", "g5", "g5g", "inf1"})
_EC2_FLEXIBLE_PLATFORM = "Linux/UNIX"
_VPC_SUFFIX = " (Amazon VPC)"  # EC2-Classic is gone: the same platform either way

# RDS engines (ProductDescription) whose reservations are size-flexible.
_RDS_FLEXIBLE_ENGINES = frozenset(
    {"mysql", "mariadb", "postgresql", "aurora", "aurora-mysql", "aurora-postgresql"}
)


@dataclass(frozen=True, slots=True)
class Capacity:
    """Where a reservation can be renewed (``pool``) and how much it holds."""

    pool: tuple[str, ...]
    quantity: float
    unit: str


def size_factor(instance_type: str) -> float | None:
    """The normalization factor of ``m5.2xlarge``-style types; None when unknown."""
    family, size = split_type(instance_type)
    if not family or not size:
        return None
    if size in _NAMED_SIZES:
        return _NAMED_SIZES[size]
    match = _NXLARGE.fullmatch(size) or _METAL_SIZED.fullmatch(size)
    if match:
        return 8.0 * int(match.group(1))
    if size == "metal" and family in _METAL_AS_XLARGE:
        return 8.0 * _METAL_AS_XLARGE[family]
    return None


def split_type(instance_type: str) -> tuple[str, str]:
    """(family, size) of ``m5.large``, ``db.r6g.xlarge`` or ``cache.t4g.medium``."""
    parts = instance_type.lower().split(".")
    if parts and parts[0] in ("db", "cache"):
        parts = parts[1:]
    if len(parts) != 2:
        return "", ""
    return parts[0], parts[1]


def capacity_of(service: str, region: str, r: Reservation) -> Capacity:
    """The pool and quantity of ``r``, read in ``region`` from ``service``."""
    if service == "savingsplans":
        return _savings_plan(r)
    count = float(r.instance_count if r.instance_count is not None else 1)
    if service == "ec2":
        return _ec2(region, r, count)
    if service == "rds":
        return _rds(region, r, count)
    if service in ("elasticache", "memorydb"):
        return _flexible(
            (service, region, split_type(r.instance_type)[0], r.product.lower()),
            r.instance_type,
            count,
            fallback=(service, region, r.instance_type, r.product.lower()),
        )
    # OpenSearch, Redshift and anything new: the exact type.
    return Capacity((service, region, r.instance_type), count, INSTANCES)


def _ec2(region: str, r: Reservation, count: float) -> Capacity:
    platform = r.product.removesuffix(_VPC_SUFFIX)
    if r.availability_zone or r.scope.lower() == "availability zone":
        pool = ("ec2", region, r.instance_type, platform, r.tenancy, r.availability_zone)
        return Capacity(pool, count, INSTANCES)
    exact = ("ec2", region, r.instance_type, platform, r.tenancy)
    family = split_type(r.instance_type)[0]
    if (
        platform != _EC2_FLEXIBLE_PLATFORM
        or r.tenancy != "default"
        or family in _EC2_FIXED_SIZE_FAMILIES
    ):
        return Capacity(exact, count, INSTANCES)
    return _flexible(("ec2", region, family, platform), r.instance_type, count, fallback=exact)


def _rds(region: str, r: Reservation, count: float) -> Capacity:
    engine = r.product.lower()
    multi_az = r.multi_az == "true"
    if engine in _RDS_FLEXIBLE_ENGINES or (engine.startswith("oracle") and "byol" in engine):
        family = split_type(r.instance_type)[0]
        return _flexible(
            ("rds", region, family, engine),
            r.instance_type,
            count * (2 if multi_az else 1),
            fallback=("rds", region, r.instance_type, engine, r.multi_az),
            fallback_count=count,
        )
    return Capacity(("rds", region, r.instance_type, engine, r.multi_az), count, INSTANCES)


def _flexible(
    pool: tuple[str, ...],
    instance_type: str,
    count: float,
    *,
    fallback: tuple[str, ...],
    fallback_count: float | None = None,
) -> Capacity:
    factor = size_factor(instance_type)
    if factor is None:
        return Capacity(fallback, count if fallback_count is None else fallback_count, INSTANCES)
    return Capacity(pool, count * factor, NORMALIZED_UNITS)


def _savings_plan(r: Reservation) -> Capacity:
    commitment = r.hourly_cost or 0.0
    if r.plan_type == "EC2Instance":
        pool = ("savingsplans", r.plan_type, r.instance_type, r.region or "", r.currency)
    else:
        pool = ("savingsplans", r.plan_type, r.currency)
    return Capacity(pool, commitment, COMMITMENT)
