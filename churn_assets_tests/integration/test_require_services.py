"""CHURN_REQUIRE_SERVICES=1 turns every "service/module/data missing" skip into a failure."""

import pytest
from _pytest.outcomes import Failed, Skipped

from churn_assets_tests.integration.services import (
    REQUIRE_SERVICES_ENV,
    require_module,
    require_service,
)

MISSING = "churn_no_such_module_xyz"


@pytest.mark.parametrize(("required", "outcome"), [("1", Failed), ("", Skipped), ("0", Skipped)])
def test_missing_module_skips_or_fails(monkeypatch, required, outcome):
    monkeypatch.setenv(REQUIRE_SERVICES_ENV, required)
    with pytest.raises(outcome, match="needed for the test"):
        require_module(MISSING, "needed for the test")


def test_present_module_is_returned(monkeypatch):
    monkeypatch.setenv(REQUIRE_SERVICES_ENV, "1")
    assert require_module("json", "json").dumps([1]) == "[1]"


@pytest.mark.parametrize(("required", "outcome"), [("1", Failed), ("", Skipped)])
def test_missing_service_skips_or_fails(monkeypatch, required, outcome):
    monkeypatch.setenv(REQUIRE_SERVICES_ENV, required)
    with pytest.raises(outcome, match="moto_server not found"):
        require_service(False, "moto_server not found")
    require_service(True, "never raised")
