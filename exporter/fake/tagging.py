"""Reservation tags through each service's own tag API: RDS and ElastiCache
``ListTagsForResource``, MemoryDB ``ListTags``.

moto implements these calls for its own resources (clusters, snapshots...);
an ARN of a reservation is answered here from the fake's store, any other
ARN still goes to moto.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from moto.core.responses import ActionResult, BaseResponse

from exporter.fake.catalog import SPECS, ApiSpec
from exporter.fake.service_error import FakeServiceError

_WRAPPED = "_fake_reservation_tags"


def is_reservation_arn(spec: ApiSpec, arn: str | None) -> bool:
    """Whether ``arn`` names a reservation of ``spec``'s service (any account, region)."""
    if not arn or spec.arn_prefix is None:
        return False
    parts = arn.split(":", 5)
    return (
        len(parts) == 6
        and parts[0] == "arn"
        and parts[2] == spec.signing_name
        and parts[5].startswith(spec.arn_prefix)
        and len(parts[5]) > len(spec.arn_prefix)
    )


def tag_list(spec: ApiSpec, response: BaseResponse, arn: str) -> ActionResult:
    """``TagList`` of one reservation of the caller's account and region."""
    from exporter.fake.state import STATE  # the process-wide fake; import late (cycle)

    tags = STATE.store.tags_by_arn(response.current_account, response.region, spec.service, arn)
    if tags is None:
        assert spec.tags_not_found is not None
        reservation_id = arn.split(":", 5)[5][len(spec.arn_prefix or "") :]
        raise FakeServiceError(spec.tags_not_found, f"Reservation {reservation_id} not found.")
    return ActionResult({"TagList": [{"Key": k, "Value": v} for k, v in tags.items()]})


def _query_arn(name: str) -> Callable[[BaseResponse], str | None]:
    def read(response: BaseResponse) -> str | None:
        values = response.querystring.get(name)
        return values[0] if isinstance(values, list) and values else None

    return read


def _json_arn(name: str) -> Callable[[BaseResponse], str | None]:
    def read(response: BaseResponse) -> str | None:
        try:
            body = json.loads(response.body or "{}")
        except ValueError:
            return None
        value = body.get(name) if isinstance(body, dict) else None
        return value if isinstance(value, str) else None

    return read


def _wrap(
    cls: type, method: str, spec: ApiSpec, arn_of: Callable[[BaseResponse], str | None]
) -> None:
    original: Callable[[BaseResponse], Any] = getattr(cls, method)
    if getattr(original, _WRAPPED, False):
        return

    def handler(self: BaseResponse) -> Any:
        arn = arn_of(self)
        if arn is not None and is_reservation_arn(spec, arn):
            return tag_list(spec, self, arn)
        return original(self)

    handler.__name__ = method
    setattr(handler, _WRAPPED, True)
    setattr(cls, method, handler)


def install() -> None:
    """Put the reservation tag answers in front of moto's tag calls (idempotent)."""
    from moto.elasticache.responses import ElastiCacheResponse
    from moto.memorydb.responses import MemoryDBResponse
    from moto.rds.responses import RDSResponse

    _wrap(RDSResponse, "list_tags_for_resource", SPECS["rds"], _query_arn("ResourceName"))
    _wrap(
        ElastiCacheResponse,
        "list_tags_for_resource",
        SPECS["elasticache"],
        _query_arn("ResourceName"),
    )
    _wrap(MemoryDBResponse, "list_tags", SPECS["memorydb"], _json_arn("ResourceArn"))
