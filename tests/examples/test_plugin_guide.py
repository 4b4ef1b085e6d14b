"""docs/plugins.md: the hook examples of section 6 run as written."""

from __future__ import annotations

import logging
import re
import types
from pathlib import Path

from scimflask import create_app

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "plugins.md"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
ACME = "urn:example:params:scim:schemas:extension:acme:2.0:User"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def guide_module() -> tuple[types.ModuleType, list[str]]:
    """The guide's hooks example as a module, with the app functions it calls stubbed."""
    blocks = re.findall(r"```python\n(.*?)```", GUIDE.read_text(encoding="utf-8"), re.S)
    (source,) = [b for b in blocks if "def scimflask_resource_changed" in b]
    revoked: list[str] = []
    module = types.ModuleType("acme_scim_hooks")
    module.revoke_sessions = revoked.append
    module.audit_log = logging.getLogger("acme.audit")
    exec(compile(source, str(GUIDE), "exec"), module.__dict__)
    return module, revoked


def test_the_guides_hooks_work_as_documented():
    module, revoked = guide_module()
    app = create_app({"SCIM_STORAGE_URI": "memory://", "SCIM_PLUGINS": [module],
                      "ACME_INTERNAL_KEY": "internal-key"})
    client = app.test_client()
    key = {"X-Acme-Key": "internal-key"}
    assert client.get("/scim/v2/Users", headers={"X-Acme-Key": "wrong"}).status_code == 401
    schemas = client.get("/scim/v2/Schemas", headers=key).get_json()
    assert ACME in [s["id"] for s in schemas["Resources"]]
    created = client.post("/scim/v2/Users", headers=key, json={
        "schemas": [USER, ACME], "userName": "ada", ACME: {"badgeNumber": "42"}})
    assert created.status_code == 201, created.get_json()
    id = created.get_json()["id"]
    found = client.get("/scim/v2/Users", headers=key, query_string={"filter": f'{ACME}:badgeNumber eq "42"'})
    assert [r["id"] for r in found.get_json()["Resources"]] == [id]
    assert revoked == []
    client.patch(f"/scim/v2/Users/{id}", headers=key, json={
        "schemas": [PATCH], "Operations": [{"op": "Replace", "path": "active", "value": "False"}]})
    assert revoked == [id]
