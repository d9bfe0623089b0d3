/// The rule that maps an S3 object key to a file path inside its bucket directory.
///
/// An object is the plain file at its key, read as a relative path: key `reports/2026/a.pdf` in
/// bucket `b` is the file `b/reports/2026/a.pdf`. Keys that cannot be such a path are refused,
/// never rewritten, so no key can reach or overwrite another object or leave its bucket:
///
/// - 1 to 1024 bytes of UTF-8 (`KeyTooLongError` beyond), no NUL byte;
/// - no empty segment: no leading `/`, no `//`, no trailing `/` (folder markers such as `dir/`);
/// - no `.` or `..` segment;
/// - each segment at most 255 bytes, the file-name limit of Linux file systems (`KeyTooLongError`);
/// - a key and a longer key below it cannot both exist: with `a/b` stored, a PUT of `a` is refused with
///   `ObjectExistsAsPrefix`; with `a` stored, a PUT of `a/b` is refused with `ParentIsObject` (both 409).
public struct ObjectKey: Sendable, Hashable {
    /// The key as the client sent it.
    public let key: String
    /// The key's path segments, each a valid file name.
    public let segments: [Substring]

    /// The longest key S3 accepts, in bytes.
    public static let maxLength = 1024
    /// The longest file name (one path segment), in bytes.
    public static let maxSegmentLength = 255

    /// Validates `key`.
    /// - Throws: ``StorageError/keyTooLong(_:)`` or ``StorageError/invalidKey(key:reason:)``.
    public init(_ key: String) throws(StorageError) {
        guard !key.isEmpty else { throw .invalidKey(key: key, reason: "the key is empty") }
        guard key.utf8.count <= Self.maxLength else { throw .keyTooLong(key) }
        guard !key.utf8.contains(0) else { throw .invalidKey(key: key, reason: "the key contains a NUL byte") }
        let segments = key.split(separator: "/", omittingEmptySubsequences: false)
        for segment in segments {
            if segment.isEmpty {
                throw .invalidKey(
                    key: key,
                    reason: "the key has an empty path segment (a leading or trailing '/' or '//'), which cannot be a file path"
                )
            }
            if segment == "." || segment == ".." {
                throw .invalidKey(key: key, reason: "the key has a '.' or '..' path segment")
            }
            if segment.utf8.count > Self.maxSegmentLength {
                throw .keyTooLong(key)
            }
        }
        self.key = key
        self.segments = segments
    }

    /// The key's path relative to its bucket directory.
    public var relativePath: String { key }
}
