"""Which reservation services Cost Explorer lists, by its SERVICE dimension."""

from __future__ import annotations

# service label -> Cost Explorer's SERVICE value for GetReservationUtilization.
RI_SERVICES = {
    "ec2": "Amazon Elastic Compute Cloud - Compute",
    "rds": "Amazon Relational Database Service",
    "elasticache": "Amazon ElastiCache",
    "redshift": "Amazon Redshift",
    "opensearch": "Amazon OpenSearch Service",
    "memorydb": "Amazon MemoryDB",
}
SAVINGS_PLANS = "savingsplans"

# What AWS charges per request (each page counts).
PRICE_PER_REQUEST = 0.01
