"""`/Me` (RFC 7644 §3.11): an alias for the User the credential belongs to.

Only an authentication plugin can know that user (its `Principal.user_id`); with plain
provisioning tokens there is none, and the endpoint answers 501 as the RFC allows.
"""

from __future__ import annotations

from flask import Blueprint, request

from ..errors import ScimError
from ..operations import Operations
from ..state import ScimState
from .http import principal, scim_route
from .resources import ITEM_METHODS, Renderer, ResourceItemView


def register(bp: Blueprint, state: ScimState) -> None:
    user_type = next((rt for rt in state.catalog.resource_types if rt.name == "User"), None)
    users = None if user_type is None else ResourceItemView(state, Operations(state), Renderer(state, user_type))

    @scim_route(bp, "/Me", ("POST", *ITEM_METHODS))
    def me_view():
        user_id = principal().user_id
        if users is None or user_id is None:
            raise ScimError("/Me is not available: this credential is not associated with a User",
                            status=501)
        if request.method == "POST":
            # Self-registration through /Me (RFC 7644 §3.11) is not offered.
            raise ScimError("creating the authenticated subject through POST /Me is not supported",
                            status=501)
        return users.dispatch_request(id=user_id)
