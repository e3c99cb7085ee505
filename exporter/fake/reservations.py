"""The reservation listing handlers moto lacks, as methods of moto's own
response classes: moto parses the request and serialises our result for the
service's protocol (ec2, query, json, rest-json)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

from moto.core.responses import ActionResult, BaseResponse

from exporter.fake.catalog import SPECS, ApiSpec
from exporter.fake.service_error import FakeServiceError
from exporter.fake.store import page

# EC2 filter names the fake understands -> record key.
_EC2_FILTERS = {
    "reserved-instances-id": "ReservedInstancesId",
    "state": "State",
    "instance-type": "InstanceType",
    "availability-zone": "AvailabilityZone",
    "scope": "Scope",
    "product-description": "ProductDescription",
    "offering-class": "OfferingClass",
    "offering-type": "OfferingType",
}


def listing(spec: ApiSpec, response: BaseResponse, params: dict[str, Any]) -> ActionResult:
    """One page of the target's records, after the request's id filter."""
    from exporter.fake.state import STATE  # the process-wide fake; import late (cycle)

    account_id, region = response.current_account, response.region
    records = STATE.store.list(account_id, region, spec.service)
    wanted = params.get("ids")
    if wanted:
        records = [r for r in records if r.get(spec.id_key) in wanted]
        if not records and spec.not_found:
            raise FakeServiceError(spec.not_found, f"Reservation {', '.join(wanted)} not found.")
    states = params.get("states")
    if states:
        records = [r for r in records if r.get("state") in states]
    for key, values in (params.get("filters") or {}).items():
        records = [r for r in records if str(r.get(key)) in values]

    kind = STATE.faults.malformation(account_id, region, spec.service)
    if kind == "missing_id" and records:
        records = [{k: v for k, v in records[0].items() if k != spec.id_key}, *records[1:]]

    if spec.token_key is None:
        return ActionResult({spec.result_key: records})
    size = _page_size(spec, params.get("limit"))
    try:
        items, token = page(
            records,
            params.get("token"),
            size,
            stuck=kind == "repeated_token",
            endless=kind == "endless_token",
        )
    except ValueError as exc:
        raise FakeServiceError(spec.invalid_code, str(exc)) from None
    result: dict[str, Any] = {spec.result_key: items}
    if token:
        result[spec.token_key] = token
    return ActionResult(result)


def _page_size(spec: ApiSpec, raw: Any) -> int:
    if raw in (None, ""):
        return spec.page_default
    try:
        size = int(raw)
    except (TypeError, ValueError):
        raise FakeServiceError(spec.invalid_code, f"{spec.limit_key} must be an integer") from None
    if size < spec.page_min or size > spec.page_max:
        if spec.page_min > 1:  # the query APIs refuse out-of-range sizes
            raise FakeServiceError(
                spec.invalid_code,
                f"Invalid value for {spec.limit_key}: {size}. "
                f"Valid values are {spec.page_min} to {spec.page_max}.",
            )
        size = min(max(size, 1), spec.page_max)  # the others cap at their maximum
    return size


# --- per-protocol parameter reading ------------------------------------------------
# Parameters are read from the raw request, not moto's parsed params: moto's
# parsed types and entry points differ between its 5.2.x releases.


def _query(response: BaseResponse) -> dict[str, str]:
    return {k: v[0] for k, v in response.querystring.items() if isinstance(v, list) and v}


def _query_listing(spec: ApiSpec, id_param: str) -> Callable[[BaseResponse], ActionResult]:
    def handler(self: BaseResponse) -> ActionResult:
        q = _query(self)
        ids = [q[id_param]] if q.get(id_param) else None
        return listing(
            spec, self, {"ids": ids, "limit": q.get("MaxRecords"), "token": q.get("Marker")}
        )

    handler.__name__ = _method_name(spec)
    return handler


def _ec2_listing(self: BaseResponse) -> ActionResult:
    q = _query(self)
    ids = [v for k, v in q.items() if k.startswith("ReservedInstancesId.")]
    filters: dict[str, set[str]] = {}
    for key, name in q.items():
        if key.startswith("Filter.") and key.endswith(".Name"):
            prefix = key[: -len("Name")]
            if name not in _EC2_FILTERS:
                raise FakeServiceError("InvalidParameterValue", f"The filter '{name}' is invalid")
            values = {v for k, v in q.items() if k.startswith(prefix + "Value.")}
            filters.setdefault(_EC2_FILTERS[name], set()).update(values)
    for param, record_key in (("OfferingClass", "OfferingClass"), ("OfferingType", "OfferingType")):
        if q.get(param):
            filters.setdefault(record_key, set()).add(q[param])
    return listing(SPECS["ec2"], self, {"ids": ids, "filters": filters})


def _memorydb_listing(self: BaseResponse) -> ActionResult:
    body = json.loads(self.body or "{}")
    ids = [body["ReservationId"]] if body.get("ReservationId") else None
    params = {"ids": ids, "limit": body.get("MaxResults"), "token": body.get("NextToken")}
    return listing(SPECS["memorydb"], self, params)


def _opensearch_listing(self: BaseResponse) -> ActionResult:
    q = {k: v[0] for k, v in parse_qs(self.parsed_url.query, keep_blank_values=True).items()}
    ids = [q["reservationId"]] if q.get("reservationId") else None
    params = {"ids": ids, "limit": q.get("maxResults"), "token": q.get("nextToken")}
    return listing(SPECS["opensearch"], self, params)


def savingsplans_listing(self: BaseResponse) -> ActionResult:
    """DescribeSavingsPlans: global, filtered by ``savingsPlanIds`` and ``states``."""
    body = json.loads(self.body or "{}")
    params = {
        "ids": body.get("savingsPlanIds") or None,
        "states": body.get("states") or None,
        "limit": body.get("maxResults"),
        "token": body.get("nextToken"),
    }
    return listing(SPECS["savingsplans"], self, params)


def _method_name(spec: ApiSpec) -> str:
    from botocore import xform_name

    return xform_name(spec.operation)


def install() -> None:
    """Attach the handlers to moto's response classes (idempotent)."""
    import moto.es.urls
    from moto.ec2.responses import EC2Response
    from moto.elasticache.responses import ElastiCacheResponse
    from moto.memorydb.responses import MemoryDBResponse
    from moto.opensearch.responses import OpenSearchServiceResponse
    from moto.rds.responses import RDSResponse
    from moto.redshift.responses import RedshiftResponse

    handlers: list[tuple[type, ApiSpec, Callable[..., ActionResult]]] = [
        (EC2Response, SPECS["ec2"], _ec2_listing),
        (RDSResponse, SPECS["rds"], _query_listing(SPECS["rds"], "ReservedDBInstanceId")),
        (
            ElastiCacheResponse,
            SPECS["elasticache"],
            _query_listing(SPECS["elasticache"], "ReservedCacheNodeId"),
        ),
        (RedshiftResponse, SPECS["redshift"], _query_listing(SPECS["redshift"], "ReservedNodeId")),
        (MemoryDBResponse, SPECS["memorydb"], _memorydb_listing),
        (OpenSearchServiceResponse, SPECS["opensearch"], _opensearch_listing),
    ]
    for cls, spec, handler in handlers:
        setattr(cls, _method_name(spec), handler)
    # OpenSearch clients sign as "es", so moto routes them to its es backend,
    # whose paths lack the reservation listing. Apps are built lazily, so
    # adding the path before the first request is enough.
    moto.es.urls.url_paths.setdefault(
        "{0}/2021-01-01/opensearch/reservedInstances$", OpenSearchServiceResponse.dispatch
    )
