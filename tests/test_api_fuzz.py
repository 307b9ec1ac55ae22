"""OpenAPI fuzzing with schemathesis (bounded for CI): generated requests for every operation, as an admin on a
store with real calls, must never produce a server error or a stack trace."""

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from storekit import load, variant

from api.main import Settings, create_app
from qa.store import open_store
from qa.store.users import add_user

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def fuzz_app(sample_docs, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("fuzz")
    store = open_store(f"sqlite:///{tmp / 'qa.db'}")
    load(store, [variant(sample_docs["pothole_report"], 1, "A1", "east", "2026-11-02T10:00:00")])
    key = add_user(store, "fuzzer", "admin")
    app = create_app(store, Settings(data_dir=tmp / "data", worker=False, max_upload_bytes=2**20))
    app.state.fuzz_key = key
    return app


def test_no_server_errors(fuzz_app):
    """Every operation of the OpenAPI document, 8 generated requests each (derandomized: the same in every run)."""
    from hypothesis import given

    schema = schemathesis.openapi.from_asgi("/openapi.json", fuzz_app)
    headers = {"Authorization": f"Bearer {fuzz_app.state.fuzz_key}"}
    operations = [r.ok() for r in schema.get_all_operations()]
    assert len(operations) >= 20
    for op in operations:

        @given(case=op.as_strategy())
        @settings(
            max_examples=8, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True, database=None
        )
        def run(case):
            response = case.call(headers=headers)
            case.validate_response(response, checks=[not_a_server_error])
            assert b"Traceback" not in response.content

        run()
