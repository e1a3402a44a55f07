// Log Analytics + workspace-based Application Insights. Local (instrumentation-key) authentication is
// disabled: the app sends telemetry with its managed identity (APPLICATIONINSIGHTS_AUTHENTICATION_STRING),
// which needs "Monitoring Metrics Publisher" on this Application Insights resource only.

@description('Name of the Log Analytics workspace.')
param logAnalyticsName string

@description('Name of the Application Insights resource.')
param applicationInsightsName string

@description('Region of both resources.')
param location string

@description('Tags applied to both resources.')
param tags object = {}

@description('Days Log Analytics keeps data (30 is included in the ingestion price).')
@minValue(30)
@maxValue(730)
param retentionInDays int = 30

@description('Principal id of the app identity, made Monitoring Metrics Publisher on Application Insights.')
param identityPrincipalId string

var monitoringMetricsPublisher = '3913510d-42f4-4e42-8a64-420c390055eb'

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: logAnalyticsName
  location: location
  tags: tags
  properties: {
    sku: {
      name: 'PerGB2018'
    }
    retentionInDays: retentionInDays
  }
}

resource insights 'Microsoft.Insights/components@2020-02-02' = {
  name: applicationInsightsName
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: workspace.id
    DisableLocalAuth: true
  }
}

resource publisher 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(insights.id, identityPrincipalId, monitoringMetricsPublisher)
  scope: insights
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', monitoringMetricsPublisher)
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
  }
}

@description('Connection string of Application Insights (no secret: ingestion requires Entra ID auth).')
output connectionString string = insights.properties.ConnectionString

@description('Name of Application Insights.')
output applicationInsightsName string = insights.name

@description('Name of the Log Analytics workspace.')
output logAnalyticsName string = workspace.name
