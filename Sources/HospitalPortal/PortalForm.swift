import Foundation
import HospitalAPI
import HospitalCore
import Hummingbird

/// An HTML form's fields (`application/x-www-form-urlencoded`), read only after its form token checked
/// out. One place reads every form, so no unsafe request can skip the check.
struct PortalForm: Sendable {
    /// The largest form body read: the portal's forms hold a few short fields.
    static let limit = 64 << 10
    /// The most fields a form may have.
    static let maxFields = 64

    let fields: [String: String]

    subscript(_ name: String) -> String { fields[name] ?? "" }

    /// The fields of a search form sent with GET: the query decoded as a form, so that the `+` a browser
    /// sends for a space is one (the URI's own decoding keeps it a `+`). A malformed query is no filter.
    static func query(_ request: Request) -> PortalForm {
        (try? parse(Array((request.uri.query ?? "").utf8))) ?? PortalForm(fields: [:])
    }

    /// Reads and checks the form of `request`.
    /// - Throws: ``PortalError`` `formExpired` when the token is missing or wrong, `tooLarge`,
    ///   `malformedForm`.
    static func read(_ request: Request, context: PortalRequestContext) async throws -> PortalForm {
        let contentType = request.headers[.contentType]?.lowercased() ?? ""
        guard contentType.hasPrefix("application/x-www-form-urlencoded") else { throw PortalError.malformedForm }
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: limit)
        } catch {
            throw PortalError.tooLarge
        }
        let form = try parse(Array(buffer.readableBytesView))
        guard Self.matches(form["form_token"], context.portal.formToken) else { throw PortalError.formExpired }
        return form
    }

    /// The fields of a form body. Repeated names keep their last value; names with brackets (nested
    /// forms, which no portal page sends) are refused.
    /// - Throws: ``PortalError/malformedForm``.
    static func parse(_ body: [UInt8]) throws -> PortalForm {
        guard let text = String(validating: body, as: UTF8.self) else { throw PortalError.malformedForm }
        let pairs = text.split(separator: "&", omittingEmptySubsequences: true)
        guard pairs.count <= maxFields else { throw PortalError.malformedForm }
        for pair in pairs {
            let name = pair.split(separator: "=", maxSplits: 1).first ?? ""
            guard !name.contains("["), !name.contains("%5B"), !name.contains("%5b") else { throw PortalError.malformedForm }
        }
        guard !text.isEmpty else { return PortalForm(fields: [:]) }
        do {
            return PortalForm(fields: try URLEncodedFormDecoder().decode([String: String].self, from: text))
        } catch {
            throw PortalError.malformedForm
        }
    }

    /// Compares form tokens in constant time.
    static func matches(_ sent: String, _ expected: String) -> Bool {
        !expected.isEmpty && ConstantTime.equal(sent, expected)
    }
}
