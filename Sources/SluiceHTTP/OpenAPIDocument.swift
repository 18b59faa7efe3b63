// OpenAPIDocument: the API's OpenAPI 3.1 document, served at /openapi.json and printed by
// `sluice api openapi`. Its text is docs/openapi.json, embedded at build time by the
// EmbedOpenAPI plugin (`OpenAPIDocument.json`, generated; never a copy in the sources). Edit
// docs/openapi.json; a test compares the document with the server's route table both ways.

public enum OpenAPIDocument {}
