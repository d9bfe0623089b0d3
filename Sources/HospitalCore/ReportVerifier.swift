package import ChunkChain
import Foundation
package import Logging
import Metrics
import Operations
import ServiceLifecycle

/// Verifies every report's chain on a schedule while the server runs: each report whose last recorded
/// verification is older than `interval` is read whole with the keyring — every chunk's hash, header
/// and authentication tag, and both copies of a mirrored chunk — one report at a time, and the outcome
/// is recorded (`verifiedAt`, or `damagedAt`), which is what the portal's "verified intact" mark shows
/// without reading a chunk per page view. A store that cannot be reached marks nothing: it is tried
/// again at the next round. `chainvault chain verify --all` records the same way.
package struct ReportVerifier: Service {
    let storage: any HospitalStorage
    let vault: ReportVault
    /// A report is verified again once its last verification is this old.
    let interval: Duration
    /// Time between two looks for reports that are due.
    let pause: Duration
    let clock: @Sendable () -> Int64
    /// Instances sharing a database verify in turn: the one holding ``SoleRole/reportVerifier``.
    let leadership: any Leadership
    let logger: Logger

    package init(
        storage: any HospitalStorage, vault: ReportVault, interval: Duration, pause: Duration = .seconds(60),
        clock: @escaping @Sendable () -> Int64, leadership: any Leadership = SoleInstance(),
        logger: Logger = Logger(label: "chainvault.verify")
    ) {
        self.storage = storage
        self.vault = vault
        self.interval = interval
        self.pause = pause
        self.clock = clock
        self.leadership = leadership
        self.logger = logger
    }

    package func run() async throws {
        await Periodic.run(every: pause) {
            guard await leadership.holds(.reportVerifier) else { return }
            do {
                while try await verifyDue() > 0 {}
            } catch {
                logger.error("verifying report chains failed; trying again later", metadata: ["error": "\(error)"])
            }
        }
    }

    /// Verifies up to `batch` reports that are due, oldest verification first.
    /// - Returns: How many were verified and recorded (intact or damaged); one that could not be read for
    ///   another reason is skipped, and tried again at the next round.
    @discardableResult
    func verifyDue(batch: Int = 50) async throws -> Int {
        let now = clock()
        let due = try await storage.read {
            try await $0.reports.heads(lastVerifiedAtOrBefore: now - interval.components.seconds, limit: batch)
        }
        var recorded = 0
        var damaged = 0
        for report in due {
            let intact: Bool
            do {
                // A head the database holds that is not a pointer at all is a damaged record.
                if let head = ChunkPointer(report.head) { intact = try await vault.verify(head: head) } else { intact = false }
            } catch {
                // Not the chain's fault (the store cannot be reached, the keyring): nothing is recorded.
                logger.error("could not verify a report's chain", metadata: ["report": "\(report.id)", "error": "\(error)"])
                continue
            }
            if !intact {
                damaged += 1
                logger.error("a report's chain is damaged", metadata: ["report": "\(report.id)", "head": "\(report.head)"])
            }
            try await Report.recordVerification([report.head: intact], at: clock(), in: storage)
            recorded += 1
        }
        if recorded > 0 {
            logger.info("verified report chains", metadata: ["reports": "\(recorded)", "damaged": "\(damaged)"])
            Counter(label: "chainvault_report_verifications_total", dimensions: [("outcome", "intact")]).increment(by: recorded - damaged)
            Counter(label: "chainvault_report_verifications_total", dimensions: [("outcome", "damaged")]).increment(by: damaged)
        }
        return recorded
    }
}

extension ReportVault {
    /// Reads the whole chain at `head` with the keyring, checking both copies of mirrored chunks.
    /// - Returns: Whether it is intact (false for a missing or damaged chunk).
    /// - Throws: What is not the chain's fault (a store that cannot be reached, a missing keyring).
    package func verify(head: ChunkPointer) async throws -> Bool {
        let entry = try await indexEntry(head)
        do {
            _ = try await ChainReader(store: store).read(
                head: head, keyring: try await keyring(), wrappedKey: entry?.wrappedKey, mirrored: entry?.mirrored ?? mirror,
                checkMirror: true
            ) { _ in }
            return true
        } catch is ChainError {
            return false
        }
    }
}
