// The app's user-assigned managed identity. Every data-plane permission of the app is a role assignment
// to this identity, scoped to the one resource it is for (see the other modules).

@description('Name of the user-assigned managed identity.')
param name string

@description('Region of the identity.')
param location string

@description('Tags applied to the identity.')
param tags object = {}

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: name
  location: location
  tags: tags
}

@description('Resource id, for the Function App identity block and identity-based connections.')
output id string = identity.id

@description('Client id: AzureWebJobsStorage__clientId and AZURE_CLIENT_ID (DefaultAzureCredential).')
output clientId string = identity.properties.clientId

@description('Principal (object) id, the subject of the role assignments.')
output principalId string = identity.properties.principalId

@description('Name of the identity.')
output name string = identity.name
