/// The OpenAPI 3 description of the hospital API, served at `/openapi.json`: `openapi.json` beside this
/// file, embedded at build time (`docs/openapi.json` is a link to it).
enum OpenAPIDocument {
    static var bytes: [UInt8] { PackageResources.openapi_json }
}
