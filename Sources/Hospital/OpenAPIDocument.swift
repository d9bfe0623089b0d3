/// The OpenAPI 3 description of the hospital API, served at `/openapi.json`; `docs/openapi.json` is a copy
/// a test keeps equal.
enum OpenAPIDocument {
    static let json = #"{}"#
}
