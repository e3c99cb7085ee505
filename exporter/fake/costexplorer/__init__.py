"""Cost Explorer's reservation reads, added to moto's ``ce`` backend and
answered from the reservations the fake holds.

- ``GetReservationUtilization`` grouped by ``SUBSCRIPTION_ID``
  (``reservations``): one group per RI of every account the caller sees, with
  Cost Explorer's attribute map (``accountId``, ``leaseId``, ``endDateTime``...)
  and its utilization.
- ``GetSavingsPlansUtilizationDetails`` (``savings_plans``): one entry per
  Savings Plan.

Who sees what: the management account of an organization sees every account
of it (moto's Organizations, filled by ``add_org_account``); a member account
is refused with ``AccessDeniedException``; an account in no organization
sees its own. Only active and retired purchases appear, and only those active
for part of the requested period: Cost Explorer never lists queued,
payment-pending, payment-failed or returned ones.

Numbers are strings, as Cost Explorer sends them, derived from the period,
the reservation's count and prices and its utilization (``ceplan``).
"""

from __future__ import annotations


def install() -> None:
    """Add both reads to moto's Cost Explorer responses (idempotent)."""
    from moto.ce.responses import CostExplorerResponse

    from exporter.fake.costexplorer.reservations import get_reservation_utilization
    from exporter.fake.costexplorer.savings_plans import get_savings_plans_utilization_details

    CostExplorerResponse.get_reservation_utilization = get_reservation_utilization  # type: ignore[attr-defined]
    CostExplorerResponse.get_savings_plans_utilization_details = (  # type: ignore[attr-defined]
        get_savings_plans_utilization_details
    )
