// Harvest on Azure: `azd up` (or `az deployment sub create -f infra/main.bicep`) provisions everything the
// app needs in one resource group. Nothing here holds a key: the app's user-assigned identity reaches
// storage, Azure OpenAI, Key Vault and Application Insights through role assignments scoped to each resource.
targetScope = 'subscription'

@description('Name of the environment (azd: AZURE_ENV_NAME); names the resource group and seeds unique names.')
@minLength(1)
@maxLength(64)
param environmentName string

@description('Region of every resource; it must offer Flex Consumption (and the embedding model, if deployed here).')
@minLength(1)
@metadata({
  azd: {
    type: 'location'
  }
})
param location string

@description('Resource group to create or update; empty = rg-<environmentName>.')
param resourceGroupName string = ''

@description('Object id of the operator (azd passes the signed-in user): may read the corpus and manage Key Vault secrets. Empty = nobody.')
param principalId string = ''

@description('Kind of principal principalId is (ServicePrincipal when a pipeline deploys).')
@allowed([
  'User'
  'ServicePrincipal'
])
param principalType string = 'User'

@description('Deploy an Azure OpenAI account with an embedding deployment and embed with it (HARVEST_EMBEDDER=azure-openai). false keeps the offline e5-small model.')
param deployOpenAI bool = false

@description('Embedding model to deploy when deployOpenAI is true.')
@allowed([
  'text-embedding-3-small'
  'text-embedding-3-large'
  'text-embedding-ada-002'
])
param openAIModel string = 'text-embedding-3-small'

@description('Model version; empty = 1 for text-embedding-3-*, 2 for text-embedding-ada-002.')
param openAIModelVersion string = ''

@description('Deployment type of the embedding model.')
@allowed([
  'Standard'
  'GlobalStandard'
])
param openAISkuName string = 'Standard'

@description('Capacity of the embedding deployment in thousands of tokens per minute (quota permitting).')
@minValue(1)
@maxValue(1000)
param openAICapacity int = 120

@description('Vector size for text-embedding-3 models (HARVEST_AZURE_OPENAI_DIMENSIONS); 0 = the model default.')
@minValue(0)
@maxValue(3072)
param openAIDimensions int = 0

@description('Region of the Azure OpenAI account; empty = location.')
param openAILocation string = ''

@description('Deploy Azure AI Search and publish the live chunks to it (HARVEST_INDEX=azure-search). false = no search index in Azure (HARVEST_INDEX=none).')
param deploySearch bool = true

@description('Pricing tier of the search service (basic or higher for production; free for a trial).')
@allowed([
  'free'
  'basic'
  'standard'
  'standard2'
  'standard3'
  'storage_optimized_l1'
  'storage_optimized_l2'
])
param searchSku string = 'basic'

@description('Name readers query: the index alias (HARVEST_INDEX_NAME); each model\'s index is named after it.')
@minLength(1)
@maxLength(48)
param searchIndexName string = 'chunks'

@description('Deploy a Key Vault for source and notification secrets, read through Key Vault references.')
param deployKeyVault bool = false

@description('App settings whose values come from Key Vault secrets, e.g. [{ setting: \'NEWS_API_TOKEN\', secret: \'news-api-token\' }]. Needs deployKeyVault.')
param secretSettings array = []

@description('Blob container of the corpus, source state and run records (HARVEST_CONTAINER).')
@minLength(3)
@maxLength(63)
param corpusContainerName string = 'harvest'

@description('NCRONTAB (seconds first, UTC) of the daily run (HARVEST_SCHEDULE).')
param schedule string = '0 0 2 * * *'

@description('Further Harvest app settings, e.g. { HARVEST_BATCH_SIZE: \'32\' }; identity and storage settings cannot be overridden.')
param extraAppSettings object = {}

@description('Most instances the Function App scales out to (caps spend).')
@minValue(1)
@maxValue(1000)
param maximumInstanceCount int = 40

@description('Memory of each Function App instance in MB.')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

@description('Always-ready instances for the durable group (orchestrators, activities, entities): 1 is what Microsoft recommends for Durable Functions on Flex Consumption (no cold start per hop); 0 lets the app scale to zero (billed baseline gone, cold starts back).')
@minValue(0)
@maxValue(20)
param durableAlwaysReady int = 1

@description('Start the Python worker under mimalloc (PYTHONMALLOC=mimalloc, MIMALLOC_PURGE_DELAY=0, MIMALLOC_ABANDONED_PAGE_PURGE=1): flat memory over long runs, as measured locally. Off by default: Flex Consumption\'s Python build was not checked to include mimalloc, and a worker whose allocator is missing does not start (docs/deploy.md).')
param useMimalloc bool = false

var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = {
  'azd-env-name': environmentName
  app: 'harvest'
}
var deploymentContainerName = 'app-package-${take(resourceToken, 8)}'
var modelVersion = !empty(openAIModelVersion) ? openAIModelVersion : (openAIModel == 'text-embedding-ada-002' ? '2' : '1')

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: !empty(resourceGroupName) ? resourceGroupName : 'rg-${environmentName}'
  location: location
  tags: tags
}

module identity 'modules/identity.bicep' = {
  name: 'identity'
  scope: rg
  params: {
    name: 'id-harvest-${resourceToken}'
    location: location
    tags: tags
  }
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    logAnalyticsName: 'log-harvest-${resourceToken}'
    applicationInsightsName: 'appi-harvest-${resourceToken}'
    location: location
    tags: tags
    identityPrincipalId: identity.outputs.principalId
  }
}

module storage 'modules/storage.bicep' = {
  name: 'storage'
  scope: rg
  params: {
    name: 'st${resourceToken}'
    location: location
    tags: tags
    deploymentContainerName: deploymentContainerName
    corpusContainerName: corpusContainerName
    identityPrincipalId: identity.outputs.principalId
    operatorPrincipalId: principalId
    operatorPrincipalType: principalType
  }
}

module openai 'modules/openai.bicep' = if (deployOpenAI) {
  name: 'openai'
  scope: rg
  params: {
    name: 'oai-harvest-${resourceToken}'
    location: !empty(openAILocation) ? openAILocation : location
    tags: tags
    deploymentName: openAIModel
    model: openAIModel
    modelVersion: modelVersion
    skuName: openAISkuName
    capacity: openAICapacity
    identityPrincipalId: identity.outputs.principalId
  }
}

module keyVault 'modules/keyvault.bicep' = if (deployKeyVault) {
  name: 'keyvault'
  scope: rg
  params: {
    name: 'kv-${resourceToken}'
    location: location
    tags: tags
    identityPrincipalId: identity.outputs.principalId
    operatorPrincipalId: principalId
    operatorPrincipalType: principalType
  }
}

module search 'modules/search.bicep' = if (deploySearch) {
  name: 'search'
  scope: rg
  params: {
    name: 'srch-harvest-${resourceToken}'
    location: location
    tags: tags
    sku: searchSku
    identityPrincipalId: identity.outputs.principalId
    operatorPrincipalId: principalId
    operatorPrincipalType: principalType
  }
}

var searchSettings = deploySearch ? {
  HARVEST_INDEX: 'azure-search'
  HARVEST_SEARCH_ENDPOINT: search.outputs.endpoint
  HARVEST_INDEX_NAME: searchIndexName
} : {
  HARVEST_INDEX: 'none'
}

var openAISettings = deployOpenAI ? union({
  HARVEST_AZURE_OPENAI_ENDPOINT: openai.outputs.endpoint
  HARVEST_AZURE_OPENAI_DEPLOYMENT: openai.outputs.deploymentName
  HARVEST_AZURE_OPENAI_MODEL: openAIModel
}, openAIDimensions > 0 ? {
  HARVEST_AZURE_OPENAI_DIMENSIONS: string(openAIDimensions)
} : {}) : {}

// The worker's interpreter reads these when the host starts it: mimalloc returns freed memory to the OS at
// once, so a long run's memory stays flat (docs/operations.md, "Speed and memory"). Opt-in (useMimalloc): a
// Python built without mimalloc stops with "Fatal Python error" and no function loads, and whether the Python
// that Flex Consumption runs has it was read from image sources, never checked on a running instance. The
// local host (local.settings.json) sets the same three, for an interpreter it checks first (devhost/interpreter.py).
var allocatorSettings = useMimalloc ? {
  PYTHONMALLOC: 'mimalloc'
  MIMALLOC_PURGE_DELAY: '0'
  MIMALLOC_ABANDONED_PAGE_PURGE: '1'
} : {}

var harvestSettings = union({
  HARVEST_CONTAINER: corpusContainerName
  HARVEST_SCHEDULE: schedule
  HARVEST_EMBEDDER: deployOpenAI ? 'azure-openai' : 'e5-small'
}, allocatorSettings, openAISettings, searchSettings, extraAppSettings)

module app 'modules/functionapp.bicep' = {
  name: 'functionapp'
  scope: rg
  params: {
    name: 'func-harvest-${resourceToken}'
    planName: 'plan-harvest-${resourceToken}'
    location: location
    tags: tags
    serviceName: 'api'
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    storageAccountName: storage.outputs.name
    deploymentContainerName: deploymentContainerName
    applicationInsightsConnectionString: monitoring.outputs.connectionString
    harvestSettings: harvestSettings
    keyVaultName: deployKeyVault ? keyVault.outputs.name : ''
    secretSettings: secretSettings
    maximumInstanceCount: maximumInstanceCount
    instanceMemoryMB: instanceMemoryMB
    durableAlwaysReady: durableAlwaysReady
  }
}

@description('Region of the deployment.')
output AZURE_LOCATION string = location

@description('Tenant of the deployment.')
output AZURE_TENANT_ID string = tenant().tenantId

@description('Resource group holding every resource.')
output AZURE_RESOURCE_GROUP string = rg.name

@description('Name of the Function App (az functionapp commands).')
output AZURE_FUNCTION_APP_NAME string = app.outputs.name

@description('Base URL of the Function App; the API is under /api.')
output HARVEST_URL string = app.outputs.uri

@description('Blob endpoint of the corpus account (HARVEST_STORAGE_ACCOUNT_URL for harvest export / query).')
output HARVEST_STORAGE_ACCOUNT_URL string = storage.outputs.blobEndpoint

@description('Container of the corpus (HARVEST_CONTAINER).')
output HARVEST_CONTAINER string = corpusContainerName

@description('Client id of the app identity.')
output AZURE_CLIENT_ID string = identity.outputs.clientId

@description('Azure OpenAI endpoint; empty when deployOpenAI is false.')
output AZURE_OPENAI_ENDPOINT string = deployOpenAI ? openai.outputs.endpoint : ''

@description('Embedding deployment name; empty when deployOpenAI is false.')
output AZURE_OPENAI_DEPLOYMENT string = deployOpenAI ? openai.outputs.deploymentName : ''

@description('Azure AI Search endpoint (HARVEST_SEARCH_ENDPOINT for harvest query); empty when deploySearch is false.')
output HARVEST_SEARCH_ENDPOINT string = deploySearch ? search.outputs.endpoint : ''

@description('Name readers query (the alias; HARVEST_INDEX_NAME).')
output HARVEST_INDEX_NAME string = searchIndexName

@description('Key Vault name for secrets; empty when deployKeyVault is false.')
output AZURE_KEY_VAULT_NAME string = deployKeyVault ? keyVault.outputs.name : ''

@description('Application Insights resource name.')
output APPLICATIONINSIGHTS_NAME string = monitoring.outputs.applicationInsightsName
