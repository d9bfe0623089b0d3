public import Crypto
import Synchronization

/// Derived SigV4 signing keys, cached per (secret, date, region, service).
///
/// A key changes once a day per credential, so four HMACs per request become a lookup.
/// The cache is bounded: when full it is cleared, which costs one derivation per live key.
public final class SigningKeyCache: Sendable {
    private struct Entry: Hashable {
        let secretDigest: [UInt8]
        let date: String
        let region: String
        let service: String
    }

    private let keys = Mutex<[Entry: SymmetricKey]>([:])
    private let capacity: Int

    /// Creates a cache holding at most `capacity` keys.
    public init(capacity: Int = 1024) {
        self.capacity = capacity
    }

    /// Returns the signing key for the scope, deriving it on a miss.
    public func signingKey(secret: String, date: String, region: String, service: String) -> SymmetricKey {
        // The cache is keyed by a digest of the secret so that it holds no second copy of it.
        let entry = Entry(
            secretDigest: Array(SHA256.hash(data: Array(secret.utf8))),
            date: date,
            region: region,
            service: service
        )
        if let key = keys.withLock({ $0[entry] }) { return key }
        let key = SigV4.signingKey(secret: secret, date: date, region: region, service: service)
        keys.withLock {
            if $0.count >= capacity { $0.removeAll(keepingCapacity: true) }
            $0[entry] = key
        }
        return key
    }
}
