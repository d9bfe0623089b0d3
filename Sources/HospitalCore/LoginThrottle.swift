import Crypto
import Foundation
import Hex

#if canImport(Glibc)
    import Glibc
#endif

/// Limits on password guessing that an attacker elsewhere cannot turn against a user (OWASP ASVS 2.2.1):
///
/// - **Per account and client address**: after ``Limits/freeFailures`` failures, each further attempt
///   from that address for that account must wait a delay that doubles with every failure (1 s, 2 s,
///   4 s … up to ``Limits/maxDelay``), counted from the last failure. Only that address is slowed: the
///   user logging in from elsewhere is not.
/// - **Per account from everywhere**: a much higher ceiling (``Limits/perAccount`` failures per window)
///   against guessing spread over many addresses. It does not bind an address the account signed in from
///   in the last ``Limits/knownFor`` seconds: the attacker is slowed, not the owner (NIST SP 800-63B
///   §5.2.2). Such an address's sign-ins also wait in the password hasher's trusted lane.
/// - **Per client address over every account**: ``Limits/perClient`` failures per window (credential
///   stuffing).
/// - **Registrations per client address**: ``Limits/registrationsPerClient`` per window.
///
/// A refused attempt is answered at once with `429` and `Retry-After`: no sleep holds a socket or a KDF
/// slot. Refused attempts are counted, not audited one by one: when a counter's window closes, one
/// summary says how many were refused, appended to the ledger in the transaction that closes it.
///
/// Counters are keyed by a hash of the account (never the text typed into the e-mail field) and the
/// client: its IPv4 address, or the /64 of its IPv6 address (one subscriber's share, 2^64 addresses).
/// They live in the hospital's database, one row each (``SessionStore``), read and written in the
/// transaction of the attempt they count: a restart does not reset them, and instances that share a
/// database share them, so a guesser who alternates instances meets the same limits. A counter whose
/// window ended counts as gone; ``sweep(now:)`` removes such rows and audits their refusals.
struct LoginThrottle: Sendable {
    struct Limits: Sendable {
        var freeFailures = 5
        var maxDelay: Duration = .seconds(15 * 60)
        var perAccount = 100
        var perClient = 50
        var registrationsPerClient = 30
        /// A counter quiet this long ends.
        var window: Duration = .seconds(15 * 60)
        /// How long an address stays known to an account after a sign-in from it.
        var knownFor: Duration = .seconds(30 * 86400)
    }

    typealias Counter = ThrottleCounter

    /// Refused attempts of one counter, told once its window closed.
    struct Summary: Sendable, Equatable {
        enum Scope: String, Sendable {
            case accountFromClient = "account and client"
            case account, client, registration
        }
        var scope: Scope
        var refused: Int
        var userId: Int64?
        var client: String?
        var from: Int64
        var until: Int64
    }

    let limits: Limits
    let storage: any HospitalStorage

    init(storage: any HospitalStorage, limits: Limits = Limits()) {
        self.storage = storage
        self.limits = limits
    }

    static func accountKey(_ account: String) -> String {
        Hex.encode(SHA256.hash(data: Array(account.utf8)).prefix(16))
    }

    /// What one client is counted as: an IPv4 address as it is, an IPv6 address by its /64
    /// (`2001:db8:1:2::/64`), since one subscriber is given a whole /64; anything else as it is.
    static func clientKey(_ address: String) -> String {
        var host = address
        if host.hasPrefix("[") { host = String(host.dropFirst().prefix { $0 != "]" }) }
        if let zone = host.firstIndex(of: "%") { host = String(host[..<zone]) }
        guard host.contains(":") else { return address }
        var bytes = in6_addr()
        guard inet_pton(AF_INET6, host, &bytes) == 1 else { return address }
        let prefix = withUnsafeBytes(of: bytes) { Array($0.prefix(8)) }
        let groups = stride(from: 0, to: 8, by: 2).map { String(UInt16(prefix[$0]) << 8 | UInt16(prefix[$0 + 1]), radix: 16) }
        return groups.joined(separator: ":") + "::/64"
    }

    /// The keys of one sign-in's counters.
    struct Keys {
        let pair: String
        let account: String
        let client: String
        let known: String

        init(account: String, client address: String) {
            let (account, client) = (LoginThrottle.accountKey(account), LoginThrottle.clientKey(address))
            pair = "pair:\(account)|\(client)"
            self.account = "account:\(account)"
            self.client = "client:\(client)"
            known = "known:\(account)|\(client)"
        }
    }

    /// When a counter's window ends: a pair counter's a quiet window after its last failure, a known
    /// address's ``Limits/knownFor`` after the last sign-in from it, the others' a window after they began.
    func end(of key: String, _ counter: Counter) -> Int64 {
        if key.hasPrefix("known:") { return counter.lastFailure + limits.knownFor.wholeSeconds }
        if key.hasPrefix("pair:") { return max(counter.lastFailure, counter.windowStart) + limits.window.wholeSeconds }
        return counter.windowStart + limits.window.wholeSeconds
    }

    /// The counters with these keys whose windows have not ended at `now`.
    private func live(_ keys: [String], now: Int64, in sessions: any SessionStore) async throws -> [String: Counter] {
        try await sessions.throttleCounters(keys).filter { now < end(of: $0.key, $0.value) }
    }

    /// Whether the account signed in from this client within ``Limits/knownFor``.
    func isKnown(account: String, client: String, now: Int64) async throws -> Bool {
        let key = Keys(account: account, client: client).known
        return try await storage.read { [self] in try await live([key], now: now, in: $0.sessions)[key] != nil }
    }

    /// Throws ``HospitalError/throttled(retryAfter:)`` when this attempt must wait, and counts it.
    func checkLogin(account: String, client address: String, now: Int64) async throws {
        let keys = Keys(account: account, client: address)
        let limits = limits
        let counters = try await storage.read { [self] in
            try await live([keys.pair, keys.account, keys.client, keys.known], now: now, in: $0.sessions)
        }
        let known = counters[keys.known] != nil
        var wait: Int64 = 0
        var refused: [String] = []
        if let pair = counters[keys.pair], pair.failures >= limits.freeFailures {
            let delay = min(limits.maxDelay.wholeSeconds, Int64(1) << Int64(min(30, pair.failures - limits.freeFailures)))
            if pair.lastFailure + delay > now {
                wait = max(wait, pair.lastFailure + delay - now)
                refused.append(keys.pair)
            }
        }
        for (key, limit) in [(keys.account, limits.perAccount), (keys.client, limits.perClient)] {
            // The account's ceiling is for guessing from elsewhere: an address the owner signs in from passes it.
            if known, key == keys.account { continue }
            if let counter = counters[key], counter.failures >= limit {
                wait = max(wait, counter.windowStart + limits.window.wholeSeconds - now)
                refused.append(key)
            }
        }
        guard refused.isEmpty else {
            try await storage.write { [refused] in try await $0.sessions.countRefused(keys: refused) }
            throw HospitalError.throttled(retryAfter: Int(max(1, wait)))
        }
    }

    /// Counts a failed attempt against the account from this client, in the transaction that records it.
    func recordFailure(account: String, client address: String, userId: Int64?, now: Int64, in transaction: HospitalTransaction)
        async throws
    {
        let keys = Keys(account: account, client: address)
        let client = Self.clientKey(address)
        for key in [keys.pair, keys.account, keys.client] {
            try await count(
                key, now: now, userId: key == keys.client ? nil : userId, client: key == keys.account ? nil : client, in: transaction)
        }
    }

    /// A correct password from this address: its delays for this account start over.
    func recordSuccess(account: String, client address: String, now: Int64) async throws {
        let key = Keys(account: account, client: address).pair
        try await storage.write { [self] transaction in try await close([key], now: now, in: transaction) }
    }

    /// A whole sign-in (the password, and the second step when the account has one) from this address: the
    /// address is known to the account from now on (``isKnown(account:client:now:)``).
    func remember(account: String, client address: String, now: Int64) async throws {
        let key = Keys(account: account, client: address).known
        try await storage.write { [self] transaction in
            let windowStart = try await live([key], now: now, in: transaction.sessions)[key]?.windowStart ?? now
            let counter = Counter(windowStart: windowStart, lastFailure: now)
            try await transaction.sessions.saveThrottleCounter(counter, key: key, expiresAt: end(of: key, counter))
        }
    }

    /// Throws ``HospitalError/throttled(retryAfter:)`` beyond the registrations a client may make per
    /// window; counts the attempt otherwise.
    func checkRegistration(client address: String, now: Int64) async throws {
        let client = Self.clientKey(address)
        let key = "registration:\(client)"
        let wait = try await storage.write { [self] transaction -> Int64? in
            if let counter = try await live([key], now: now, in: transaction.sessions)[key],
                counter.failures >= limits.registrationsPerClient
            {
                try await transaction.sessions.countRefused(keys: [key])
                return max(1, counter.windowStart + limits.window.wholeSeconds - now)
            }
            try await count(key, now: now, userId: nil, client: client, in: transaction)
            return nil
        }
        if let wait { throw HospitalError.throttled(retryAfter: Int(wait)) }
    }

    /// An admin clears an account's counters (every address's), in the transaction that records it: their
    /// refused attempts are summarised as usual. Returns whether there were any.
    func clear(account: String, now: Int64, in transaction: HospitalTransaction) async throws -> Bool {
        let keys = try await counters(of: account, now: now, in: transaction.sessions)
        try await close(keys, now: now, in: transaction)
        return !keys.isEmpty
    }

    /// Which of these accounts have counters now (an admin's list shows them), in one read.
    func throttled(accounts: [String], now: Int64) async throws -> Set<String> {
        let byKey = Dictionary(accounts.map { (Self.accountKey($0), $0) }) { first, _ in first }
        let live = try await storage.read { [self] in
            try await $0.sessions.throttleCounters(ofAccounts: Array(byKey.keys)).filter { now < end(of: $0.key, $0.value) }
        }
        return Set(live.keys.compactMap { key in byKey[Self.account(ofKey: key)] })
    }

    /// The keys of an account's live counters: its own and each address's.
    private func counters(of account: String, now: Int64, in sessions: any SessionStore) async throws -> [String] {
        try await sessions.throttleCounters(ofAccounts: [Self.accountKey(account)]).filter { now < end(of: $0.key, $0.value) }.keys
            .sorted()
    }

    /// The account key in a counter's key: `account:K` and `pair:K|address` give K.
    static func account(ofKey key: String) -> String {
        let name = key.split(separator: "|", maxSplits: 1).first ?? ""
        return String(name.split(separator: ":", maxSplits: 1).last ?? "")
    }

    /// Removes the counters whose windows ended, summarising their refused attempts in the ledger; a
    /// round takes at most `limit` (the next takes the rest).
    /// - Returns: How many counters went.
    @discardableResult
    func sweep(now: Int64, limit: Int = 500) async throws -> Int {
        try await storage.write { [self] transaction in
            let expired = try await transaction.sessions.takeExpiredThrottleCounters(at: now, limit: limit)
            for (key, counter) in expired.sorted(by: { $0.key < $1.key }) {
                try await summarise(key, counter, now: now, in: transaction)
            }
            return expired.count
        }
    }

    /// Adds a failure to a counter (a new window when its last ended, summarised first).
    private func count(_ key: String, now: Int64, userId: Int64?, client: String?, in transaction: HospitalTransaction) async throws {
        let stored = try await transaction.sessions.throttleCounters([key])[key]
        var counter = Counter(windowStart: now, lastFailure: now, userId: userId, client: client)
        if let stored {
            if now < end(of: key, stored) {
                counter = stored
            } else {
                try await summarise(key, stored, now: now, in: transaction)
            }
        }
        counter.failures += 1
        counter.lastFailure = now
        counter.userId = counter.userId ?? userId
        try await transaction.sessions.saveThrottleCounter(counter, key: key, expiresAt: end(of: key, counter))
    }

    /// Removes counters, summarising their refused attempts.
    private func close(_ keys: [String], now: Int64, in transaction: HospitalTransaction) async throws {
        let stored = try await transaction.sessions.throttleCounters(keys)
        for key in keys {
            guard let counter = stored[key] else { continue }
            try await transaction.sessions.removeThrottleCounter(key: key)
            try await summarise(key, counter, now: now, in: transaction)
        }
    }

    /// One ledger entry for a counter closed at `now` with refused attempts (none when it refused nothing).
    private func summarise(_ key: String, _ counter: Counter, now: Int64, in transaction: HospitalTransaction) async throws {
        guard counter.refused > 0, !key.hasPrefix("known:") else { return }
        let scope: Summary.Scope =
            key.hasPrefix("pair:")
            ? .accountFromClient : key.hasPrefix("account:") ? .account : key.hasPrefix("client:") ? .client : .registration
        try await AuditLedger.append(
            .init(
                actor: nil, .login, subject: counter.userId.map { "user:\($0)" } ?? "account", patient: nil, outcome: .denied,
                detail: "\(counter.refused) attempts refused (\(scope.rawValue) throttled)" + (counter.client.map { " from \($0)" } ?? "")
                    + " between \(counter.windowStart) and \(now)"),
            time: now, in: transaction)
    }
}
