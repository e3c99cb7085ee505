"""What each service module declares for doctor and iam/: its IAM action and its
probe, checked against botocore's own service models."""

from __future__ import annotations

import botocore.session
import pytest

from exporter.services import REGISTRY
from exporter.services.base import ServiceSpec

_SESSION = botocore.session.get_session()
SPECS = pytest.mark.parametrize("spec", list(REGISTRY.values()), ids=list(REGISTRY))


@SPECS
def test_the_iam_action_is_the_signing_name_and_the_operation(spec: ServiceSpec) -> None:
    # IAM's prefix is the SigV4 signing name: "es" for OpenSearch, the client name elsewhere.
    model = _SESSION.get_service_model(spec.client_name)
    assert spec.iam_action == f"{model.signing_name}:{spec.operation}"


@SPECS
def test_the_probe_sends_only_members_of_the_operations_input(spec: ServiceSpec) -> None:
    members = _SESSION.get_service_model(spec.client_name).operation_model(spec.operation)
    assert set(spec.probe_args) <= set(members.input_shape.members)
    assert spec.probe_args, "a probe asks for the smallest page (or a DryRun), never a full listing"
