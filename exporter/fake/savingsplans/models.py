"""The Savings Plans backend: a global service, one us-east-1 backend per account.

Plans themselves live in the fake's reservation store with every other
reservation, so seeding, reset and faults treat them alike.
"""

from __future__ import annotations

from moto.core.base_backend import BackendDict, BaseBackend


class SavingsPlansBackend(BaseBackend):
    """Holds no state of its own; moto needs one to route and build the app."""


savingsplans_backends = BackendDict(
    SavingsPlansBackend, "savingsplans", use_boto3_regions=False, additional_regions=["us-east-1"]
)
