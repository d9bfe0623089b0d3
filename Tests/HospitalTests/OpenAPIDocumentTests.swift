import Foundation
import HTTPTypes
import Testing

@testable import Hospital
@testable import HospitalAPI
@testable import HospitalCore
@testable import HospitalPortal
@testable import HospitalSQLite

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

/// The closed table of error codes, held against everything that lists them.
@Suite struct ErrorCodeTableTests {
    /// The OpenAPI document's enum of codes is the table, in its order.
    @Test func theOpenAPIDocumentListsEveryCode() throws {
        let document = try #require(try JSONSerialization.jsonObject(with: Data(OpenAPIDocument.bytes)) as? [String: Any])
        let schemas = try #require((document["components"] as? [String: Any])?["schemas"] as? [String: Any])
        let error = try #require(((schemas["Error"] as? [String: Any])?["properties"] as? [String: Any])?["error"] as? [String: Any])
        let code = try #require((error["properties"] as? [String: Any])?["code"] as? [String: Any])
        #expect(code["enum"] as? [String] == HospitalErrorCode.allCases.map(\.rawValue))
    }

    /// docs/hospital.md's table has one row per code, with the status the API answers it with.
    @Test func theDocumentedTableIsTheCodesWithTheirStatus() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let text = try String(contentsOf: root.appendingPathComponent("docs/hospital.md"), encoding: .utf8)
        let rows = text.split(separator: "\n").compactMap { line -> (String, Int)? in
            let cells = line.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
            guard cells.count >= 3, cells[0].hasPrefix("`"), cells[0].hasSuffix("`"), let status = Int(cells[1]) else { return nil }
            return (String(cells[0].dropFirst().dropLast()), status)
        }
        #expect(rows.map(\.0) == HospitalErrorCode.allCases.map(\.rawValue))
        for (code, status) in rows {
            #expect(HospitalErrorCode(rawValue: code).map { $0.status.code } == status, "\(code)")
        }
    }

    /// Every code has the portal's words in the shipped catalogue: no page shows the API's English.
    @Test func everyCodeHasThePortalsWords() throws {
        let catalogue = Catalogues.shipped
        for code in HospitalErrorCode.allCases {
            #expect(catalogue.has(PortalPages.wordsKey(code)), "\(code.rawValue)")
        }
        #expect(catalogue.has("error_wrong_code_last"))
    }

    /// Every ledger action has its words, as the history and the admins' ledger show it.
    @Test func everyLedgerActionHasThePortalsWords() {
        for action in AuditAction.allCases { #expect(Catalogues.shipped.has("action_\(action.rawValue)"), "\(action.rawValue)") }
    }
}
