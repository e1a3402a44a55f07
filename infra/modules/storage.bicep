// One storage account for the Functions host (AzureWebJobsStorage), the Durable task hub (queues, tables,
// blobs), the Flex Consumption deployment package and Harvest's corpus. Shared-key access is disabled:
// every client authenticates with Microsoft Entra ID, so no account key or key-bearing connection string
// exists anywhere in the deployment.

@description('Name of the storage account (3-24 lowercase letters and digits).')
@minLength(3)
@maxLength(24)
param name string

@description('Region of the account.')
param location string

@description('Tags applied to the account.')
param tags object = {}

@description('Container Flex Consumption deploys the app package to.')
param deploymentContainerName string

@description('Container of the corpus, source state and run records (HARVEST_CONTAINER).')
param corpusContainerName string

@description('Principal id of the app identity (host storage, Durable task hub, corpus).')
param identityPrincipalId string

@description('Object id of an operator who may read the corpus container; empty = none.')
param operatorPrincipalId string = ''

@description('Kind of principal operatorPrincipalId is.')
@allowed([
  'User'
  'ServicePrincipal'
])
param operatorPrincipalType string = 'User'

@description('Days deleted blobs and containers stay recoverable.')
@minValue(1)
@maxValue(365)
param softDeleteDays int = 7

// Built-in role definition ids.
var blobDataOwner = 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
var blobDataReader = '2a2b9908-6ea1-4ae2-8e65-a410df84e7d1'
var queueDataContributor = '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
var tableDataContributor = '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: 'Standard_LRS'
  }
  properties: {
    accessTier: 'Hot'
    allowSharedKeyAccess: false
    defaultToOAuthAuthentication: true
    allowBlobPublicAccess: false
    allowCrossTenantReplication: false
    supportsHttpsTrafficOnly: true
    minimumTlsVersion: 'TLS1_2'
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: account
  name: 'default'
  properties: {
    deleteRetentionPolicy: {
      enabled: true
      days: softDeleteDays
    }
    containerDeleteRetentionPolicy: {
      enabled: true
      days: softDeleteDays
    }
  }
}

resource deploymentContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: deploymentContainerName
  properties: {
    publicAccess: 'None'
  }
}

resource corpusContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: corpusContainerName
  properties: {
    publicAccess: 'None'
  }
}

// The host keeps its own containers (locks, keys, Durable task hub blobs) and reads the package:
// Storage Blob Data Owner on the account is what identity-based AzureWebJobsStorage requires.
resource appBlob 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(account.id, identityPrincipalId, blobDataOwner)
  scope: account
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', blobDataOwner)
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// Durable Functions (Azure Storage provider): control and work-item queues.
resource appQueue 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(account.id, identityPrincipalId, queueDataContributor)
  scope: account
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', queueDataContributor)
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// Durable Functions (Azure Storage provider): the history and instances tables.
resource appTable 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(account.id, identityPrincipalId, tableDataContributor)
  scope: account
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', tableDataContributor)
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// The operator may read the corpus (harvest export / query from a laptop), and nothing else.
resource operatorCorpusReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(operatorPrincipalId)) {
  name: guid(corpusContainer.id, operatorPrincipalId, blobDataReader)
  scope: corpusContainer
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', blobDataReader)
    principalId: operatorPrincipalId
    principalType: operatorPrincipalType
  }
}

@description('Name of the storage account (AzureWebJobsStorage__accountName).')
output name string = account.name

@description('Blob endpoint, e.g. https://<name>.blob.core.windows.net/ (HARVEST_STORAGE_ACCOUNT_URL).')
output blobEndpoint string = account.properties.primaryEndpoints.blob

@description('Resource id of the account.')
output id string = account.id
