import ArgumentParser
import BucketStore
import ChunkChain
import DurableFiles
import Foundation
import Hospital
import HospitalCore
import Logging
import NIOCore
import Settings
import Transparency

/// Where the audit ledger's signing key and checkpoint file are: shared by `serve` and `audit`.
struct AuditOptions: ParsableArguments {
    @Option(name: .setting(.auditSigningKey), help: .setting(.auditSigningKey))
    var signingKey: String?

    @Option(name: .setting(.auditCheckpointFile), help: .setting(.auditCheckpointFile))
    var checkpointFile: String?

    func keyPath(root: DataRoot) -> String { signingKey ?? settings.given(.auditSigningKey) ?? root.auditSigningKey }

    /// The local checkpoint file; nil for a hospital on a shared database, whose checkpoint log is the
    /// database's (every instance signs into it).
    func log(root: DataRoot, database: DatabaseOptions) -> CheckpointLog? {
        guard database.resolvedURL == nil else { return nil }
        return fileLog(root: root)
    }

    /// The checkpoint file of a hospital on the embedded database.
    func fileLog(root: DataRoot) -> CheckpointLog {
        CheckpointLog(path: checkpointFile ?? settings.given(.auditCheckpointFile) ?? root.auditCheckpoints)
    }

    /// A checkpoint file named with a shared database: refused, since the database holds the log there.
    func validate(database: DatabaseOptions) throws {
        if database.resolvedURL != nil, checkpointFile ?? settings.given(.auditCheckpointFile) != nil {
            throw ValidationError(
                "--audit-checkpoint-file applies to the embedded database only: with --database-url the checkpoint log is the database's")
        }
    }

    /// The signing key, or nil when its file does not exist.
    /// - Throws: When the file cannot be read, is not a key, or others can read it.
    func signer(root: DataRoot) throws -> NoteSigner? {
        let path = keyPath(root: root)
        let bytes: [UInt8]?
        do {
            bytes = try DurableFile.read(path, limit: 4096)
        } catch {
            throw ValidationError("cannot read the audit signing key \(path): \(error)")
        }
        guard let bytes else { return nil }
        if let mode = (try? FileManager.default.attributesOfItem(atPath: path))?[.posixPermissions] as? Int, mode & 0o077 != 0 {
            throw ValidationError("others can read the audit signing key \(path): chmod 600 \(path)")
        }
        do {
            return try NoteSigner(String(decoding: bytes, as: UTF8.self))
        } catch {
            throw ValidationError("\(path) is not an audit signing key: \(error)")
        }
    }

    /// The signing key, which must exist (the commands that read never make one).
    func existingSigner(root: DataRoot) throws -> NoteSigner {
        guard let signer = try signer(root: root) else {
            throw ValidationError("there is no audit signing key at \(keyPath(root: root)): check --audit-signing-key (or --data).")
        }
        return signer
    }
}

/// `chainvault audit …`: checks the hospital's audit ledger against its signed checkpoints, proves
/// entries, checks proofs offline, and accepts a database restored from a backup.
struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit", abstract: "Verify and prove the hospital's audit ledger (a Merkle tree with signed checkpoints).",
        subcommands: [Verify.self, Prove.self, CheckProof.self, SigningKey.self, RotateSigningKey.self, AcceptRestore.self, Bench.self])

    /// What the commands over a data root share.
    struct LedgerOptions: ParsableArguments {
        @OptionGroup var dataRoot: DataRootOptions

        @OptionGroup var audit: AuditOptions

        @OptionGroup(title: "Hospital database") var database: DatabaseOptions

        func root() throws -> DataRoot { try DataRoot.existing(dataRoot.data) }

        func validate() throws { try audit.validate(database: database) }

        func log(root: DataRoot) -> CheckpointLog? { audit.log(root: root, database: database) }

        /// The data root and the signing key, both of which must exist.
        func ledger() throws -> (root: DataRoot, signer: NoteSigner) {
            let root = try root()
            return (root, try audit.existingSigner(root: root))
        }
    }

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: """
                Check the ledger against every signed checkpoint in the checkpoint file and the chain buckets (remote ones \
                too): name an edited entry, a missing tail, a rollback, a rewritten history, a checkpoint with a bad \
                signature or a checkpoint file cut or removed; check that every report points at an indexed chain.
                """)
        @OptionGroup var ledger: LedgerOptions
        @OptionGroup var storage: ChainLocationOptions

        @Option(
            help: """
                The ledger's verifier key (as `chainvault audit signing-key` printed it), from a copy kept apart from the \
                data root; default: the public half of the signing key file.
                """)
        var key: String?

        func run() async throws {
            let root = try ledger.root()
            let verifier: NoteVerifier
            if let key {
                do { verifier = try NoteVerifier(key) } catch { throw ValidationError("--key: \(error)") }
            } else {
                verifier = try ledger.audit.existingSigner(root: root).verifier
                output("checking with the signing key file's public key (pass --key with a copy kept elsewhere to rule out a replaced key)")
            }
            let copies = try await storage.chunkStore(root: root)
            let log = ledger.log(root: root)
            try ledger.database.requireHospital(root: root)
            // Every report must point at an indexed chain: a chain deleted together with its index record
            // leaves a report row that nothing else would notice (`chain verify --all` walks the chains).
            let (report, reports, unindexedReports) = try await ledger.database.withChoice(root: root) { choice in
                let hospital = choice.storage
                let report = try await AuditVerifier.verify(
                    storage: hospital, log: log, copies: copies, verifiers: [verifier], origin: verifier.name,
                    logger: Logger(label: "chainvault"))
                let index = try choice.chainIndex(root: root)
                let reports = try await Report.heads(in: hospital)
                var unindexed: [(id: Int64, head: String)] = []
                for report in reports {
                    guard let head = ChunkPointer(report.head), try await index.entry(head: head) != nil else {
                        unindexed.append(report)
                        continue
                    }
                }
                return (report, reports, unindexed)
            }
            for restore in report.restores { output("restore accepted: \(restore)") }
            if let newest = report.newest {
                output("newest signed checkpoint: \(newest.size) entries (\(report.checkpoints) checkpoints checked)")
            } else {
                output("no signed checkpoint found: only the entries' hashes could be checked")
            }
            for problem in report.problems { output("audit ledger BROKEN: \(problem)") }
            if report.problems.isEmpty { output("audit ledger intact: \(report.entries) entries") }
            for report in unindexedReports {
                output("report \(report.id): its chain \(report.head) is not in the chain index (deleted, or restored from another backup)")
            }
            let unindexed = unindexedReports.count
            output("reports: \(reports.count - unindexed) of \(reports.count) point at an indexed chain")
            if !report.problems.isEmpty || unindexed > 0 { throw ExitCode(1) }
        }
    }

    struct Prove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: """
                Print entry N's inclusion proof in the newest signed checkpoint that covers it, as a C2SP tlog proof that \
                `chainvault audit check-proof` verifies with only the public key.
                """)
        @OptionGroup var ledger: LedgerOptions

        @Option(help: "The entry's id (from 1).")
        var entry: Int64

        func run() async throws {
            let (root, signer) = try ledger.ledger()
            let log = ledger.log(root: root)
            let entry = entry
            let (newest, proof) = try await ledger.database.withStorage(root: root) { storage in
                guard let newest = try await AuditNotary.history(log: log, storage: storage).last else {
                    throw ValidationError("the checkpoint log has no checkpoint yet: start the server (it signs one at once)")
                }
                return (newest, try await AuditLedger.proof(entry: entry, in: newest, storage: storage))
            }
            let checkpoint = try newest.verified(by: [signer.verifier], origin: signer.name)
            guard entry >= 1, entry <= Int64(checkpoint.size) else {
                throw ValidationError(
                    "entry \(entry) is not in the newest checkpoint (\(checkpoint.size) entries): wait for the next one (--audit-checkpoint-interval)"
                )
            }
            guard let proof else { throw ValidationError("there is no entry \(entry)") }
            print(proof.serialized, terminator: "")
        }
    }

    struct CheckProof: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "check-proof",
            abstract: """
                Verify a proof offline with only the ledger's public key: that the checkpoint is signed by the key and the \
                entry is in its tree. FILE is a proof or an e-mail whose footer carries one ('-' for standard input).
                """)
        @Argument(help: "The proof, or an e-mail holding one.")
        var file: String

        @Option(help: "The ledger's verifier key, NAME+KEYID+KEY, as the hospital published it.")
        var key: String

        func run() async throws {
            let verifier: NoteVerifier
            do { verifier = try NoteVerifier(key) } catch { throw ValidationError("--key: \(error)") }
            let bytes: Data?
            if file == "-" {
                var input = Data()
                for try await chunk in StandardInputChunks(chunkSize: 64 * 1024) {
                    input += Data(chunk.readableBytesView)
                    guard input.count <= TlogProof.maxSize * 16 else {
                        throw ValidationError("standard input is larger than an e-mail with a proof")
                    }
                }
                bytes = input
            } else {
                bytes = FileManager.default.contents(atPath: file)
            }
            guard let bytes else { throw ValidationError("cannot read \(file)") }
            guard let text = TlogProof.extract(from: Mail.decodedText(String(decoding: bytes, as: UTF8.self))) else {
                throw ValidationError("\(file) holds no c2sp.org/tlog-proof@v1 proof")
            }
            let proof: TlogProof
            let checkpoint: Checkpoint
            do {
                proof = try TlogProof(parsing: Array(text.utf8))
                checkpoint = try proof.checkpoint.verified(by: [verifier], origin: verifier.name)
            } catch {
                output("proof REFUSED: \(error)")
                throw ExitCode(1)
            }
            guard let extra = proof.extra, let fields = AuditEntry.canonicalFields(decoding: extra) else {
                output("proof REFUSED: it does not carry a ledger entry")
                throw ExitCode(1)
            }
            guard proof.includes(leafHash: MerkleTree.leafHash(extra), in: checkpoint), fields.first == String(proof.index + 1) else {
                output("proof REFUSED: the entry is not in the signed tree at that position")
                throw ExitCode(1)
            }
            output("proof OK: entry \(proof.index + 1) is in the audit ledger \(checkpoint.origin) of \(checkpoint.size) entries")
            for (name, value) in zip(AuditEntry.canonicalFieldNames, fields) { output("  \(name): \(value)") }
        }
    }

    struct SigningKey: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "signing-key",
            abstract: """
                Print the verifier key of the audit ledger's signing key (public): copy it somewhere the data root's \
                operators cannot change, and give it to auditors and patients. Not the master keys (`chainvault keys`).
                """)
        @OptionGroup var ledger: LedgerOptions

        func run() async throws {
            print(try ledger.audit.existingSigner(root: try ledger.root()).verifier.description)
        }
    }

    struct RotateSigningKey: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "rotate-signing-key",
            abstract: """
                Replace the audit signing key (the server stopped): the current head is signed by the old and the new key \
                in one checkpoint naming both, so that whoever trusts either learns the other; the old key is kept as \
                KEYFILE.retired-KEYID. Prints the new public key: publish it where the old one was.
                """)
        @OptionGroup var ledger: LedgerOptions

        func run() async throws {
            let (root, old) = try ledger.ledger()
            let path = ledger.audit.keyPath(root: root)
            let new = try NoteSigner(generatingFor: old.name)
            // Kept first, so that a crash at any point leaves a key that signs and one that verifies the history.
            try DurableFile.replace(
                path + ".retired-" + String(old.verifier.description.split(separator: "+")[1]), bytes: Array((old.serialized + "\n").utf8),
                mode: 0o600)
            do {
                let log = ledger.log(root: root)
                _ = try await ledger.database.withStorage(root: root) { hospital in
                    try await AuditNotary.rotate(from: old, to: new, log: log, storage: hospital, time: now())
                }
            } catch let refusal as AuditNotary.Refusal {
                throw ValidationError("\(refusal): run `chainvault audit verify` first.")
            }
            try DurableFile.replace(path, bytes: Array((new.serialized + "\n").utf8), mode: 0o600)
            output("rotated the audit signing key; the new public (verifier) key:")
            print(new.verifier.description)
        }
    }

    /// `make bench`'s ledger rows: appends to a fresh ledger in a temporary database, then proofs.
    struct Bench: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Measure appends and proofs on a fresh ledger in a temporary folder (make bench); prints JSON.", shouldDisplay: false)
        @Option(help: "Entries in the ledger.") var entries = 100_000
        @Option(help: "Of them, appended one per synced transaction.") var durable = 2000
        @Option(help: "Random inclusion and consistency proofs.") var proofs = 1000
        /// With --database-url: the ledger of an empty PostgreSQL database (refused when it holds entries).
        @OptionGroup(title: "Hospital database") var database: DatabaseOptions
        @Flag(help: "Append beside other writers of the same database (several benches at once): no check that it is empty.")
        var shared = false

        func run() async throws {
            let folder = FileManager.default.temporaryDirectory.appendingPathComponent("cv-audit-bench-\(UUID().uuidString)").path
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: folder) }
            let (entries, durable, proofs, shared) = (max(entries, durable), durable, proofs, shared)
            let result = try await database.withStorage(root: try DataRoot.create(folder), creating: true) { storage in
                let empty = try await storage.read { try await $0.ledger.newestEntry() } == nil
                guard shared || empty else {
                    throw ValidationError("the benchmark appends to an empty ledger only: give it a database of its own")
                }
                return try await AuditBenchmark.run(storage: storage, entries: entries, durable: durable, proofs: proofs)
            }
            print(String(decoding: try JSONEncoder().encode(result), as: UTF8.self))
        }
    }

    struct AcceptRestore: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "accept-restore",
            abstract: """
                After the hospital database was restored from a backup (which looks exactly like a rollback, so the server \
                refuses to start): record the restore with a reason, in the ledger and as a signed statement in the \
                checkpoint file, so that it is possible and visible. Run it with the server stopped.
                """)
        @OptionGroup var ledger: LedgerOptions

        @OptionGroup var storage: ChainLocationOptions

        @Option(help: "Why the database was restored (recorded and signed; up to 300 characters).")
        var reason: String

        func run() async throws {
            let (root, signer) = try ledger.ledger()
            do {
                let (reason, log) = (reason, ledger.log(root: root))
                let copies = try await storage.chunkStore(root: root)
                let statement = try await ledger.database.withStorage(root: root) { hospital in
                    try await AuditNotary.acceptRestore(
                        reason: reason, signer: signer, log: log, storage: hospital, copies: copies, time: now(),
                        logger: Logger(label: "chainvault"))
                }
                output("restore accepted: the ledger of \(statement.checkpoint.size) entries is signed with the reason")
            } catch let refusal as AuditNotary.RestoreRefusal {
                throw ValidationError("\(refusal)")
            }
        }
    }
}
