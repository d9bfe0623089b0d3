import Hex

/// Where an S3 object key lives inside the data root.
///
/// Every key S3 allows is stored: 1 to 1024 bytes of UTF-8 without a NUL byte. An **ordinary** key is
/// the plain file at its key read as a relative path — key `reports/2026/a.pdf` in bucket `b` is the
/// file `b/reports/2026/a.pdf` — so an operator can `ls` it. A key that cannot be such a file, or whose
/// path is taken, is **reserved**: it lives under `.chainvault/keys/<bucket>/`, in folders named by the
/// hex digits of the key's bytes (250 digits a folder) and a file `object` in the last of them.
///
/// A key is reserved when
/// - it cannot be a path: an empty segment (a leading `/`, `//`, a trailing `/` as in the folder marker
///   `sales/`), a `.` or `..` segment (stored literally, never resolved), a segment over 255 bytes;
/// - or its path is taken when it is written: `photos` while `photos/2026.jpg` is stored (the path is a
///   folder), or `photos/2026.jpg` while `photos` is stored (a prefix of the path is a file).
///
/// A key lives in one place at a time: a write to its plain path removes a reserved copy. Reads look at
/// the plain path first, so an ordinary key costs no extra lookup; listings merge both in key order.
/// `docs/s3-compatibility.md` and `docs/storage-layout.md` show examples on disk.
public struct ObjectKey: Sendable, Hashable {
    /// The key as the client sent it.
    public let key: String
    /// The key's path segments when it can be a plain file path (every segment a valid file name), else nil.
    public let plainSegments: [Substring]?

    /// The longest key S3 accepts, in bytes.
    public static let maxLength = 1024
    /// The longest file name (one path segment), in bytes.
    public static let maxSegmentLength = 255
    /// Hex digits of a reserved key per folder name (an even number, below ``maxSegmentLength``).
    static let reservedDigitsPerFolder = 250
    /// The file name of a reserved object, in the folder of its key's last hex digits (never hex itself).
    static let reservedFileName = "object"

    /// Validates `key`.
    /// - Throws: ``StorageError/keyTooLong(_:)`` or ``StorageError/invalidKey(key:reason:)``.
    public init(_ key: String) throws(StorageError) {
        guard !key.isEmpty else { throw .invalidKey(key: key, reason: "the key is empty") }
        guard key.utf8.count <= Self.maxLength else { throw .keyTooLong(key) }
        guard !key.utf8.contains(0) else { throw .invalidKey(key: key, reason: "the key contains a NUL byte") }
        self.key = key
        let segments = key.split(separator: "/", omittingEmptySubsequences: false)
        let plain = segments.allSatisfy { segment in
            !segment.isEmpty && segment != "." && segment != ".." && segment.utf8.count <= Self.maxSegmentLength
        }
        self.plainSegments = plain ? segments : nil
    }

    /// The key's path relative to its bucket directory, when it can be a plain file.
    public var plainPath: String? { plainSegments == nil ? nil : key }

    /// The reserved location's path below `.chainvault/keys/<bucket>`: the hex digits of the key's bytes,
    /// ``reservedDigitsPerFolder`` a folder, then ``reservedFileName``.
    var reservedSegments: [Substring] {
        let digits = Self.hex(key.utf8)
        var folders: [Substring] = []
        var start = digits.startIndex
        while start < digits.endIndex {
            let end = digits.index(start, offsetBy: Self.reservedDigitsPerFolder, limitedBy: digits.endIndex) ?? digits.endIndex
            folders.append(digits[start..<end])
            start = end
        }
        return folders + [Substring(Self.reservedFileName)]
    }

    /// The key whose reserved folders are `folders` (their hex digits joined); nil when they are not the
    /// hex digits of UTF-8 text.
    static func reservedKey(hexDigits: String) -> String? {
        guard !hexDigits.isEmpty, let bytes = Hex.decode(hexDigits, lowerCaseOnly: true) else { return nil }
        return String(validating: bytes, as: UTF8.self)
    }

    /// Lower-case hex digits, two per byte: their order is the bytes' order.
    static func hex(_ bytes: some Sequence<UInt8>) -> String { Hex.encode(bytes) }
}
