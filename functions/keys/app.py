"""Public routes: health, the JWKS every verifier trusts, and the OpenAPI document."""

from __future__ import annotations

from importlib import resources
from typing import Any

from healthcode.codes import keystore
from healthcode.edge.http import json_response, lambda_handler_for, make_app
from healthcode.edge.router import Response
from healthcode.protection.logs import get_logger
from healthcode.settings import policy, settings

logger = get_logger("keys")
app = make_app()


@app.get("/v1/health")
def health() -> Response[str]:
    """Liveness plus configuration: the province answered, and its policy validates."""
    policy()
    return json_response(200, {"status": "ok", "province": settings().province})


@app.get("/.well-known/jwks.json")
def jwks() -> Response[str]:
    """Every public key that may have signed a live code; verifiers may cache it for 5 minutes."""
    max_age = keystore.JWKS_MAX_AGE_SECONDS
    return json_response(200, keystore.jwks(), {"Cache-Control": f"public, max-age={max_age}"})


@app.get("/v1/openapi.json")
def openapi() -> Response[str]:
    document = (resources.files("healthcode") / "data" / "openapi.json").read_text(encoding="utf-8")
    return Response(status_code=200, content_type="application/json; charset=utf-8", body=document)


lambda_handler: Any = lambda_handler_for(app, logger)
