// Optional Azure OpenAI account with one embedding deployment. Key authentication is disabled: the app
// calls it with its managed identity, which gets "Cognitive Services OpenAI User" on this account only.

@description('Name of the Azure OpenAI account; also its custom subdomain (<name>.openai.azure.com).')
@minLength(2)
@maxLength(64)
param name string

@description('Region of the account (the embedding model must be offered there).')
param location string

@description('Tags applied to the account.')
param tags object = {}

@description('Name of the embedding deployment (HARVEST_AZURE_OPENAI_DEPLOYMENT).')
param deploymentName string

@description('Embedding model to deploy (HARVEST_AZURE_OPENAI_MODEL).')
@allowed([
  'text-embedding-3-small'
  'text-embedding-3-large'
  'text-embedding-ada-002'
])
param model string

@description('Model version: 1 for text-embedding-3-*, 2 for text-embedding-ada-002.')
param modelVersion string

@description('Deployment type: Standard (regional) or GlobalStandard.')
@allowed([
  'Standard'
  'GlobalStandard'
])
param skuName string = 'Standard'

@description('Capacity of the deployment in thousands of tokens per minute.')
@minValue(1)
param capacity int = 120

@description('Principal id of the app identity, made Cognitive Services OpenAI User on the account.')
param identityPrincipalId string

var openAIUser = '5e0bd9bd-7b93-4f28-af87-19fc36ad61bd'

resource account 'Microsoft.CognitiveServices/accounts@2024-10-01' = {
  name: name
  location: location
  tags: tags
  kind: 'OpenAI'
  sku: {
    name: 'S0'
  }
  properties: {
    customSubDomainName: name
    disableLocalAuth: true
    publicNetworkAccess: 'Enabled'
  }
}

resource embedding 'Microsoft.CognitiveServices/accounts/deployments@2024-10-01' = {
  parent: account
  name: deploymentName
  sku: {
    name: skuName
    capacity: capacity
  }
  properties: {
    model: {
      format: 'OpenAI'
      name: model
      version: modelVersion
    }
  }
}

resource appOpenAIUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(account.id, identityPrincipalId, openAIUser)
  scope: account
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', openAIUser)
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
  }
}

@description('Endpoint, https://<name>.openai.azure.com/ (HARVEST_AZURE_OPENAI_ENDPOINT).')
output endpoint string = account.properties.endpoint

@description('Name of the embedding deployment.')
output deploymentName string = embedding.name

@description('Name of the account.')
output name string = account.name
