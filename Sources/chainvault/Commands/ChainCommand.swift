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

/// Options shared by the chain and key commands: where the data, the keyring and the two buckets are.
struct ChainOptions: ParsableArguments {
    @OptionGroup var dataRoot: DataRootOptions

    @OptionGroup var storage: ChainLocationOptions

    /// The data root, which must exist: these commands read and check.
    func root() throws -> DataRoot { try DataRoot.existing(dataRoot.data) }

    /// The keyring, which must exist.
    func keyring() throws -> Keyring { try storage.keyring(root: try root()) }

    func index() throws -> ChainIndex { try storage.index(root: try root()) }

    func chunkStore() async throws -> any ChunkStore { try await storage.chunkStore(root: try root()) }
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

    /// The keyring, which must exist (fail closed: never made as a side effect of reading).
    func keyring(root: DataRoot) throws -> Keyring {
        try Keyring.open(path: keyringPath(root: root), index: try index(root: root))
    }

    /// The keyring, made when missing only for a data root that has no chains yet (`serve`, `chain put`,
    /// `keys init`).
    /// - Parameter created: Told the message naming a new key (by default on standard error).
    func keyringCreatingForEmptyVault(
        root: DataRoot, store: any ChunkStore,
        created: (String) -> Void = { FileHandle.standardError.write(Data(($0 + "\n").utf8)) }
    ) async throws -> Keyring {
        try await Keyring.openOrCreate(
            path: keyringPath(root: root), index: try index(root: root), store: store, random: systemRandom, now: now()
        ) { key in
            created("created master key \(key.idHex) in \(keyringPath(root: root)): back it up, apart from the buckets")
        }
    }

    func index(root: DataRoot) throws -> ChainIndex {
        try ChainIndex(directory: root.chains)
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
            let root = try DataRoot.create(options.dataRoot.data)
            let index = try options.storage.index(root: root)
            let store = try await options.storage.chunkStore(root: root)
            let keyring = try await options.storage.keyringCreatingForEmptyVault(root: root, store: store)
            let writer = ChainWriter(store: store, keyring: keyring, chunkSize: chunkSize, mirror: mirror)
            let source: any ReportSource
            if file == "-" {
                source = try await spoolStandardInput()
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
            try index.put(ChainIndexEntry(head: head, mirrored: mirror, created: now()))
            output(head.pointer.description)
        }

        /// Standard input, read to its end into an encrypted, unnamed file in the data root's temp folder.
        func spoolStandardInput() async throws -> SpooledReport {
            let directory = try DataRoot.create(options.dataRoot.data).tmp
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
            let pointer = try Chain.pointer(head)
            let entry = try options.index().entry(head: pointer)
            let reader = ChainReader(store: try await options.chunkStore())
            let keyring = try options.keyring()
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
            let summary = try await ChainReader(store: try await options.chunkStore()).verify(head: try Chain.pointer(head))
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
            let store = try await options.chunkStore()
            let index = try options.index()
            let keyring = noKey ? nil : try options.keyring()
            let checks = noKey ? "hashes and headers" : "hashes, headers, authentication, manifest"
            if all {
                let entries = try index.all()
                let bar = ProgressBar("verify", total: entries.reduce(0) { $0 + $1.length })
                let referenced = try await Chain.reportHeads(root: try options.root())
                let results = try await ChainMaintenance(store: store, index: index).verifyAll(
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
                try await Chain.recordInHospital(results, root: try options.root())
                ChainVault.output("\(results.count - failed) of \(results.count) chains ok (\(checks))")
                if failed > 0 { throw ExitCode(1) }
                return
            }
            let pointer = try Chain.pointer(head!)
            let entry = try index.entry(head: pointer)
            let bar = ProgressBar("verify", total: entry?.length ?? 0)
            let summary = try await ChainMaintenance(store: store, index: index).verify(head: pointer, entry: entry, keyring: keyring) {
                bar.advance(by: Int64($0))
            }
            bar.finish()
            reportRepairs(summary)
            ChainVault.output("ok: \(summary.chunks.count) chunks (\(checks))")
        }
    }

    /// Records each result in the hospital database, when there is one, so that the portal shows when
    /// each report was last verified intact (or found damaged) without reading its chunks.
    static func recordInHospital(_ results: [ChainMaintenance.Verification], root: DataRoot) async throws {
        guard FileManager.default.fileExists(atPath: root.hospitalDatabase) else { return }
        var outcome: [String: Bool] = [:]
        for verification in results {
            switch verification.result {
            case .success: outcome[verification.head.description] = true
            case .failure: outcome[verification.head.description] = false
            }
        }
        try await Report.recordVerification(
            outcome, at: now(), in: SQLiteHospitalStorage(try HospitalDatabase.open(path: root.hospitalDatabase)))
    }

    /// The heads of the hospital's reports when the data root has a hospital database (none otherwise).
    static func reportHeads(root: DataRoot) async throws -> [ChunkPointer] {
        guard FileManager.default.fileExists(atPath: root.hospitalDatabase) else { return [] }
        let database = try HospitalDatabase.open(path: root.hospitalDatabase)
        return try await Report.heads(in: SQLiteHospitalStorage(database)).map { report in
            guard let head = ChunkPointer(report.head) else {
                throw ValidationError("report \(report.id) in \(root.hospitalDatabase) has a malformed head pointer")
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
            let maintenance = ChainMaintenance(store: try await options.chunkStore(), index: try options.index())
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
            let rebuild = try await ChainMaintenance(store: try await options.chunkStore(), index: try options.index())
                .rebuildIndex(keyring: try options.keyring(), now: now())
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
