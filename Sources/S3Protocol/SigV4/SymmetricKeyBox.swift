import Crypto

/// A signing key carried between verification steps, never printed.
struct SymmetricKeyBox: Sendable, CustomStringConvertible {
    let key: SymmetricKey
    var description: String { "SymmetricKey(redacted)" }
}
