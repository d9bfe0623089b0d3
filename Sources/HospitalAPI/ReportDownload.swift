import Foundation
import HTTPTypes
package import HospitalCore
package import Hummingbird
package import Logging
import NIOCore

/// A report's bytes as a response, for the API and the portal alike: streamed as each chunk
/// authenticates, in 64 KiB pieces. A chain that fails mid-way cuts the response (the length was
/// announced), so a client never mistakes a part for the whole; a chain whose head cannot be read is an
/// error status before anything is committed.
package enum ReportDownload {
    package static func response(_ id: Int64, for identity: Identity, reports: Reports, logger: Logger) async throws -> Response {
        let listing = try await reports.openForDownload(id, by: identity)
        let report = listing.report
        do {
            try await reports.checkReadable(report, by: identity)
        } catch {
            logger.error("report unreadable", metadata: ["report": "\(report.id ?? 0)"])
            throw error
        }
        var headers: HTTPFields = [
            .contentType: report.contentType, .contentLength: String(report.size), .cacheControl: "no-store",
            .contentDisposition: contentDisposition(title: report.title, contentType: report.contentType, id: report.id ?? 0),
        ]
        headers[.xContentTypeOptions] = "nosniff"
        headers[HTTPField.Name("X-Content-SHA256")!] = report.sha256
        return Response(
            status: .ok, headers: headers,
            body: ResponseBody(contentLength: Int(report.size)) { writer in
                try await write(report, for: identity, reports: reports, logger: logger, to: &writer)
                try await writer.finish(nil)
            })
    }

    /// Writes a report's bytes as each chunk authenticates, in 64 KiB pieces (no second copy of a whole
    /// chunk waits on a slow socket); a chain that fails is logged and recorded, and the error thrown.
    package static func write(
        _ report: Report, for identity: Identity, reports: Reports, logger: Logger, to writer: inout any ResponseBodyWriter
    ) async throws {
        do {
            try await reports.read(report) { plaintext in
                var offset = plaintext.startIndex
                while offset < plaintext.endIndex {
                    let end = Swift.min(offset + 65536, plaintext.endIndex)
                    try await writer.write(ByteBuffer(bytes: plaintext[offset..<end]))
                    offset = end
                }
            }
        } catch {
            logger.error("report read failed", metadata: ["report": "\(report.id ?? 0)", "error": "\(error)"])
            await reports.recordFailedDownload(report, by: identity, reason: "\(error)")
            throw error
        }
    }

    /// `attachment` with a file name made from the title and the media type (`Blood test.pdf`): an
    /// ASCII fallback (`filename`) and the exact name in UTF-8 (`filename*`, RFC 6266 / 8187).
    static func contentDisposition(title: String, contentType: String, id: Int64) -> String {
        let base = title.unicodeScalars.map { scalar -> String in
            scalar.properties.generalCategory == .control || "/\\\"".unicodeScalars.contains(scalar) ? "_" : String(scalar)
        }.joined()
        let suffix = fileExtension(contentType)
        let name = (suffix.map { base.lowercased().hasSuffix("." + $0) } ?? true) ? base : base + "." + suffix!
        let ascii = String(name.unicodeScalars.map { $0.isASCII && $0.value >= 0x20 && $0 != "%" ? Character($0) : "_" })
        let encoded = name.addingPercentEncoding(withAllowedCharacters: .rfc8187AttributeCharacters) ?? "report-\(id)"
        return "attachment; filename=\"\(ascii.isEmpty ? "report-\(id)" : ascii)\"; filename*=UTF-8''\(encoded)"
    }

    /// The usual extension of a media type, when there is one everybody knows.
    package static func fileExtension(_ contentType: String) -> String? {
        let type = contentType.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
        let known = [
            "application/pdf": "pdf", "image/png": "png", "image/jpeg": "jpg", "text/plain": "txt", "application/dicom": "dcm",
            "application/json": "json", "text/csv": "csv", "application/zip": "zip", "image/tiff": "tif",
        ]
        return known[type]
    }
}

extension CharacterSet {
    /// RFC 8187 `attr-char`: what stands unescaped in `filename*`.
    static let rfc8187AttributeCharacters = CharacterSet(
        charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!#$&+-.^_`|~")
}
