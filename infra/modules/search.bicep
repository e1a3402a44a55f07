// Azure AI Search: the index the publish stage keeps equal to the corpus (HARVEST_INDEX=azure-search,
// docs/index.md). Local (key) authentication is disabled: the app reaches it with its managed identity,
// which gets "Search Index Data Contributor" (documents: upload, delete, query) and "Search Service
// Contributor" (index and alias definitions: create, update, delete — a model change makes a new index and
// moves the alias) on this service only. The operator may get "Search Index Data Reader" to query from a laptop.

@description('Name of the search service (<name>.search.windows.net).')
@minLength(2)
@maxLength(60)
param name string

@description('Region of the service.')
param location string

@description('Tags applied to the service.')
param tags object = {}

@description('Pricing tier. free holds 3 indexes of 50 MB and no managed identity data-plane SLA; basic or higher for production.')
@allowed([
  'free'
  'basic'
  'standard'
  'standard2'
  'standard3'
  'storage_optimized_l1'
  'storage_optimized_l2'
])
param sku string = 'basic'

@description('Replicas (query throughput and availability: 2 for read SLA, 3 for read-write SLA).')
@minValue(1)
@maxValue(12)
param replicaCount int = 1

@description('Partitions (storage and indexing throughput).')
@allowed([
  1
  2
  3
  4
  6
  12
])
param partitionCount int = 1

@description('Principal id of the app identity: Search Index Data Contributor and Search Service Contributor.')
param identityPrincipalId string

@description('Object id of the operator, made Search Index Data Reader (harvest query from a laptop); empty = nobody.')
param operatorPrincipalId string = ''

@description('Kind of principal operatorPrincipalId is.')
@allowed([
  'User'
  'ServicePrincipal'
])
param operatorPrincipalType string = 'User'

var indexDataContributor = '8ebe5a00-799e-43f5-93ac-243d3dce84a7'
var serviceContributor = '7ca78c08-252a-4471-8644-bb5ff32d4ba0'
var indexDataReader = '1407120a-92aa-4202-b7e9-c0e197c71c8f'

resource search 'Microsoft.Search/searchServices@2023-11-01' = {
  name: name
  location: location
  tags: tags
  sku: {
    name: sku
  }
  properties: {
    replicaCount: replicaCount
    partitionCount: partitionCount
    hostingMode: 'default'
    publicNetworkAccess: 'enabled'
    disableLocalAuth: true
  }
}

resource appIndexData 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(search.id, identityPrincipalId, indexDataContributor)
  scope: search
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', indexDataContributor)
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource appIndexes 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(search.id, identityPrincipalId, serviceContributor)
  scope: search
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', serviceContributor)
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource operatorReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(operatorPrincipalId)) {
  name: guid(search.id, operatorPrincipalId, indexDataReader)
  scope: search
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', indexDataReader)
    principalId: operatorPrincipalId
    principalType: operatorPrincipalType
  }
}

@description('Endpoint, https://<name>.search.windows.net (HARVEST_SEARCH_ENDPOINT).')
output endpoint string = 'https://${search.name}.search.windows.net'

@description('Name of the service.')
output name string = search.name
