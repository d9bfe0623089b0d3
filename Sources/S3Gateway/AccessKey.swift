/// An access key: its id, its secret and what it may do.
public struct AccessKey: Codable, Sendable, Equatable, CustomStringConvertible {
    /// The public id (20 characters).
    public var accessKeyId: String
    /// The secret (40 characters). Never logged or printed by `description`.
    public var secretKey: String
    /// The root key may touch every bucket.
    public var isRoot: Bool
    /// A read-only key may only list, read and HEAD.
    public var readOnly: Bool
    /// Buckets this key was granted besides those it owns.
    public var buckets: [String]

    public init(accessKeyId: String, secretKey: String, isRoot: Bool, readOnly: Bool = false, buckets: [String] = []) {
        self.accessKeyId = accessKeyId
        self.secretKey = secretKey
        self.isRoot = isRoot
        self.readOnly = readOnly
        self.buckets = buckets
    }

    public var description: String {
        "AccessKey(\(accessKeyId), root: \(isRoot), readOnly: \(readOnly), buckets: \(buckets))"
    }

    /// Whether this key may touch `bucket`, owned by `owner` (nil: made by an operator, owned by root).
    public func mayAccess(bucket: String, owner: String?) -> Bool {
        isRoot || owner == accessKeyId || buckets.contains(bucket)
    }

    static let idAlphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
    static let secretAlphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")

    /// A new key pair from a CSPRNG: a 20-character id and a 40-character secret (238 bits).
    public static func generate<R: RandomNumberGenerator>(
        isRoot: Bool,
        readOnly: Bool = false,
        buckets: [String] = [],
        using generator: inout R
    ) -> AccessKey {
        let id = "CV" + String((0..<18).map { _ in idAlphabet.randomElement(using: &generator)! })
        let secret = String((0..<40).map { _ in secretAlphabet.randomElement(using: &generator)! })
        return AccessKey(accessKeyId: id, secretKey: secret, isRoot: isRoot, readOnly: readOnly, buckets: buckets)
    }
}
