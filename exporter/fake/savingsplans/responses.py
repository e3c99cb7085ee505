"""Request handling for the Savings Plans service (rest-json)."""

from __future__ import annotations

from moto.core.responses import ActionResult, BaseResponse

from exporter.fake.reservations import savingsplans_listing


class SavingsPlansResponse(BaseResponse):
    """moto dispatches on the operation botocore's model routes the path to."""

    def __init__(self) -> None:
        super().__init__(service_name="savingsplans")

    def describe_savings_plans(self) -> ActionResult:
        return savingsplans_listing(self)
