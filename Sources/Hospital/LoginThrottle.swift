/// Counts failed logins per account and per client address over a sliding window, and refuses further
/// attempts once either has too many, before any password is hashed.
actor LoginThrottle {
    struct Limits: Sendable {
        /// Failures per account within the window before its logins are refused.
        var perAccount = 5
        /// Failures per client address within the window before its logins are refused.
        var perClient = 20
        /// The window, in seconds.
        var window: Int64 = 15 * 60
        /// The most keys remembered; the oldest are dropped beyond it, so memory stays bounded.
        var maxKeys = 100_000
    }

    let limits: Limits
    private var failures: [String: [Int64]] = [:]

    init(limits: Limits = Limits()) {
        self.limits = limits
    }

    /// Throws ``HospitalError/throttled(retryAfter:)`` when the account or the client is over its limit.
    func check(account: String, client: String, now: Int64) throws(HospitalError) {
        for (key, limit) in [("account:" + account, limits.perAccount), ("client:" + client, limits.perClient)] {
            let recent = (failures[key] ?? []).filter { now - $0 < limits.window }
            failures[key] = recent.isEmpty ? nil : recent
            if recent.count >= limit {
                throw .throttled(retryAfter: Int(max(1, recent[recent.count - limit] + limits.window - now)))
            }
        }
    }

    func recordFailure(account: String, client: String, now: Int64) {
        if failures.count >= limits.maxKeys {
            failures = failures.filter { $0.value.contains { now - $0 < limits.window } }
            while failures.count >= limits.maxKeys, let oldest = failures.min(by: { $0.value.last! < $1.value.last! }) {
                failures[oldest.key] = nil
            }
        }
        failures["account:" + account, default: []].append(now)
        failures["client:" + client, default: []].append(now)
    }

    func recordSuccess(account: String) {
        failures["account:" + account] = nil
    }
}
