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
        #expect(try await !fixture.accounts.throttle.isKnown(account: "ada@example.org", client: "198.51.100.7", now: fixture.clock.now))
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

    @Test func refusedAttemptsAreAuditedAsOneSummaryWithACount() async throws {
        let fixture = try await fixtureWithAda()
        func loginRows() async throws -> [AuditEntry] { try await fixture.ledgerEntries().filter { $0.action == .login } }
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

/// The throttle's counters are rows of the hospital's database: instances sharing it share them, and a
/// database from before (one snapshot of them all) keeps its counters.
@Suite struct SharedThrottleTests {
    static let password = "correct horse battery"

    /// Two instances (two `Accounts` over one storage, as two processes are over one database): a guesser
    /// who alternates between them is refused after the same five failures as on one, and the refusals
    /// are audited once.
    @Test(arguments: HospitalStorageTests.Engine.available) func aGuesserAlternatingInstancesMeetsOneThrottle(
        _ engine: HospitalStorageTests.Engine
    ) async throws {
        try await engine.run { storage, _ in
            let clock = TestClock()
            func instance() -> Accounts {
                Accounts(
                    storage: storage, hasher: PasswordHasher(parameters: .testing, random: systemRandom), clock: clock.source,
                    random: systemRandom)
            }
            let (one, two) = (instance(), instance())
            _ = try await one.registerPatient(
                .init(name: "Ada", email: "ada@example.org", password: Self.password, dateOfBirth: "1985-04-12", phone: "0123456"))
            for attempt in 0..<5 {
                await #expect(throws: HospitalError.badCredentials) {
                    _ = try await (attempt % 2 == 0 ? one : two).login(email: "ada@example.org", password: "wrong guess!", client: "c")
                }
            }
            for instance in [one, two, one] {
                await #expect(throws: HospitalError.self) {
                    _ = try await instance.login(email: "ada@example.org", password: Self.password, client: "c")
                }
            }
            // The admins' list on either instance says so.
            let ada = try #require(try await storage.read { try await $0.accounts.user(email: "ada@example.org") })
            let (throttledOnTwo, throttledOnOne) = (try await two.throttled([ada]), try await one.throttled([ada]))
            #expect(throttledOnTwo == [ada.id!] && throttledOnOne == [ada.id!])
            // The other instance's known-address check sees a sign-in made through the first.
            _ = try await one.login(email: "ada@example.org", password: Self.password, client: "d")
            #expect(try await two.throttle.isKnown(account: "ada@example.org", client: "d", now: clock.now))
            clock.advance(by: 16 * 60)
            _ = try await two.login(email: "ada@example.org", password: Self.password, client: "c")
            let summaries = try await storage.read { try await $0.ledger.search(.init(), limit: 100) }.map(\.entry.detail).filter {
                $0.contains("attempts refused")
            }
            #expect(
                summaries.count == 1 && summaries[0].hasPrefix("3 attempts refused (account and client throttled) from c"), "\(summaries)")
        }
    }

    @Test func theSnapshotOfAnOlderDatabaseIsCarriedOver() async throws {
        let queue = try DatabaseQueue(configuration: HospitalDatabase.configuration)
        try HospitalDatabase.migrator.migrate(queue, upTo: "v13-checkpoints")
        let now = Int64(Date().timeIntervalSince1970)
        let key = "pair:\(LoginThrottle.accountKey("ada@example.org"))|c"
        let snapshot = [key: ThrottleCounter(failures: 7, windowStart: now - 60, lastFailure: now - 1, refused: 2, userId: 1, client: "c")]
        try await queue.write { db in
            try db.execute(sql: "INSERT INTO throttle_state (id, state) VALUES (1, ?)", arguments: [try JSONEncoder().encode(snapshot)])
        }
        let storage = SQLiteHospitalStorage(try HospitalDatabase(writer: queue))
        let carried = try await storage.read { try await $0.sessions.throttleCounters([key]) }
        #expect(carried == snapshot)
        let throttle = LoginThrottle(storage: storage)
        await #expect(throws: HospitalError.self) { try await throttle.checkLogin(account: "ada@example.org", client: "c", now: now) }
        // It ends as its window would have: 15 quiet minutes after its last failure.
        #expect(try await throttle.sweep(now: now + 15 * 60 - 2) == 0)
        #expect(try await throttle.sweep(now: now + 15 * 60 - 1) == 1)
    }
}
