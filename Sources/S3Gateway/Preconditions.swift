import BucketStore
import HTTPTypes
import S3Protocol

/// The four conditional headers of a GET, HEAD or copy source, evaluated against an object with S3's
/// precedence: a matching If-Match overrides a failing If-Unmodified-Since, and a failing (matching)
/// If-None-Match overrides a passing If-Modified-Since.
struct Preconditions {
    var ifMatch: String?
    var ifNoneMatch: String?
    var ifModifiedSince: String?
    var ifUnmodifiedSince: String?

    enum Outcome: Equatable {
        case proceed
        /// If-Match or If-Unmodified-Since failed.
        case failed
        /// If-None-Match matched or If-Modified-Since failed.
        case notModified
    }

    /// Whether an `ETag` list (`"a", "b"` or `*`) names the object.
    static func list(_ list: String, matches info: ObjectInfo) -> Bool {
        list.split(separator: ",").contains { candidate in
            let value = candidate.trimmingCharacters(in: " ")
            return value == "*" || value == "\"\(info.etag)\""[...] || value == info.etag[...]
        }
    }

    func evaluate(_ info: ObjectInfo) -> Outcome {
        let modified = info.modificationSeconds
        if let ifMatch {
            guard Self.list(ifMatch, matches: info) else { return .failed }
        } else if let since = ifUnmodifiedSince.flatMap(S3Time.parseHTTPDate), modified > since {
            return .failed
        }
        if let ifNoneMatch {
            if Self.list(ifNoneMatch, matches: info) { return .notModified }
        } else if let since = ifModifiedSince.flatMap(S3Time.parseHTTPDate), modified <= since {
            return .notModified
        }
        return .proceed
    }
}

extension Preconditions {
    /// The condition of a write (PutObject, CompleteMultipartUpload, CopyObject's destination):
    /// `If-None-Match: *` (create only) or `If-Match: "<etag>"` (replace only that version).
    /// - Throws: `501 NotImplemented` for an If-None-Match other than `*`, or both headers at once.
    static func writeCondition(_ headers: HTTPFields) throws(S3Error) -> BucketStore.WriteCondition {
        let ifMatch = headers[.ifMatch]
        let ifNoneMatch = headers[.ifNoneMatch]
        switch (ifMatch, ifNoneMatch) {
        case (nil, nil):
            return .none
        case (nil, let value?):
            guard value[...].trimmingCharacters(in: " ") == "*" else {
                throw S3Error(.notImplemented, "A conditional write takes If-None-Match: * only.")
            }
            return .absent
        case (let value?, nil):
            let etags = value.split(separator: ",").map { candidate in
                var etag = candidate.trimmingCharacters(in: " ")[...]
                if etag.hasPrefix("W/") { etag = etag.dropFirst(2) }
                if etag.count >= 2, etag.hasPrefix("\""), etag.hasSuffix("\"") { etag = etag.dropFirst().dropLast() }
                return String(etag)
            }
            return .matches(etags)
        case (.some, .some):
            throw S3Error(.notImplemented, "A conditional write takes either If-Match or If-None-Match, not both.")
        }
    }
}
