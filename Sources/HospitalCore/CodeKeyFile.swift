package import Crypto
import DurableFiles
import Foundation

/// The key one-time codes are MACed under: 32 random bytes in a file of the config folder (mode 0600),
/// made on first use. Without it, a copy of the database cannot be used to test codes offline.
package enum CodeKeyFile {
    /// The key's fingerprint, which does not reveal it: the first 16 hex digits of SHA-256 over its bytes.
    package static func fingerprint(_ key: SymmetricKey) -> String {
        key.withUnsafeBytes { bytes in SHA256.hash(data: bytes).prefix(8).map { String(format: "%02x", $0) }.joined() }
    }

    package static func loadOrCreate(path: String, random: @Sendable (Int) -> [UInt8]) throws -> SymmetricKey {
        if let data = FileManager.default.contents(atPath: path) {
            guard data.count == 32 else { throw HospitalKeyFileError.damaged(path) }
            return SymmetricKey(data: data)
        }
        let bytes = random(32)
        let made: Bool
        do { made = try DurableFile.create(path, bytes: bytes, mode: 0o600) } catch { throw HospitalKeyFileError.unwritable(path) }
        // Another process made it first: use theirs.
        return made ? SymmetricKey(data: bytes) : try loadOrCreate(path: path, random: random)
    }
}

package enum HospitalKeyFileError: Error, CustomStringConvertible {
    case damaged(String)
    case unwritable(String)

    package var description: String {
        switch self {
        case .damaged(let path): "\(path) is not a 32-byte code key; restore it from backup or remove it (pending codes then fail)."
        case .unwritable(let path): "cannot write the code key \(path)"
        }
    }
}
