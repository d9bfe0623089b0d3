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
/// summary (``Summary``) says how many were refused, and the caller appends it to the ledger.
///
/// Counters are keyed by a hash of the account (never the text typed into the e-mail field) and the
/// client: its IPv4 address, or the /64 of its IPv6 address (one subscriber's share, 2^64 addresses).
/// ``snapshot()`` and ``init(limits:restoring:)`` carry them across a restart; a failure that makes a
/// counter throttle is due for saving at once (``snapshotIfDue(now:every:)``).
actor LoginThrottle {
    struct Limits: Sendable {
        var freeFailures = 5
        var maxDelay: Duration = .seconds(15 * 60)
        var perAccount = 100
        var perClient = 50
        var registrationsPerClient = 30
        /// A counter quiet this long is dropped.
        var window: Duration = .seconds(15 * 60)
        /// The most counters kept; beyond it the stalest are dropped, so memory stays bounded.
        var maxKeys = 50_000
        /// How long an address stays known to an account after a sign-in from it.
        var knownFor: Duration = .seconds(30 * 86400)
        /// The most known addresses kept (apart from the counters, so a flood cannot push them out).
        var maxKnown = 50_000
    }

    /// One counter's state; `Codable` for the snapshot.
    struct Counter: Codable, Sendable, Equatable {
        var failures = 0
        var windowStart: Int64
        var lastFailure: Int64
        /// Attempts refused in this window, for the summary.
        var refused = 0
        /// The account's user, when the account exists (for the summary's subject).
        var userId: Int64?
        var client: String?
    }

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
    private(set) var counters: [String: Counter]
    private var closed: [Summary] = []
    /// Changes since the last ``snapshot()``.
    private(set) var isDirty = false

    /// The addresses each account signed in from (`known:<account>|<client>`, the last sign-in's time as
    /// `lastFailure`): apart from the failure counters, so that a flood of failures cannot push them out.
    private var known: [String: Counter]

    init(limits: Limits = Limits(), restoring counters: [String: Counter] = [:]) {
        self.limits = limits
        self.counters = counters.filter { !$0.key.hasPrefix("known:") }
        self.known = counters.filter { $0.key.hasPrefix("known:") }
    }

    /// Takes in the counters saved by the last run (those counted since stay as they are).
    func restore(_ saved: [String: Counter]) {
        for (key, counter) in saved where key.hasPrefix("known:") { known[key] = known[key] ?? counter }
        for (key, counter) in saved where !key.hasPrefix("known:") { counters[key] = counters[key] ?? counter }
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

    /// Whether the account signed in from this client within ``Limits/knownFor``.
    func isKnown(account: String, client: String, now: Int64) -> Bool {
        guard let seen = known["known:\(Self.accountKey(account))|\(Self.clientKey(client))"] else { return false }
        return now < seen.lastFailure + limits.knownFor.wholeSeconds
    }

    /// Throws ``HospitalError/throttled(retryAfter:)`` when this attempt must wait, and counts it.
    func checkLogin(account: String, client address: String, now: Int64) throws(HospitalError) {
        expire(now: now)
        let client = Self.clientKey(address)
        let known = isKnown(account: account, client: address, now: now)
        let accountKey = Self.accountKey(account)
        var wait: Int64 = 0
        var refusedKeys: [String] = []
        if let pair = counters["pair:\(accountKey)|\(client)"], pair.failures >= limits.freeFailures {
            let delay = min(limits.maxDelay.wholeSeconds, Int64(1) << Int64(min(30, pair.failures - limits.freeFailures)))
            if pair.lastFailure + delay > now {
                wait = max(wait, pair.lastFailure + delay - now)
                refusedKeys.append("pair:\(accountKey)|\(client)")
            }
        }
        for (key, limit) in [("account:\(accountKey)", limits.perAccount), ("client:\(client)", limits.perClient)] {
            // The account's ceiling is for guessing from elsewhere: an address the owner signs in from passes it.
            if known, key.hasPrefix("account:") { continue }
            if let counter = counters[key], counter.failures >= limit {
                wait = max(wait, counter.windowStart + limits.window.wholeSeconds - now)
                refusedKeys.append(key)
            }
        }
        guard refusedKeys.isEmpty else {
            for key in refusedKeys { counters[key]?.refused += 1 }
            isDirty = true
            throw .throttled(retryAfter: Int(max(1, wait)))
        }
    }

    func recordFailure(account: String, client address: String, userId: Int64?, now: Int64) {
        let accountKey = Self.accountKey(account)
        let client = Self.clientKey(address)
        for (key, limit) in [
            ("pair:\(accountKey)|\(client)", limits.freeFailures), ("account:\(accountKey)", limits.perAccount),
            ("client:\(client)", limits.perClient),
        ] {
            count(key, now: now, userId: key.hasPrefix("client:") ? nil : userId, client: key.hasPrefix("account:") ? nil : client)
            // The failure that makes a counter throttle is saved at once: a crash right after must not undo it.
            if counters[key]?.failures == limit { urgent = true }
        }
    }

    /// An admin clears an account's counters (every address's): its refused attempts are summarised as
    /// usual. Returns whether there were any.
    func clear(account: String, now: Int64) -> Bool {
        let accountKey = Self.accountKey(account)
        let keys = counters.keys.filter { $0 == "account:\(accountKey)" || $0.hasPrefix("pair:\(accountKey)|") }
        for key in keys { close(key, now: now) }
        return !keys.isEmpty
    }

    /// Whether an account has counters now (an admin's list shows it).
    func isThrottled(account: String) -> Bool {
        let accountKey = Self.accountKey(account)
        return counters.keys.contains { $0 == "account:\(accountKey)" || $0.hasPrefix("pair:\(accountKey)|") }
    }

    /// A correct password from this address: its delays for this account start over.
    func recordSuccess(account: String, client address: String, now: Int64) {
        close("pair:\(Self.accountKey(account))|\(Self.clientKey(address))", now: now)
    }

    /// A whole sign-in (the password, and the second step when the account has one) from this address: the
    /// address is known to the account from now on (``isKnown(account:client:now:)``).
    func remember(account: String, client address: String, now: Int64) {
        let key = "known:\(Self.accountKey(account))|\(Self.clientKey(address))"
        if known[key] == nil, known.count >= limits.maxKnown, let oldest = known.min(by: { $0.value.lastFailure < $1.value.lastFailure }) {
            known[oldest.key] = nil
        }
        known[key] = Counter(windowStart: known[key]?.windowStart ?? now, lastFailure: now)
        isDirty = true
    }

    /// Throws ``HospitalError/throttled(retryAfter:)`` beyond the registrations a client may make per
    /// window; counts the attempt otherwise.
    func checkRegistration(client address: String, now: Int64) throws(HospitalError) {
        expire(now: now)
        let client = Self.clientKey(address)
        let key = "registration:\(client)"
        if let counter = counters[key], counter.failures >= limits.registrationsPerClient {
            counters[key]?.refused += 1
            isDirty = true
            throw .throttled(retryAfter: Int(max(1, counter.windowStart + limits.window.wholeSeconds - now)))
        }
        count(key, now: now, userId: nil, client: client)
    }

    /// The summaries of windows closed since the last call.
    func takeSummaries(now: Int64) -> [Summary] {
        expire(now: now)
        defer { closed = [] }
        return closed
    }

    /// Every live counter and known address, for persisting; clears ``isDirty``.
    func snapshot() -> [String: Counter] {
        isDirty = false
        return counters.merging(known) { current, _ in current }
    }

    private var lastSnapshot: Int64 = 0
    /// A counter began to throttle since the last snapshot: the next one is due at once.
    private var urgent = false

    /// ``snapshot()`` when the counters changed and the last one is at least `every` seconds old, or at once
    /// when a counter began to throttle.
    func snapshotIfDue(now: Int64, every: Int64) -> [String: Counter]? {
        guard isDirty, urgent || now - lastSnapshot >= every else { return nil }
        lastSnapshot = now
        urgent = false
        return snapshot()
    }

    private func count(_ key: String, now: Int64, userId: Int64?, client: String?) {
        if counters.count >= limits.maxKeys, counters[key] == nil { evict(now: now) }
        var counter = counters[key] ?? Counter(windowStart: now, lastFailure: now, userId: userId, client: client)
        counter.failures += 1
        counter.lastFailure = now
        counter.userId = counter.userId ?? userId
        counters[key] = counter
        isDirty = true
    }

    private var lastExpiry: Int64 = .min

    /// Closes the counters whose window passed: a pair counter after a quiet window, the others a
    /// window after they started. A sweep over every counter runs at most once a second, so that many
    /// counters do not make each attempt costly; a counter a second past its window is harmless.
    private func expire(now: Int64) {
        guard now > lastExpiry else { return }
        lastExpiry = now
        for (key, counter) in counters {
            let end =
                key.hasPrefix("pair:")
                ? max(counter.lastFailure, counter.windowStart) + limits.window.wholeSeconds
                : counter.windowStart + limits.window.wholeSeconds
            if now >= end { close(key, now: now) }
        }
        let before = known.count
        known = known.filter { now < $0.value.lastFailure + limits.knownFor.wholeSeconds }
        if known.count != before { isDirty = true }
    }

    private func close(_ key: String, now: Int64) {
        guard let counter = counters.removeValue(forKey: key) else { return }
        isDirty = true
        guard counter.refused > 0 else { return }
        let scope: Summary.Scope =
            key.hasPrefix("pair:")
            ? .accountFromClient : key.hasPrefix("account:") ? .account : key.hasPrefix("client:") ? .client : .registration
        closed.append(
            Summary(
                scope: scope, refused: counter.refused, userId: counter.userId, client: counter.client, from: counter.windowStart,
                until: now))
    }

    private func evict(now: Int64) {
        expire(now: now)
        let excess = counters.count - limits.maxKeys + 1
        guard excess > 0 else { return }
        for (key, _) in counters.sorted(by: { $0.value.lastFailure < $1.value.lastFailure }).prefix(excess) { close(key, now: now) }
    }
}
