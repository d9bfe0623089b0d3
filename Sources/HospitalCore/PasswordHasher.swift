import Crypto
import CryptoExtras
import Foundation
import NIOPosix

/// Password hashes with scrypt, as PHC strings that carry their parameters
/// (`$scrypt$ln=17,r=8,p=1$<salt>$<hash>`, base64 without padding), so that the cost can be raised later
/// and old hashes still verify (``needsRehash(_:)`` tells which to replace at the next login).
///
/// Each computation takes about 128 MiB at the default cost: a bounded number run at once, on NIO's
/// blocking pool, and callers beyond a bounded queue are turned away, so that a flood cannot exhaust
/// memory or CPU. Logins (``verify(_:against:)``) and new hashes (``hash(_:)``: sign-ups, staff
/// accounts) queue apart, so that a flood of sign-ups cannot starve logins.
package struct PasswordHasher: Sendable {
    package struct Parameters: Sendable, Equatable {
        /// log2 of scrypt's N (its CPU and memory cost).
        package var logN: Int
        /// scrypt's block size r.
        package var blockSize: Int
        /// scrypt's parallelism p.
        package var parallelism: Int

        package init(logN: Int, blockSize: Int, parallelism: Int) {
            self.logN = logN
            self.blockSize = blockSize
            self.parallelism = parallelism
        }

        /// OWASP's recommendation for scrypt: N = 2^17, r = 8, p = 1 (128 MiB, about 0.3 s on one core).
        package static let recommended = Parameters(logN: 17, blockSize: 8, parallelism: 1)
        /// Cheap parameters for tests only.
        package static let testing = Parameters(logN: 4, blockSize: 1, parallelism: 1)
    }

    package let parameters: Parameters
    /// Password checks of logins.
    let loginGate: ComputeGate
    /// New hashes: sign-ups, staff accounts, rehashes.
    let hashGate: ComputeGate
    let random: @Sendable (Int) -> [UInt8]

    /// - Parameters:
    ///   - concurrency: At most this many login checks run at once.
    ///   - queueLimit: At most this many logins wait for a turn; more get ``HospitalError/busy``.
    ///   - hashConcurrency: At most this many new hashes (sign-ups) run at once, beside the logins.
    ///   - hashQueueLimit: At most this many sign-ups wait for a turn.
    package init(
        parameters: Parameters = .recommended, concurrency: Int = 2, queueLimit: Int = 64, hashConcurrency: Int = 1,
        hashQueueLimit: Int = 16, random: @escaping @Sendable (Int) -> [UInt8]
    ) {
        self.parameters = parameters
        self.loginGate = ComputeGate(permits: concurrency, queueLimit: queueLimit)
        self.hashGate = ComputeGate(permits: hashConcurrency, queueLimit: hashQueueLimit)
        self.random = random
    }

    /// A new PHC string for `password`, with a fresh 16-byte salt.
    package func hash(_ password: String) async throws -> String {
        let salt = random(16)
        let derived = try await derive(password, salt: salt, parameters: parameters, gate: hashGate)
        return PHC(parameters: parameters, salt: salt, hash: derived).encoded
    }

    /// Whether `password` matches `phc` (compared in constant time). A malformed string never matches.
    /// - Parameter lane: Where the check waits when every permit is taken (``ComputeGate/Lane``).
    func verify(_ password: String, against phc: String, lane: ComputeGate.Lane = .ordinary(share: "")) async throws -> Bool {
        guard let stored = PHC(phc) else { return false }
        let derived = try await derive(password, salt: stored.salt, parameters: stored.parameters, gate: loginGate, lane: lane)
        // SymmetricKey's == compares in constant time.
        return SymmetricKey(data: derived) == SymmetricKey(data: stored.hash)
    }

    /// Spends the time of one verification without a stored hash: used for unknown e-mail addresses,
    /// so that the answer's timing does not tell which addresses have accounts.
    func verifyNothing(_ password: String, lane: ComputeGate.Lane = .ordinary(share: "")) async throws {
        _ = try await derive(password, salt: [UInt8](repeating: 0, count: 16), parameters: parameters, gate: loginGate, lane: lane)
    }

    /// Whether `phc` was made with weaker parameters than the current ones.
    package func needsRehash(_ phc: String) -> Bool {
        guard let stored = PHC(phc) else { return true }
        return stored.parameters != parameters
    }

    func derive(
        _ password: String, salt: [UInt8], parameters: Parameters, gate: ComputeGate, lane: ComputeGate.Lane = .ordinary(share: "")
    ) async throws -> [UInt8] {
        try await gate.run(lane: lane) {
            try await NIOThreadPool.singleton.runIfActive {
                let key = try KDF.Scrypt.deriveKey(
                    from: Array(password.utf8), salt: salt, outputByteCount: 32, rounds: 1 << parameters.logN,
                    blockSize: parameters.blockSize, parallelism: parameters.parallelism)
                return key.withUnsafeBytes { Array($0) }
            }
        }
    }
}

/// A PHC string of scrypt: `$scrypt$ln=<log2 N>,r=<r>,p=<p>$<salt>$<hash>`.
struct PHC: Equatable {
    var parameters: PasswordHasher.Parameters
    var salt: [UInt8]
    var hash: [UInt8]

    init(parameters: PasswordHasher.Parameters, salt: [UInt8], hash: [UInt8]) {
        self.parameters = parameters
        self.salt = salt
        self.hash = hash
    }

    init?(_ text: String) {
        let parts = text.split(separator: "$", omittingEmptySubsequences: false)
        guard parts.count == 5, parts[0].isEmpty, parts[1] == "scrypt" else { return nil }
        var values: [String: Int] = [:]
        for pair in parts[2].split(separator: ",") {
            let keyValue = pair.split(separator: "=")
            guard keyValue.count == 2, let value = Int(keyValue[1]) else { return nil }
            values[String(keyValue[0])] = value
        }
        guard let logN = values["ln"], (1...24).contains(logN), let r = values["r"], (1...32).contains(r), let p = values["p"],
            (1...16).contains(p), let salt = Self.decode(parts[3]), let hash = Self.decode(parts[4]), salt.count >= 8, hash.count >= 16
        else { return nil }
        self.init(parameters: .init(logN: logN, blockSize: r, parallelism: p), salt: salt, hash: hash)
    }

    var encoded: String {
        "$scrypt$ln=\(parameters.logN),r=\(parameters.blockSize),p=\(parameters.parallelism)$\(Self.encode(salt))$\(Self.encode(hash))"
    }

    static func encode(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString().replacingOccurrences(of: "=", with: "")
    }

    static func decode(_ text: Substring) -> [UInt8]? {
        let padded = String(text) + String(repeating: "=", count: (4 - text.count % 4) % 4)
        return Data(base64Encoded: padded).map { Array($0) }
    }
}

/// At most `permits` bodies at once; callers beyond wait in one of two lanes, and beyond a lane's
/// bound are turned away (``HospitalError/busy``, 429 with `Retry-After`).
///
/// A sign-in from an address that signed in to the account before (``Lane/trusted``) waits in a lane of its
/// own that is served first, so that a flood of sign-ins for unknown accounts from many addresses keeps
/// the people who use the hospital able to sign in (ASVS 2.2.1). Every other caller shares the ordinary
/// lane, known account or not (no timing tells which accounts exist), and one client (an address, an
/// IPv6 /64) may hold at most ``perShareLimit`` of its places.
actor ComputeGate {
    /// Which queue a caller waits in.
    enum Lane: Sendable, Equatable {
        /// Served first: a sign-in from an address this account signed in from before.
        case trusted
        /// Everyone else; `share` names the client whose places are bounded.
        case ordinary(share: String)
    }

    let permits: Int
    let queueLimit: Int
    let trustedQueueLimit: Int
    let perShareLimit: Int
    private var running = 0
    private var trusted: [CheckedContinuation<Void, Never>] = []
    private var ordinary: [CheckedContinuation<Void, Never>] = []
    private var shares: [String: Int] = [:]

    /// Callers waiting for a permit.
    var queued: Int { trusted.count + ordinary.count }

    /// - Parameters:
    ///   - queueLimit: Callers the ordinary lane holds.
    ///   - trustedQueueLimit: Callers the trusted lane holds.
    ///   - perShareLimit: Places of the ordinary lane one client may hold.
    init(permits: Int, queueLimit: Int, trustedQueueLimit: Int = 16, perShareLimit: Int? = nil) {
        self.permits = permits
        self.queueLimit = queueLimit
        self.trustedQueueLimit = trustedQueueLimit
        self.perShareLimit = perShareLimit ?? max(1, queueLimit / 8)
    }

    func run<T: Sendable>(lane: Lane = .ordinary(share: ""), _ body: @Sendable () async throws -> T) async throws -> T {
        if running >= permits {
            switch lane {
            case .trusted:
                guard trusted.count < trustedQueueLimit else { throw HospitalError.busy }
                await withCheckedContinuation { trusted.append($0) }
            case .ordinary(let share):
                guard ordinary.count < queueLimit, shares[share, default: 0] < perShareLimit else { throw HospitalError.busy }
                shares[share, default: 0] += 1
                await withCheckedContinuation { ordinary.append($0) }
                shares[share, default: 1] -= 1
                if shares[share] == 0 { shares[share] = nil }
            }
        } else {
            running += 1
        }
        defer {
            // The permit passes on: the trusted lane first.
            if !trusted.isEmpty {
                trusted.removeFirst().resume()
            } else if !ordinary.isEmpty {
                ordinary.removeFirst().resume()
            } else {
                running -= 1
            }
        }
        return try await body()
    }
}
