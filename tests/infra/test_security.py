"""The security properties of the deployment, asserted on the parsed templates."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from tree_sitter import Node

from devhost.interpreter import is_start_setting
from shared.settings import Settings
from tests.conftest import REPO_ROOT
from tests.infra.bicep import BicepFile, Call, Decl, Expr, Ternary, value
from tests.infra.conftest import bicep_paths

ROLES = {
    "b7e6dc6d-f1e8-4753-8033-0f276bb0955b": "Storage Blob Data Owner",
    "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1": "Storage Blob Data Reader",
    "974c5e8b-45b9-4653-ba55-5f855dd0fb88": "Storage Queue Data Contributor",
    "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3": "Storage Table Data Contributor",
    "3913510d-42f4-4e42-8a64-420c390055eb": "Monitoring Metrics Publisher",
    "5e0bd9bd-7b93-4f28-af87-19fc36ad61bd": "Cognitive Services OpenAI User",
    "4633458b-17de-408a-b874-0445c86b69e6": "Key Vault Secrets User",
    "b86a8fe4-44ce-4948-aee5-eccb2c155cd7": "Key Vault Secrets Officer",
    "8ebe5a00-799e-43f5-93ac-243d3dce84a7": "Search Index Data Contributor",
    "7ca78c08-252a-4471-8644-bb5ff32d4ba0": "Search Service Contributor",
    "1407120a-92aa-4202-b7e9-c0e197c71c8f": "Search Index Data Reader",
}
# (role, type of the resource it is scoped to, who) — the whole list of grants, nothing broader.
GRANTS = {
    ("Storage Blob Data Owner", "Microsoft.Storage/storageAccounts", "identityPrincipalId"),
    ("Storage Queue Data Contributor", "Microsoft.Storage/storageAccounts", "identityPrincipalId"),
    ("Storage Table Data Contributor", "Microsoft.Storage/storageAccounts", "identityPrincipalId"),
    ("Storage Blob Data Reader", "Microsoft.Storage/storageAccounts/blobServices/containers", "operatorPrincipalId"),
    ("Monitoring Metrics Publisher", "Microsoft.Insights/components", "identityPrincipalId"),
    ("Cognitive Services OpenAI User", "Microsoft.CognitiveServices/accounts", "identityPrincipalId"),
    ("Key Vault Secrets User", "Microsoft.KeyVault/vaults", "identityPrincipalId"),
    ("Key Vault Secrets Officer", "Microsoft.KeyVault/vaults", "operatorPrincipalId"),
    ("Search Index Data Contributor", "Microsoft.Search/searchServices", "identityPrincipalId"),
    ("Search Service Contributor", "Microsoft.Search/searchServices", "identityPrincipalId"),
    ("Search Index Data Reader", "Microsoft.Search/searchServices", "operatorPrincipalId"),
}


def code(path_text: str) -> str:
    """Template text without // comments."""
    return "\n".join(line.split("//")[0] for line in path_text.splitlines())


@pytest.mark.parametrize("path", bicep_paths(), ids=lambda p: p.name)
def test_no_keys_anywhere(path: Path) -> None:
    text = code(path.read_text())
    for pattern in (r"listKeys\s*\(", r"listAccountSas", r"listServiceSas", r"AccountKey\s*=", r"SharedAccessKey",
                    r"DefaultEndpointsProtocol", r"\.primaryKey\b", r"\.key1\b", r"@secure\(\)"):
        assert not re.search(pattern, text), f"{path.name}: {pattern}"


def test_storage_account_is_keyless_and_encrypted_in_transit(templates: dict[str, BicepFile]) -> None:
    storage = templates["storage"]
    props = storage.resource("Microsoft.Storage/storageAccounts").value["properties"]
    assert props["allowSharedKeyAccess"] is False
    assert props["defaultToOAuthAuthentication"] is True
    assert props["supportsHttpsTrafficOnly"] is True
    assert props["minimumTlsVersion"] == "TLS1_2"
    assert props["allowBlobPublicAccess"] is False
    containers = storage.resources("Microsoft.Storage/storageAccounts/blobServices/containers")
    assert len(containers) == 2 and all(c.value["properties"]["publicAccess"] == "None" for c in containers)


def test_other_services_refuse_keys(templates: dict[str, BicepFile]) -> None:
    openai = templates["openai"].resource("Microsoft.CognitiveServices/accounts").value
    assert openai["kind"] == "OpenAI" and openai["properties"]["disableLocalAuth"] is True
    insights = templates["monitoring"].resource("Microsoft.Insights/components").value
    assert insights["properties"]["DisableLocalAuth"] is True
    vault = templates["keyvault"].resource("Microsoft.KeyVault/vaults").value["properties"]
    assert vault["enableRbacAuthorization"] is True and vault["enableSoftDelete"] is True
    search = templates["search"].resource("Microsoft.Search/searchServices").value
    assert search["properties"]["disableLocalAuth"] is True and "authOptions" not in search["properties"]
    assert search["sku"]["name"] == Expr("sku")  # the tier is a parameter


def test_the_search_index_is_deployed_with_the_settings_that_select_it(templates: dict[str, BicepFile]) -> None:
    main = templates["main"]
    settings = main.vars["searchSettings"].value.text
    assert "HARVEST_INDEX: 'azure-search'" in settings
    assert "HARVEST_SEARCH_ENDPOINT: search.outputs.endpoint" in settings
    assert "HARVEST_INDEX: 'none'" in settings  # without the service, no index (not a LanceDB on the app's disk)
    assert "searchSettings" in main.vars["harvestSettings"].value.text


def test_function_app_is_flex_python_https_only(templates: dict[str, BicepFile]) -> None:
    app = templates["functionapp"]
    plan = app.resource("Microsoft.Web/serverfarms").value
    assert plan["sku"] == {"tier": "FlexConsumption", "name": "FC1"} and plan["properties"]["reserved"] is True
    site = app.resource("Microsoft.Web/sites").value
    assert site["kind"] == "functionapp,linux"
    props = site["properties"]
    assert props["httpsOnly"] is True
    assert props["siteConfig"]["minTlsVersion"] == "1.2" and props["siteConfig"]["scmMinTlsVersion"] == "1.2"
    assert props["siteConfig"]["ftpsState"] == "Disabled"
    config = props["functionAppConfig"]
    assert config["runtime"]["name"] == "python" and config["runtime"]["version"] == Expr("pythonVersion")
    assert app.params["pythonVersion"].value == "3.13"  # the version requirements.txt pins the worker for
    deployment = config["deployment"]["storage"]
    assert deployment["type"] == "blobContainer"
    assert deployment["authentication"] == {"type": "UserAssignedIdentity",
                                            "userAssignedIdentityResourceId": Expr("identityId")}
    assert site["identity"]["type"] == "UserAssigned"
    assert props["keyVaultReferenceIdentity"] == Expr("identityId")  # Key Vault references use the same identity
    basic = {p.value["name"]: p.value["properties"]["allow"]
             for p in app.resources("Microsoft.Web/sites/basicPublishingCredentialsPolicies")}
    assert basic == {"ftp": False, "scm": False}


def test_app_settings_are_identity_based(templates: dict[str, BicepFile]) -> None:
    app = templates["functionapp"]
    settings = app.resource("Microsoft.Web/sites/config").value
    assert settings["name"] == "appsettings"
    merged = settings["properties"]
    assert isinstance(merged, Call) and merged.name == "union"
    assert merged.args[-1] == Expr("platformSettings"), "identity settings must be applied last (cannot be overridden)"
    platform = app.vars["platformSettings"].value
    assert platform["AzureWebJobsStorage__accountName"] == Expr("storage.name")
    assert platform["AzureWebJobsStorage__credential"] == "managedidentity"
    assert platform["AzureWebJobsStorage__clientId"] == Expr("identityClientId")
    assert platform["AZURE_CLIENT_ID"] == Expr("identityClientId")  # DefaultAzureCredential picks the identity
    assert platform["HARVEST_STORAGE_ACCOUNT_URL"] == Expr("storage.properties.primaryEndpoints.blob")
    assert platform["APPLICATIONINSIGHTS_AUTHENTICATION_STRING"] == Expr(
        "'ClientId=${identityClientId};Authorization=AAD'")
    main = templates["main"]
    passed = main.modules["app"].value["params"]
    assert passed["identityClientId"] == Expr("identity.outputs.clientId")
    assert passed["identityId"] == Expr("identity.outputs.id")


def objects_in(decl: Decl) -> dict[str, Any]:
    """Every top-level object literal in a declaration (the arms of unions and ternaries), merged."""
    found: dict[str, Any] = {}

    def walk(node: Node) -> None:
        if node.type == "object" and node.parent is not None and node.parent.type != "object_property":
            found.update(value(node))
        for child in node.named_children:
            walk(child)

    walk(decl.node)
    return found


def app_settings(templates: dict[str, BicepFile]) -> dict[str, Any]:
    """Every app setting the templates write by name (secretSettings and extraAppSettings are inputs)."""
    main, app = templates["main"], templates["functionapp"]
    return {**objects_in(main.vars["harvestSettings"]), **objects_in(main.vars["openAISettings"]),
            **objects_in(app.vars["platformSettings"])}


def test_no_setting_carries_a_key(templates: dict[str, BicepFile]) -> None:
    settings = app_settings(templates)
    forbidden = {"AzureWebJobsStorage", "FUNCTIONS_WORKER_RUNTIME", "FUNCTIONS_EXTENSION_VERSION",
                 "WEBSITE_CONTENTAZUREFILECONNECTIONSTRING", "AZURE_OPENAI_API_KEY", "HARVEST_STORAGE_CONNECTION",
                 "HARVEST_AZURE_OPENAI_API_KEY_SETTING"}
    assert len(settings) >= 12 and not forbidden & set(settings), forbidden & set(settings)
    for name, val in settings.items():
        text = val.text if isinstance(val, Expr) else str(val)
        assert not re.search(r"(?i)accountkey|sharedaccess|\bsig=|password|secret|listkeys", text), name
        if re.search(r"(?i)connection_?string", name):
            assert name == "APPLICATIONINSIGHTS_CONNECTION_STRING"  # an endpoint + resource id, no credential
            assert val == Expr("applicationInsightsConnectionString")


def test_harvest_settings_written_by_bicep_exist(templates: dict[str, BicepFile]) -> None:
    main = templates["main"]
    names = {name for name in app_settings(templates) if name.startswith("HARVEST_")}
    known = {f"HARVEST_{field.upper()}" for field in Settings.model_fields}
    assert names <= known, names - known
    assert {"HARVEST_EMBEDDER", "HARVEST_AZURE_OPENAI_ENDPOINT", "HARVEST_AZURE_OPENAI_DEPLOYMENT",
            "HARVEST_AZURE_OPENAI_MODEL", "HARVEST_AZURE_OPENAI_DIMENSIONS"} <= names
    embedder = main.vars["harvestSettings"].value.args[0]["HARVEST_EMBEDDER"]
    assert isinstance(embedder, Ternary)
    assert (embedder.condition, embedder.yes, embedder.no) == (Expr("deployOpenAI"), "azure-openai", "e5-small")


def test_secrets_come_from_key_vault_references(templates: dict[str, BicepFile]) -> None:
    app = templates["functionapp"]
    refs = app.vars["secretReferences"].value.text
    assert "toObject(secretSettings" in refs and "@Microsoft.KeyVault(VaultName=${keyVaultName};SecretName=" in refs
    passed = templates["main"].modules["app"].value["params"]
    vault = passed["keyVaultName"]
    assert isinstance(vault, Ternary)
    assert (vault.condition, vault.yes, vault.no) == (Expr("deployKeyVault"), Expr("keyVault.outputs.name"), "")


def test_role_assignments_are_scoped_to_their_resource(templates: dict[str, BicepFile]) -> None:
    grants = set()
    for template in templates.values():
        assignments = template.resources("Microsoft.Authorization/roleAssignments")
        if template.target_scope != "resourceGroup":
            assert not assignments, f"{template.path.name}: role assignment at {template.target_scope} scope"
        declared = {r.name: r for r in template.resources()}
        for assignment in assignments:
            body = assignment.value
            scope = body.get("scope")
            assert isinstance(scope, Expr) and scope.text in declared, f"{assignment.name}: scope {scope}"
            target = declared[scope.text]
            props = body["properties"]
            role_call = props["roleDefinitionId"]
            assert isinstance(role_call, Call) and role_call.name == "subscriptionResourceId"
            role_id = template.vars[role_call.args[1].text].value
            assert role_id in ROLES, f"{assignment.name}: role {role_id} is not one of the expected roles"
            assert body["name"] == Call(f"guid({scope.text}.id, {props['principalId'].text}, {role_call.args[1].text})",
                                        "guid", body["name"].args), assignment.name
            grants.add((ROLES[role_id], str(target.type).split("@")[0], props["principalId"].text))
            if props["principalId"].text == "identityPrincipalId":
                assert props["principalType"] == "ServicePrincipal"
    assert grants == GRANTS


def test_main_is_an_azd_subscription_template(templates: dict[str, BicepFile]) -> None:
    main = templates["main"]
    assert main.target_scope == "subscription"
    assert all(m.value["scope"] == Expr("rg") for m in main.modules.values())
    assert main.params["location"].decorators["metadata"] == [{"azd": {"type": "location"}}]
    assert {"environmentName", "location"} == {n for n, p in main.params.items() if not p.has_default}
    assert main.params["deployOpenAI"].value is False and main.params["deployKeyVault"].value is False
    assert {"AZURE_LOCATION", "AZURE_RESOURCE_GROUP", "AZURE_FUNCTION_APP_NAME", "HARVEST_URL",
            "HARVEST_STORAGE_ACCOUNT_URL", "AZURE_OPENAI_ENDPOINT", "AZURE_KEY_VAULT_NAME"} <= set(main.outputs)
    assert main.modules["openai"].condition == Expr("(deployOpenAI)")
    assert main.modules["keyVault"].condition == Expr("(deployKeyVault)")


def test_the_allocator_is_opt_in_and_the_one_the_local_host_uses(templates: dict[str, BicepFile]) -> None:
    """Issue 21 item 6: no app setting may stop the worker from starting. Whether the Python that Flex
    Consumption runs has mimalloc was never checked on an instance, and without it the worker dies ("Fatal
    Python error"), so Azure starts with CPython's default allocator unless useMimalloc is set; turned on, it
    deploys exactly what the local host runs with (local.settings.json, checked by devhost/interpreter.py)."""
    main = templates["main"]
    assert main.params["useMimalloc"].value is False and main.params["useMimalloc"].type == "bool"
    allocator = main.vars["allocatorSettings"].value
    assert isinstance(allocator, Ternary) and allocator.condition == Expr("useMimalloc") and allocator.no == {}
    local = json.loads((REPO_ROOT / "local.settings.json").read_text())["Values"]
    wanted = {k: v for k, v in local.items() if is_start_setting(k)}
    assert wanted["PYTHONMALLOC"] == "mimalloc" and allocator.yes == wanted
    assert "allocatorSettings" in main.vars["harvestSettings"].value.text  # and deployed when on
    parameters = json.loads((REPO_ROOT / "infra" / "main.parameters.json").read_text())["parameters"]
    assert parameters["useMimalloc"]["value"] == "${HARVEST_USE_MIMALLOC=false}"
