"""The OpenAPI document Keyward serves, checked by openapi-spec-validator as strict generators
check it: valid OpenAPI 3.1, every response described, operation ids unique."""

import requests
from openapi_spec_validator import OpenAPIV31SpecValidator


def test_the_served_document_is_valid(server):
    doc = requests.get(f"{server.base}/openapi.json", timeout=30).json()
    errors = [e.message for e in OpenAPIV31SpecValidator(doc).iter_errors()]
    assert errors == [], errors[:10]
    operations = [op for item in doc["paths"].values() for op in item.values() if isinstance(op, dict)]
    assert all(r.get("description") for op in operations for r in op["responses"].values())
    ids = [op["operationId"] for op in operations]
    assert len(ids) == len(set(ids))
    assert doc["servers"] and "client_secret_basic" in doc["components"]["securitySchemes"]
