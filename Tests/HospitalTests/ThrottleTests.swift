import ChunkChain
import Foundation
import GRDB
import TestSupport
import Testing

@testable import Hospital
@testable import HospitalAPI
@testable import HospitalCore
@testable import HospitalPortal
@testable import HospitalSQLite

/// Login and sign-up floods: limits an attacker elsewhere cannot turn against a user, answered at once
/// with a growing Retry-After, audited as one summary per window, and kept across a restart.
@Suite struct ThrottleTests {
    static let password = "correct horse battery"

    func fixtureWithAda() async throws -> HospitalFixture {
        let fixture = try HospitalFixture()
        _ = try await fixture.accounts.registerPatient(
            .init(name: "Ada", email: "ada@example.org", password: Self.password, dateOfBirth: "1985-04-12", phone: "0123456"))
        return fixture
    }

    func throttledAfter(_ attempt: () async throws -> Void) async -> Int? {
        do {
            try await attempt()
            return nil
        } catch let error as HospitalError where error.code == .throttled {
            return error.retryAfter
        } catch {
            return nil
        }
    }

    @Test func anAttackerElsewhereCannotLockTheUserOut() async throws {
        let fixture = try await fixtureWithAda()
        for _ in 0..<40 {
            _ = try? await fixture.accounts.login(email: "ada@example.org", password: "wrong guess!", client: "203.0.113.66")
            fixture.clock.advance(by: 1)
        }
        // The attacker's address waits; Ada, from her own address, logs in at once.
        #expect(
            await throttledAfter {
                _ = try await fixture.accounts.login(email: "ada@example.org", password: Self.password, client: "203.0.113.66")
            } != nil)
        _ = try await fixture.accounts.login(email: "ada@example.org", password: Self.password, client: "198.51.100.7")
    }

    @Test func theDelayDoublesWithEachFailureAndNothingSleeps() async throws {
        let fixture = try await fixtureWithAda()
        for _ in 0..<5 {
            await #expect(throws: HospitalError.badCredentials) {
                _ = try await fixture.accounts.login(email: "ada@example.org", password: "wrong guess!", client: "c")
            }
        }
        var delays: [Int] = []
        for _ in 0..<5 {
            let started = ContinuousClock.now
            let delay = try #require(
                await throttledAfter {
                    _ = try await fixture.accounts.login(email: "ada@example.org", password: "wrong guess!", client: "c")
                })
            #expect(ContinuousClock.now - started < .seconds(1), "a throttled attempt is answered at once")
            delays.append(delay)
            fixture.clock.advance(by: Int64(delay))
            await #expect(throws: HospitalError.badCredentials) {
                _ = try await fixture.accounts.login(email: "ada@example.org", password: "wrong guess!", client: "c")
            }
        }
        #expect(delays == [1, 2, 4, 8, 16])
    }

    @Test func guessesSpreadOverManyAddressesMeetTheAccountCeiling() async throws {
        let fixture = try await fixtureWithAda()
        for address in 0..<100 {
            _ = try? await fixture.accounts.login(email: "ada@example.org", password: "wrong guess!", client: "10.0.\(address).1")
        }
        #expect(
            await throttledAfter {
                _ = try await fixture.accounts.login(email: "ada@example.org", password: "wrong guess!", client: "10.9.9.9")
            } != nil)
        fixture.clock.advance(by: 15 * 60)
        _ = try await fixture.accounts.login(email: "ada@example.org", password: Self.password, client: "10.9.9.9")
    }

    /// N6: wrong passwords for the admin's address from many addresses meet the account's ceiling, but
    /// the owner, from an address they signed in from before, still gets in; a fresh address waits.
    @Test func theAccountCeilingSlowsTheAttackerNotTheOwner() async throws {
        let fixture = try await fixtureWithAda()
        _ = try await fixture.accounts.login(email: "ada@example.org", password: Self.password, client: "198.51.100.7")
        for address in 0..<100 {
            _ = try? await fixture.accounts.login(email: "ada@example.org", password: "wrong guess!", client: "10.0.\(address).1")
        }
        #expect(
            await throttledAfter {
                _ = try await fixture.accounts.login(email: "ada@example.org", password: Self.password, client: "192.0.2.1")
            } != nil)
        _ = try await fixture.accounts.login(email: "ada@example.org", password: Self.password, client: "198.51.100.7")
        // Known for 30 days, then no longer.
        fixture.clock.advance(by: 31 * 86400)
        #expect(await !fixture.accounts.throttle.isKnown(account: "ada@example.org", client: "198.51.100.7", now: fixture.clock.now))
    }

    /// N20: an IPv6 client is counted by its /64 (one subscriber's share), so that 2^64 addresses are one.
    @Test func anIPv6ClientIsCountedByItsSlash64() async throws {
        #expect(LoginThrottle.clientKey("2001:db8:1:2:aaaa::1") == "2001:db8:1:2::/64")
        #expect(LoginThrottle.clientKey("[2001:DB8:1:2::ffff]") == "2001:db8:1:2::/64")
        #expect(LoginThrottle.clientKey("2001:db8:1:3::1") == "2001:db8:1:3::/64")
        #expect(LoginThrottle.clientKey("203.0.113.7") == "203.0.113.7")
        let fixture = try await fixtureWithAda()
        for host in 1...5 {
            _ = try? await fixture.accounts.login(email: "ada@example.org", password: "wrong guess!", client: "2001:db8:1:2::\(host)")
        }
        #expect(
            await throttledAfter {
                _ = try await fixture.accounts.login(email: "ada@example.org", password: Self.password, client: "2001:db8:1:2::99")
            } != nil)
        _ = try await fixture.accounts.login(email: "ada@example.org", password: Self.password, client: "2001:db8:1:3::1")
    }

    /// N15: the failure that makes a counter throttle is saved with it, so a crash right after (a restart
    /// within the 10 s between ordinary saves) does not lift the throttle.
    @Test func theFailureThatThrottlesIsSavedAtOnce() async throws {
        let fixture = try await fixtureWithAda()
        for _ in 0..<5 { _ = try? await fixture.accounts.login(email: "ada@example.org", password: "wrong guess!", client: "c") }
        let restarted = Accounts(
            storage: fixture.storage, hasher: PasswordHasher(parameters: .testing, random: systemRandom),
            clock: fixture.clock.source, random: systemRandom)
        #expect(
            await throttledAfter { _ = try await restarted.login(email: "ada@example.org", password: Self.password, client: "c") } != nil)
    }

    /// N4: with every permit taken and the ordinary lane full of sign-ins from a flood, a sign-in from an
    /// address the account knows waits in its own lane and goes first; one client holds a bounded share.
    @Test func aKnownAddressKeepsItsTurnUnderAFlood() async throws {
        let gate = ComputeGate(permits: 1, queueLimit: 4, trustedQueueLimit: 2, perShareLimit: 2)
        let (started, release) = (AsyncStream<Void>.makeStream(), AsyncStream<Void>.makeStream())
        let order = Order()
        async let holder: Void = gate.run(lane: .ordinary(share: "flood-0")) {
            started.continuation.yield()
            for await _ in release.stream { break }
        }
        for await _ in started.stream { break }
        async let floodA: Void = gate.run(lane: .ordinary(share: "flood-1")) { await order.add("flood") }
        async let floodB: Void = gate.run(lane: .ordinary(share: "flood-1")) { await order.add("flood") }
        while await gate.queued < 2 { await Task.yield() }
        // One client's share of the ordinary lane is full; another client still gets a place.
        await #expect(throws: HospitalError.busy) { try await gate.run(lane: .ordinary(share: "flood-1")) {} }
        async let owner: Void = gate.run(lane: .trusted) { await order.add("owner") }
        while await gate.queued < 3 { await Task.yield() }
        release.continuation.yield()
        _ = try await (holder, floodA, floodB, owner)
        #expect(await order.names.first == "owner")
    }

    actor Order {
        var names: [String] = []
        func add(_ name: String) { names.append(name) }
    }

    @Test(.sqliteSchema) func refusedAttemptsAreAuditedAsOneSummaryWithACount() async throws {
        let fixture = try await fixtureWithAda()
        func loginRows() async throws -> [AuditEntry] {
            try await fixture.database.writer.read { db in
                try AuditEntry.filter(Column("action") == "login").order(Column("id")).fetchAll(db)
            }
        }
        for _ in 0..<5 { _ = try? await fixture.accounts.login(email: "ada@example.org", password: "wrong guess!", client: "c") }
        let afterFailures = try await loginRows().count
        for _ in 0..<200 { _ = try? await fixture.accounts.login(email: "ada@example.org", password: "wrong guess!", client: "c") }
        #expect(try await loginRows().count == afterFailures, "throttled attempts append no row each")
        fixture.clock.advance(by: 16 * 60)
        _ = try await fixture.accounts.login(email: "ada@example.org", password: Self.password, client: "c")
        let summaries = try await loginRows().filter { $0.detail.contains("attempts refused") }
        #expect(summaries.count == 1)
        #expect(summaries.first?.detail.hasPrefix("200 attempts refused (account and client throttled) from c") == true)
        #expect(summaries.first?.subject.hasPrefix("user:") == true)
    }

    @Test func whatWasTypedIntoTheEmailFieldOfAnUnknownAccountIsNotKept() async throws {
        let fixture = try await fixtureWithAda()
        _ = try? await fixture.accounts.login(email: "My-Secret-Passw0rd", password: "x", client: "c")
        let details = try await fixture.ledgerEntries().map(\.detail)
        #expect(!details.contains { $0.lowercased().contains("my-secret-passw0rd") })
    }

    @Test func countersSurviveARestart() async throws {
        let fixture = try await fixtureWithAda()
        for _ in 0..<8 { _ = try? await fixture.accounts.login(email: "ada@example.org", password: "wrong guess!", client: "c") }
        // Counters are saved at most every 10 seconds (a crash loses at most that much).
        fixture.clock.advance(by: 11)
        _ = try? await fixture.accounts.login(email: "ada@example.org", password: "wrong guess!", client: "c")
        // A new Accounts over the same database: what a restart does.
        let restarted = Accounts(
            storage: fixture.storage, hasher: PasswordHasher(parameters: .testing, random: systemRandom),
            clock: fixture.clock.source, random: systemRandom)
        #expect(
            await throttledAfter { _ = try await restarted.login(email: "ada@example.org", password: Self.password, client: "c") } != nil)
    }

    @Test func signUpsAreLimitedPerAddressAndATakenAddressIsRefusedBeforeHashing() async throws {
        let fixture = try await fixtureWithAda()
        await #expect(throws: HospitalError(.emailTaken, "An account with this e-mail exists already.", field: "email")) {
            _ = try await fixture.accounts.registerPatient(
                .init(name: "Ada", email: "ada@example.org", password: Self.password, dateOfBirth: "1985-04-12", phone: "0123456"),
                client: "c")
        }
        for index in 0..<29 {
            _ = try await fixture.accounts.registerPatient(
                .init(
                    name: "P\(index)", email: "p\(index)@example.org", password: Self.password, dateOfBirth: "1985-04-12", phone: "0123456"),
                client: "c")
        }
        #expect(
            await throttledAfter {
                _ = try await fixture.accounts.registerPatient(
                    .init(name: "P", email: "p@example.org", password: Self.password, dateOfBirth: "1985-04-12", phone: "0123456"),
                    client: "c")
            } != nil)
        // Another address is not affected.
        _ = try await fixture.accounts.registerPatient(
            .init(name: "Q", email: "q@example.org", password: Self.password, dateOfBirth: "1985-04-12", phone: "0123456"), client: "d")
    }

    @Test func signUpsDoNotTakeTheLoginsTurns() async throws {
        // One sign-up slot, held: logins still run on their own.
        let hasher = PasswordHasher(
            parameters: .testing, concurrency: 1, queueLimit: 1, hashConcurrency: 1, hashQueueLimit: 0, random: systemRandom)
        let release = AsyncStream<Void>.makeStream()
        let started = AsyncStream<Void>.makeStream()
        let holding = Task {
            try await hasher.hashGate.run {
                started.continuation.yield()
                for await _ in release.stream {}
            }
        }
        for await _ in started.stream { break }
        await #expect(throws: HospitalError.busy) { _ = try await hasher.hash("another sign-up") }
        let phc = try await PasswordHasher(parameters: .testing, random: systemRandom).hash("pw")
        #expect(try await hasher.verify("pw", against: phc))
        release.continuation.finish()
        try await holding.value
    }
}
