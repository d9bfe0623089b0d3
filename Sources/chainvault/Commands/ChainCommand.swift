import ArgumentParser
import BucketStore
import ChunkChain
import DurableFiles
import Foundation
import Hospital
import HospitalCore
import HospitalSQLite
import S3Client
import Settings

/// Options shared by the chain and key commands: where the data, the keyring, the two buckets and
/// (for a hospital on PostgreSQL) the chain index are.
struct ChainOptions: ParsableArguments {
    @OptionGroup var dataRoot: DataRootOptions

    @OptionGroup var storage: ChainLocationOptions

    /// With --database-url the chain index is the shared database's, and the hospital's reports are there.
    @OptionGroup(title: "Hospital database") var database: DatabaseOptions

    /// The data root, which must exist: these commands read and check.
    func root() throws -> DataRoot { try DataRoot.existing(dataRoot.data) }

    /// Runs `body` with the chains as this data root or database knows them (`root`: made when missing
    /// for `creating`), closing the database afterwards.
    func withVault<T: Sendable>(creating: Bool = false, _ body: @escaping @Sendable (Vault) async throws -> T) async throws -> T {
        let root = creating ? try DataRoot.create(dataRoot.data) : try root()
        let storage = self.storage
        guard database.resolvedURL != nil else {
            let hospital: (any HospitalStorage)? =
                FileManager.default.fileExists(atPath: root.hospitalDatabase)
                ? SQLiteHospitalStorage(try HospitalDatabase.open(path: root.hospitalDatabase)) : nil
            return try await body(
                Vault(root: root, location: storage, index: try ChainIndexDirectory(directory: root.chains), hospital: hospital))
        }
        return try await database.withChoice(root: root) { choice in
            try await body(Vault(root: root, location: storage, index: try choice.chainIndex(root: root), hospital: choice.storage))
        }
    }
}

/// The chains a command works on: their index, the hospital whose reports point at them (when there is
/// one), and where their buckets and keys are.
struct Vault: Sendable {
    let root: DataRoot
    let location: ChainLocationOptions
    let index: any ChainIndex
    let hospital: (any HospitalStorage)?

    /// The keyring, which must exist.
    func keyring() async throws -> Keyring { try await location.keyring(root: root, index: index) }

    func chunkStore() async throws -> any ChunkStore { try await location.chunkStore(root: root) }
}

/// Where the chain's buckets and master keys are: shared by the chain commands and `serve`.
struct ChainLocationOptions: ParsableArguments {
    @Option(name: .setting(.masterKeyFile), help: .setting(.masterKeyFile))
    var masterKeyFile: String?

    @Option(name: .setting(.bucketA), help: .setting(.bucketA))
    var bucketA: String = settings.string(.bucketA)

    @Option(name: .setting(.bucketB), help: .setting(.bucketB))
    var bucketB: String = settings.string(.bucketB)

    @Option(name: .setting(.endpointA), help: .setting(.endpointA))
    var endpointA: String?

    @Option(name: .setting(.endpointB), help: .setting(.endpointB))
    var endpointB: String?

    @Option(name: .setting(.regionA), help: .setting(.regionA))
    var regionA: String = settings.string(.regionA)

    @Option(name: .setting(.regionB), help: .setting(.regionB))
    var regionB: String = settings.string(.regionB)

    /// --endpoint-a, else the environment or file; nil: the local data root.
    var endpointURLA: String? { endpointA ?? settings.given(.endpointA) }
    /// --endpoint-b, else the environment or file.
    var endpointURLB: String? { endpointB ?? settings.given(.endpointB) }

    func validate() throws {
        for bucket in [bucketA, bucketB] where !BucketName.isValid(bucket) {
            throw ValidationError("'\(bucket)' is not a valid bucket name.")
        }
        if endpointURLA == endpointURLB, bucketA == bucketB {
            throw ValidationError("buckets A and B must differ: no bucket may hold a whole report.")
        }
    }

    func keyringPath(root: DataRoot) -> String {
        masterKeyFile ?? settings.given(.masterKeyFile) ?? root.keyring
    }

    /// The keyring, which must exist (fail closed: never made as a side effect of reading); a missing
    /// one's error names the key ids `index`'s chains need.
    func keyring(root: DataRoot, index: any ChainIndex) async throws -> Keyring {
        try await Keyring.open(path: keyringPath(root: root), index: index)
    }

    /// The keyring, made when missing only for a data root that has no chains yet (`serve`, `chain put`,
    /// `keys init`).
    /// - Parameter created: Told the message naming a new key (by default on standard error).
    func keyringCreatingForEmptyVault(
        root: DataRoot, index: any ChainIndex, store: any ChunkStore,
        created: (String) -> Void = { FileHandle.standardError.write(Data(($0 + "\n").utf8)) }
    ) async throws -> Keyring {
        try await Keyring.openOrCreate(
            path: keyringPath(root: root), index: index, store: store, random: systemRandom, now: now()
        ) { key in
            created("created master key \(key.idHex) in \(keyringPath(root: root)): back it up, apart from the buckets")
        }
    }

    /// Bucket A or B: local, or on an S3 endpoint with credentials from the environment or the file
    /// (never from the command line), else from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.
    func location(
        _ bucket: String, endpoint: (option: Setting, url: String?), region: String, credentials: (id: Setting, secret: Setting)
    ) throws -> ChainLocations.Location {
        guard let url = endpoint.url else { return .local(bucket: bucket) }
        let variables = ProcessInfo.processInfo.environment
        guard let accessKey = settings.given(credentials.id) ?? variables["AWS_ACCESS_KEY_ID"],
            let secret = settings.given(credentials.secret) ?? variables["AWS_SECRET_ACCESS_KEY"]
        else {
            throw ValidationError(
                "\(endpoint.option.option) needs \(credentials.id.environmentName) and \(credentials.secret.environmentName) in the environment."
            )
        }
        return .s3(endpoint: try S3Endpoint(url: url, region: region, accessKeyId: accessKey, secretAccessKey: secret), bucket: bucket)
    }

    func locations() throws -> ChainLocations {
        ChainLocations(
            a: try location(
                bucketA, endpoint: (.endpointA, endpointURLA), region: regionA, credentials: (.aAccessKeyId, .aSecretAccessKey)),
            b: try location(bucketB, endpoint: (.endpointB, endpointURLB), region: regionB, credentials: (.bAccessKeyId, .bSecretAccessKey))
        )
    }

    func chunkStore(root: DataRoot) async throws -> any ChunkStore {
        try await locations().makeStore(local: { try BucketStore(root: root.path) }, owner: "chainvault", now: now())
    }
}

func now() -> Int64 { Int64(Date().timeIntervalSince1970) }

struct Chain: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Store, read, inspect and verify reports as encrypted chunk chains.",
        subcommands: [Put.self, Get.self, Inspect.self, Verify.self, Orphans.self, RebuildIndex.self]
    )

    static func pointer(_ text: String) throws -> ChunkPointer {
        guard let pointer = ChunkPointer(text) else {
            throw ValidationError("'\(text)' is not a head pointer: A:<64 hex> or B:<64 hex>.")
        }
        return pointer
    }

    struct Put: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Write a file as a chain, index it and print its head pointer.")
        @OptionGroup var options: ChainOptions
        @Option(name: .customLong("chunk-size"), help: "Chunk size in bytes.")
        var chunkSize: Int = ChainWriter.defaultChunkSize
        @Flag(
            help:
                "Write every chunk to both buckets, so that a damaged copy can be repaired (each bucket then holds the whole, encrypted report)."
        )
        var mirror = false
        @Argument(help: "The report file, or - for standard input (spooled, encrypted, to <data>/.chainvault/tmp first).")
        var file: String

        func validate() throws {
            guard chunkSize >= 16, chunkSize <= 64 << 20 else { throw ValidationError("--chunk-size must be between 16 bytes and 64 MiB.") }
        }

        func run() async throws {
            let (file, chunkSize, mirror) = (file, chunkSize, mirror)
            let pointer = try await options.withVault(creating: true) { vault in
                try await Self.put(file, chunkSize: chunkSize, mirror: mirror, into: vault)
            }
            output(pointer.description)
        }

        static func put(_ file: String, chunkSize: Int, mirror: Bool, into vault: Vault) async throws -> ChunkPointer {
            let (root, index) = (vault.root, vault.index)
            let store = try await vault.chunkStore()
            let keyring = try await vault.location.keyringCreatingForEmptyVault(root: root, index: index, store: store)
            let writer = ChainWriter(store: store, keyring: keyring, chunkSize: chunkSize, mirror: mirror)
            let source: any ReportSource
            if file == "-" {
                source = try await spoolStandardInput(root: root, chunkSize: chunkSize)
            } else {
                source = try await FileSource.open(path: file)
            }
            let bar = ProgressBar("put", total: source.length)
            let head: ChainHead
            do {
                head = try await writer.write(source) { bar.advance(by: Int64($0)) }
                await source.close()
            } catch {
                await source.close()
                if case ChainError.storeFull = error {
                    fail(
                        "error: no space left for the chain; nothing was indexed. `chain orphans --delete` removes the chunks written so far."
                    )
                }
                throw error
            }
            bar.finish()
            try await index.put(ChainIndexEntry(head: head, mirrored: mirror, created: now()))
            return head.pointer
        }

        /// Standard input, read to its end into an encrypted, unnamed file in the data root's temp folder.
        static func spoolStandardInput(root: DataRoot, chunkSize: Int) async throws -> SpooledReport {
            let directory = root.tmp
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            return try await SpooledReport.spool(StandardInputChunks(chunkSize: chunkSize), in: directory, blockSize: chunkSize)
        }
    }

    struct Get: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Read a chain into a file; nothing is left behind if any chunk fails.")
        @OptionGroup var options: ChainOptions
        @Argument(help: "The head pointer.")
        var head: String
        @Option(name: .shortAndLong, help: "Output file, replaced only once the whole chain checked out; - for standard output.")
        var output: String

        func run() async throws {
            let (pointer, output) = (try Chain.pointer(head), output)
            try await options.withVault { vault in
                try await Self.read(
                    pointer, entry: try await vault.index.entry(head: pointer), reader: ChainReader(store: try await vault.chunkStore()),
                    keyring: try await vault.keyring(), to: output)
            }
        }

        static func read(_ pointer: ChunkPointer, entry: ChainIndexEntry?, reader: ChainReader, keyring: Keyring, to output: String)
            async throws
        {
            // A file is written under a temporary name beside it and renamed into place only once the whole
            // chain checked out: a failure leaves an existing file as it was. "-" streams to standard output.
            let temporary = output == "-" ? nil : output + ".chainvault-\(UUID().uuidString.prefix(8)).tmp"
            let handle: FileHandle
            if let temporary {
                let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
                guard descriptor >= 0 else { throw ValidationError("cannot create \(temporary): \(String(cString: strerror(errno)))") }
                handle = FileHandle(fileDescriptor: descriptor, closeOnDealloc: true)
            } else {
                handle = FileHandle.standardOutput
            }
            let bar = ProgressBar("get", total: entry?.length ?? 0)
            do {
                let summary = try await reader.read(
                    head: pointer, keyring: keyring, wrappedKey: entry?.wrappedKey, mirrored: entry?.mirrored ?? false
                ) {
                    try handle.write(contentsOf: $0)
                    bar.advance(by: Int64($0.count))
                }
                if let temporary {
                    try handle.synchronize()
                    try handle.close()
                    try DurableFile.moveIntoPlace(temporary, as: output)
                }
                bar.finish()
                reportRepairs(summary)
            } catch {
                if let temporary {
                    try? handle.close()
                    unlink(temporary)
                }
                throw error
            }
        }
    }

    struct Inspect: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List a chain chunk by chunk: index, bucket, key, size, next (no key needed).")
        @OptionGroup var options: ChainOptions
        @Argument(help: "The head pointer.")
        var head: String

        func run() async throws {
            let summary = try await ChainReader(store: try await options.storage.chunkStore(root: try options.root())).verify(
                head: try Chain.pointer(head))
            ChainVault.output("chain \(summary.chainIdHex): \(summary.chunks.count) chunks")
            for chunk in summary.chunks {
                ChainVault.output(
                    "\(chunk.index)\t\(chunk.pointer.bucket)\t\(chunk.pointer.key)\t\(chunk.size)\t\(chunk.next?.description ?? "end")")
            }
        }
    }

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Verify one chain or every indexed chain: with SHA-256 only (--no-key), or also opening every chunk.")
        @OptionGroup var options: ChainOptions
        @Flag(name: .customLong("no-key"), help: "Check hashes and headers only; needs read access to the buckets, not the key.")
        var noKey = false
        @Flag(help: "Verify every chain in the index and every chain a hospital report points at.")
        var all = false
        @Argument(help: "The head pointer.")
        var head: String?

        func validate() throws {
            guard all != (head != nil) else { throw ValidationError("give a head pointer or --all, not both.") }
        }

        func run() async throws {
            let (noKey, all, head) = (noKey, all, head)
            try await options.withVault { vault in
                if all {
                    try await Self.verifyAll(vault, noKey: noKey)
                } else {
                    try await Self.verify(try Chain.pointer(head!), vault, noKey: noKey)
                }
            }
        }

        static func checks(noKey: Bool) -> String { noKey ? "hashes and headers" : "hashes, headers, authentication, manifest" }

        static func verifyAll(_ vault: Vault, noKey: Bool) async throws {
            let keyring = noKey ? nil : try await vault.keyring()
            let entries = try await vault.index.all()
            let bar = ProgressBar("verify", total: entries.reduce(0) { $0 + $1.length })
            let referenced = try await Chain.reportHeads(vault.hospital)
            let results = try await ChainMaintenance(store: try await vault.chunkStore(), index: vault.index).verifyAll(
                keyring: keyring, referenced: referenced
            ) { verification in
                bar.advance(by: verification.entry?.length ?? 0)
            }
            bar.finish()
            var failed = 0
            for verification in results {
                switch verification.result {
                case .success(let summary):
                    ChainVault.output("ok\t\(verification.head)\t\(summary.chunks.count) chunks")
                    reportRepairs(summary)
                case .failure(let error):
                    failed += 1
                    let unindexed = verification.entry == nil ? " (a hospital report's chain, not in the index)" : ""
                    ChainVault.output("FAILED\t\(verification.head)\t\(error)\(unindexed)")
                }
            }
            try await Chain.recordInHospital(results, vault.hospital)
            ChainVault.output("\(results.count - failed) of \(results.count) chains ok (\(checks(noKey: noKey)))")
            if failed > 0 { throw ExitCode(1) }
        }

        static func verify(_ pointer: ChunkPointer, _ vault: Vault, noKey: Bool) async throws {
            let keyring = noKey ? nil : try await vault.keyring()
            let entry = try await vault.index.entry(head: pointer)
            let bar = ProgressBar("verify", total: entry?.length ?? 0)
            let summary = try await ChainMaintenance(store: try await vault.chunkStore(), index: vault.index).verify(
                head: pointer, entry: entry, keyring: keyring
            ) {
                bar.advance(by: Int64($0))
            }
            bar.finish()
            reportRepairs(summary)
            ChainVault.output("ok: \(summary.chunks.count) chunks (\(checks(noKey: noKey)))")
        }
    }

    /// Records each result in the hospital database, when there is one, so that the portal shows when
    /// each report was last verified intact (or found damaged) without reading its chunks.
    static func recordInHospital(_ results: [ChainMaintenance.Verification], _ hospital: (any HospitalStorage)?) async throws {
        guard let hospital else { return }
        var outcome: [String: Bool] = [:]
        for verification in results {
            switch verification.result {
            case .success: outcome[verification.head.description] = true
            case .failure: outcome[verification.head.description] = false
            }
        }
        try await Report.recordVerification(outcome, at: now(), in: hospital)
    }

    /// The heads of the hospital's reports, when there is a hospital (none otherwise).
    static func reportHeads(_ hospital: (any HospitalStorage)?) async throws -> [ChunkPointer] {
        guard let hospital else { return [] }
        return try await Report.heads(in: hospital).map { report in
            guard let head = ChunkPointer(report.head) else {
                throw ValidationError("report \(report.id) in the hospital database has a malformed head pointer")
            }
            return head
        }
    }

    struct Orphans: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List objects of the two buckets that no indexed chain reaches (no key needed).",
            discussion: """
                Orphans are left by writes that never finished (a crash, a full disk) and by chains removed \
                from the index. Run `chain rebuild-index` first if the index may be incomplete: chains missing \
                from it show up here. With --delete, orphans older than --min-age are removed; younger ones may \
                be the chunks of a write still running and are kept. A damaged chain stops --delete: what lies \
                past its break would count as orphaned.
                """
        )
        @OptionGroup var options: ChainOptions

        @Flag(help: "Remove the orphans older than --min-age.")
        var delete = false

        @Option(name: .customLong("min-age"), help: "Seconds since an orphan's last change before --delete removes it.")
        var minAge: Int64 = 3600

        func validate() throws {
            guard minAge >= 0 else { throw ValidationError("--min-age must be 0 or more.") }
        }

        func run() async throws {
            let (delete, minAge, shared) = (delete, minAge, options.database.resolvedURL != nil)
            try await options.withVault { vault in
                let store = try await vault.chunkStore()
                if !shared, try await ChainBucket.indexIsShared(in: store) {
                    fail(
                        """
                        error: these buckets belong to a hospital whose chain index is in its PostgreSQL database: give \
                        --database-url (or CHAINVAULT_DATABASE_URL), or every chunk would count as an orphan.
                        """)
                }
                try await Self.orphans(ChainMaintenance(store: store, index: vault.index), delete: delete, minAge: minAge)
            }
        }

        static func orphans(_ maintenance: ChainMaintenance, delete: Bool, minAge: Int64) async throws {
            let found = try await maintenance.orphans()
            for (head, error) in found.damaged {
                FileHandle.standardError.write(
                    Data("warning: chain \(head) is damaged (\(error)); chunks after the break are listed\n".utf8))
            }
            guard delete else {
                for orphan in found.orphans { ChainVault.output("\(orphan.bucket)\t\(orphan.key)") }
                ChainVault.output("\(found.orphans.count) orphan objects")
                return
            }
            guard found.damaged.isEmpty else {
                fail("error: not deleting: \(found.damaged.count) damaged chains; repair or restore them first.")
            }
            let (removed, kept) = try await maintenance.remove(found.orphans, modifiedBefore: minAge == 0 ? nil : now() - minAge)
            for orphan in removed { ChainVault.output("deleted\t\(orphan.bucket)\t\(orphan.key)") }
            for orphan in kept { ChainVault.output("kept\t\(orphan.bucket)\t\(orphan.key)") }
            ChainVault.output("\(removed.count) orphan objects deleted, \(kept.count) younger than \(minAge) s kept")
        }
    }

    struct RebuildIndex: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "rebuild-index",
            abstract: "Find every chain in the buckets from its head chunk and index it (needs the master keys).")
        @OptionGroup var options: ChainOptions

        func run() async throws {
            let rebuild = try await options.withVault { vault in
                try await ChainMaintenance(store: try await vault.chunkStore(), index: vault.index)
                    .rebuildIndex(keyring: try await vault.keyring(), now: now())
            }
            for entry in rebuild.chains { ChainVault.output("indexed\t\(entry.head)\t\(entry.chunkCount) chunks\t\(entry.length) bytes") }
            for (head, error) in rebuild.failures { ChainVault.output("FAILED\t\(head)\t\(error)") }
            ChainVault.output("\(rebuild.chains.count) chains indexed, \(rebuild.added) new, \(rebuild.failures.count) failed")
            if !rebuild.failures.isEmpty { throw ExitCode(1) }
        }
    }
}

/// Writes `message` to standard error and exits with status 1.
func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data((message + "\n").utf8))
    exit(1)
}

/// Tells on standard error which mirror copies a read or verification rewrote.
func reportRepairs(_ summary: ChainSummary) {
    for pointer in summary.repaired {
        FileHandle.standardError.write(Data("repaired \(pointer) from its mirror copy\n".utf8))
    }
    for pointer in summary.unrepaired {
        FileHandle.standardError.write(Data("warning: \(pointer) is missing or damaged and could not be rewritten\n".utf8))
    }
}
