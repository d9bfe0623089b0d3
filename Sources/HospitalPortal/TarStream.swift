import Foundation
import HospitalAPI
import HospitalCore
import NIOCore

/// A POSIX ustar archive written as it goes: a 512-byte header per file, its bytes, zero padding to
/// the next 512 bytes, two zero blocks at the end. Sizes are known before each file is written, so an
/// archive of any size streams with nothing held but the current piece.
enum TarStream {
    static let block = 512

    /// The header of a regular file `name` (at most 100 bytes, see ``safeName(_:)``) of `size` bytes.
    static func header(name: String, size: Int64, modified: Int64) -> ByteBuffer {
        var bytes = [UInt8](repeating: 0, count: block)
        func put(_ text: String, at offset: Int, length: Int) {
            for (index, byte) in text.utf8.prefix(length).enumerated() { bytes[offset + index] = byte }
        }
        func octal(_ value: Int64, at offset: Int, length: Int) {
            put(String(String(value, radix: 8).suffix(length - 1)).leftPadded(to: length - 1), at: offset, length: length - 1)
        }
        put(name, at: 0, length: 100)
        octal(0o640, at: 100, length: 8)
        octal(0, at: 108, length: 8)
        octal(0, at: 116, length: 8)
        octal(size, at: 124, length: 12)
        octal(modified, at: 136, length: 12)
        put("        ", at: 148, length: 8)
        bytes[156] = UInt8(ascii: "0")
        put("ustar", at: 257, length: 6)
        put("00", at: 263, length: 2)
        put("chainvault", at: 265, length: 32)
        put("chainvault", at: 297, length: 32)
        let checksum = bytes.reduce(0) { $0 + Int64($1) }
        put(String(String(checksum, radix: 8)).leftPadded(to: 6) + "\u{0} ", at: 148, length: 8)
        return ByteBuffer(bytes: bytes)
    }

    /// The zeros after `size` bytes of a file, up to the next block.
    static func padding(after size: Int64) -> ByteBuffer {
        let rest = Int(size % Int64(block))
        return ByteBuffer(bytes: [UInt8](repeating: 0, count: rest == 0 ? 0 : block - rest))
    }

    /// The end of the archive.
    static var end: ByteBuffer { ByteBuffer(bytes: [UInt8](repeating: 0, count: 2 * block)) }

    /// `directory` (trusted, ending in `/`) and a file name anyone's `tar` extracts safely inside it:
    /// one path component (no `/`, never `.` or `..`), ASCII letters, digits and `.-_ ` kept, the rest
    /// as `_`, the whole path at most 100 bytes.
    static func path(in directory: String, file name: String) -> String {
        var component = String(
            name.unicodeScalars.map { scalar -> Character in
                scalar.isASCII && (CharacterSet.alphanumerics.contains(scalar) || ".-_ ".unicodeScalars.contains(scalar))
                    ? Character(scalar) : "_"
            })
        if component.allSatisfy({ $0 == "." }) { component = "_" + component }
        return directory + String(component.prefix(100 - directory.utf8.count))
    }
}

extension String {
    fileprivate func leftPadded(to length: Int) -> String {
        count >= length ? self : String(repeating: "0", count: length - count) + self
    }
}
