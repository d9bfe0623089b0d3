import Foundation
import Transparency

/// What `make bench` measures of the audit ledger (`chainvault audit bench`): appends to a fresh ledger
/// in a database file, then inclusion and consistency proofs from its stored tree.
package enum AuditBenchmark {
    package struct Result: Sendable, Codable {
        /// Entries appended one per transaction (each commit synced, as the service appends them).
        package var durableAppends: Int
        package var durableAppendMicroseconds: Double
        /// Entries appended a thousand per transaction: the hashing and tree cost without the syncs.
        package var batchedAppends: Int
        package var batchedAppendMicroseconds: Double
        package var size: Int
        /// Random inclusion proofs at the final size, each verified.
        package var proofs: Int
        package var proofMicroseconds: Double
        /// Random consistency proofs to the final size, each verified.
        package var consistencyMicroseconds: Double
        /// Hashes in a proof at the final size (log2 n).
        package var proofHashes: Int
    }

    static func microseconds(_ start: ContinuousClock.Instant, _ count: Int) -> Double {
        let elapsed = ContinuousClock.now - start
        return (Double(elapsed.components.seconds) * 1e6 + Double(elapsed.components.attoseconds) / 1e12) / Double(max(count, 1))
    }

    /// The `number`th entry: a download by one of 50 doctors of one of 5 000 reports of 700 patients.
    static func event(_ number: Int) -> AuditLedger.Event {
        .init(actor: Int64(number % 50 + 1), .download, subject: "report:\(number % 5000)", patient: Int64(number % 700 + 1))
    }

    /// - Parameter storage: A fresh, empty hospital storage.
    package static func run(storage: any HospitalStorage, entries: Int, durable: Int, proofs: Int) async throws -> Result {
        var started = ContinuousClock.now
        for number in 0..<durable {
            try await storage.write { try await AuditLedger.append(event(number), time: 1_800_000_000 + Int64(number), in: $0) }
        }
        let durableCost = microseconds(started, durable)
        started = ContinuousClock.now
        var appended = durable
        while appended < entries {
            let batch = min(1000, entries - appended)
            let first = appended
            try await storage.write { transaction in
                for number in first..<(first + batch) {
                    try await AuditLedger.append(event(number), time: 1_800_000_000 + Int64(number), in: transaction)
                }
            }
            appended += batch
        }
        let batchedCost = microseconds(started, entries - durable)
        let (size, root) = try await storage.read { try await AuditTree.head(in: $0.ledger) }
        let ids = (0..<proofs).map { _ in Int64.random(in: 1...Int64(size)) }
        started = ContinuousClock.now
        var hashes = 0
        for id in ids {
            let (leaf, proof) = try await storage.read { transaction in
                let entry = try await transaction.ledger.entry(id: id)!
                let proof = try await AuditTree.withSubtrees(in: transaction.ledger) {
                    try MerkleTree.inclusionProof(index: Int(id - 1), size: size, $0)
                }
                return (entry.leafHash, proof)
            }
            guard MerkleTree.verifyInclusion(leafHash: leaf, index: Int(id - 1), size: size, proof: proof, root: root) else {
                throw AuditNotary.Refusal.damagedTree("an inclusion proof of entry \(id) did not verify")
            }
            hashes = proof.count
        }
        let proofCost = microseconds(started, proofs)
        started = ContinuousClock.now
        for first in ids.map({ Int($0) }) where first < size {
            let (firstRoot, proof) = try await storage.read { transaction in
                try await AuditTree.withSubtrees(in: transaction.ledger) {
                    (try MerkleTree.root(size: first, $0), try MerkleTree.consistencyProof(first: first, size: size, $0))
                }
            }
            guard MerkleTree.verifyConsistency(size1: first, size2: size, root1: firstRoot, root2: root, proof: proof) else {
                throw AuditNotary.Refusal.damagedTree("a consistency proof from \(first) did not verify")
            }
        }
        return Result(
            durableAppends: durable, durableAppendMicroseconds: durableCost, batchedAppends: entries - durable,
            batchedAppendMicroseconds: batchedCost, size: size, proofs: proofs, proofMicroseconds: proofCost,
            consistencyMicroseconds: microseconds(started, proofs), proofHashes: hashes)
    }
}
