import Foundation
import Testing

@testable import Hospital

@Suite struct OpenAPIDocumentTests {
    /// The document names every ledger action the API can answer with (schemathesis found one missing).
    @Test func theLedgerActionsAreTheDocumentedOnes() throws {
        let document = try #require(try JSONSerialization.jsonObject(with: Data(OpenAPIDocument.bytes)) as? [String: Any])
        let components = try #require(document["components"] as? [String: Any])
        let schemas = try #require(components["schemas"] as? [String: Any])
        let entry = try #require(schemas["AuditEntry"] as? [String: Any])
        let properties = try #require(entry["properties"] as? [String: Any])
        let action = try #require(properties["action"] as? [String: Any])
        #expect(action["enum"] as? [String] == AuditAction.allCases.map(\.rawValue))
    }
}
