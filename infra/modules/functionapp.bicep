// The Flex Consumption plan and the Function App (Python 3.13, Linux). The app runs as the user-assigned
// identity: host storage, the Durable task hub and the corpus are reached with it (identity-based
// AzureWebJobsStorage, no keys), Key Vault references are resolved with it, telemetry is sent with it.

@description('Name of the Function App (also its host name, <name>.azurewebsites.net).')
param name string

@description('Name of the Flex Consumption plan.')
param planName string

@description('Region of the plan and the app (one that offers Flex Consumption).')
param location string

@description('Tags applied to the plan and the app; the app also gets azd-service-name.')
param tags object = {}

@description('Name of the azd service this app hosts (azure.yaml).')
param serviceName string = 'api'

@description('Resource id of the user-assigned identity the app runs as.')
param identityId string

@description('Client id of that identity (AzureWebJobsStorage__clientId, AZURE_CLIENT_ID).')
param identityClientId string

@description('Name of the storage account for host storage, task hub, deployment package and corpus.')
param storageAccountName string

@description('Blob container the deployment package is uploaded to.')
param deploymentContainerName string

@description('Application Insights connection string.')
param applicationInsightsConnectionString string

@description('Harvest settings (HARVEST_*); they cannot override the identity, storage and telemetry settings.')
param harvestSettings object = {}

@description('Name of the Key Vault that secretSettings refer to; empty = no Key Vault references.')
param keyVaultName string = ''

@description('App settings whose values are Key Vault references: [{ setting: \'NAME\', secret: \'secret-name\' }].')
param secretSettings array = []

@description('Most instances the app scales out to.')
@minValue(1)
@maxValue(1000)
param maximumInstanceCount int = 40

@description('Memory of each instance in MB.')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

@description('Always-ready instances for the durable group (Durable Functions triggers); 0 = none.')
@minValue(0)
@maxValue(20)
param durableAlwaysReady int = 1

@description('Python version the app runs on: 3.13, the version the app pins its worker runtime for (azure-functions-runtime).')
@allowed([
  '3.13'
])
param pythonVersion string = '3.13'

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

var secretReferences = empty(keyVaultName) ? {} : toObject(secretSettings, s => s.setting, s => '@Microsoft.KeyVault(VaultName=${keyVaultName};SecretName=${s.secret})')

// Identity-based host storage: the host builds the blob, queue and table endpoints from the account
// name and authenticates with the identity named by clientId. No AzureWebJobsStorage connection string.
var platformSettings = {
  AzureWebJobsStorage__accountName: storage.name
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: identityClientId
  AZURE_CLIENT_ID: identityClientId
  APPLICATIONINSIGHTS_CONNECTION_STRING: applicationInsightsConnectionString
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identityClientId};Authorization=AAD'
  HARVEST_STORAGE_ACCOUNT_URL: storage.properties.primaryEndpoints.blob
}

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    tier: 'FlexConsumption'
    name: 'FC1'
  }
  properties: {
    reserved: true
  }
}

resource app 'Microsoft.Web/sites@2024-04-01' = {
  name: name
  location: location
  tags: union(tags, {
    'azd-service-name': serviceName
  })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    keyVaultReferenceIdentity: identityId
    siteConfig: {
      minTlsVersion: '1.2'
      scmMinTlsVersion: '1.2'
      ftpsState: 'Disabled'
      http20Enabled: true
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storage.properties.primaryEndpoints.blob}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      // Durable Functions on Flex Consumption: one always-ready instance for the durable group, so a run's
      // next orchestrator or activity does not wait for a cold start (MicrosoftDocs azure-docs,
      // articles/azure-functions/durable/durable-functions-azure-storage-provider.md, "Flex Consumption plan").
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
        alwaysReady: durableAlwaysReady > 0 ? [
          {
            name: 'durable'
            instanceCount: durableAlwaysReady
          }
        ] : []
      }
      runtime: {
        name: 'python'
        version: pythonVersion
      }
    }
  }
}

resource appSettings 'Microsoft.Web/sites/config@2024-04-01' = {
  parent: app
  name: 'appsettings'
  properties: union(harvestSettings, secretReferences, platformSettings)
}

// No publishing passwords: deployments authenticate with Microsoft Entra ID.
resource ftpPublishing 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: app
  name: 'ftp'
  properties: {
    allow: false
  }
}

resource scmPublishing 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: app
  name: 'scm'
  properties: {
    allow: false
  }
}

@description('Name of the Function App.')
output name string = app.name

@description('Base URL of the app, https://<host>.')
output uri string = 'https://${app.properties.defaultHostName}'
