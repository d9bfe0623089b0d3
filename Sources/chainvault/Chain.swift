import ArgumentParser
import BucketStore
import ChunkChain
import Foundation

/// Options shared by the chain and key commands: where the data and the keyring are.
struct ChainOptions: ParsableArguments {
    @Option(help: "Data root.")
    var data: String = environment("DATA") ?? "buckets"

    @Option(
        name: .customLong("master-key-file"),
        help: "Keyring file (default: <data>/.chainvault/keyring.json; env CHAINVAULT_MASTER_KEY_FILE).")
    var masterKeyFile: String?

    var keyringPath: String {
        get throws {
            if let path = masterKeyFile ?? environment("MASTER_KEY_FILE") { return path }
            return try configDirectory(data) + "/keyring.json"
        }
    }

    func keyring() throws -> Keyring {
        try Keyring.loadOrCreate(path: try keyringPath, random: systemRandom, now: Int64(Date().timeIntervalSince1970))
    }

    func chunkStore() async throws -> LocalChunkStore {
        let store = LocalChunkStore(store: try BucketStore(root: data))
        try await store.createBuckets(owner: "chainvault", now: Int64(Date().timeIntervalSince1970))
        return store
    }
}

struct Chain: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Store, read, inspect and verify reports as encrypted chunk chains.",
        subcommands: [Put.self, Get.self, Inspect.self, Verify.self]
    )

    static func pointer(_ text: String) throws -> ChunkPointer {
        guard let pointer = ChunkPointer(text) else {
            throw ValidationError("'\(text)' is not a head pointer: A:<64 hex> or B:<64 hex>.")
        }
        return pointer
    }

    struct Put: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Write a file as a chain and print its head pointer.")
        @OptionGroup var options: ChainOptions
        @Option(name: .customLong("chunk-size"), help: "Chunk size in bytes.")
        var chunkSize: Int = ChainWriter.defaultChunkSize
        @Argument(help: "The report file.")
        var file: String

        func validate() throws {
            guard chunkSize >= 16, chunkSize <= 64 << 20 else { throw ValidationError("--chunk-size must be between 16 bytes and 64 MiB.") }
        }

        func run() async throws {
            let writer = ChainWriter(store: try await options.chunkStore(), keyring: try options.keyring(), chunkSize: chunkSize)
            let source = try await FileSource.open(path: file)
            let head: ChainHead
            do {
                head = try await writer.write(source)
                await source.close()
            } catch {
                await source.close()
                throw error
            }
            output(head.pointer.description)
        }
    }

    struct Get: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Read a chain into a file; nothing is left behind if any chunk fails.")
        @OptionGroup var options: ChainOptions
        @Argument(help: "The head pointer.")
        var head: String
        @Option(name: .shortAndLong, help: "Output file.")
        var output: String

        func run() async throws {
            let pointer = try Chain.pointer(head)
            let reader = ChainReader(store: try await options.chunkStore())
            let keyring = try options.keyring()
            guard FileManager.default.createFile(atPath: output, contents: nil, attributes: [.posixPermissions: 0o600]),
                let handle = FileHandle(forWritingAtPath: output)
            else { throw ValidationError("cannot create \(output)") }
            do {
                _ = try await reader.read(head: pointer, keyring: keyring) { try handle.write(contentsOf: $0) }
                try handle.synchronize()
                try handle.close()
            } catch {
                try? handle.close()
                try? FileManager.default.removeItem(atPath: output)
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
            ChainVault.output("chain \(summary.chainId.map { String(format: "%02x", $0) }.joined()): \(summary.chunks.count) chunks")
            for chunk in summary.chunks {
                ChainVault.output(
                    "\(chunk.index)\t\(chunk.pointer.bucket)\t\(chunk.pointer.key)\t\(chunk.size)\t\(chunk.next?.description ?? "end")")
            }
        }
    }

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Verify a chain: with SHA-256 only (--no-key), or also opening every chunk.")
        @OptionGroup var options: ChainOptions
        @Flag(name: .customLong("no-key"), help: "Check hashes and headers only; needs read access to the buckets, not the key.")
        var noKey = false
        @Argument(help: "The head pointer.")
        var head: String

        func run() async throws {
            let pointer = try Chain.pointer(head)
            let reader = ChainReader(store: try await options.chunkStore())
            let summary: ChainSummary
            if noKey {
                summary = try await reader.verify(head: pointer)
            } else {
                summary = try await reader.read(head: pointer, keyring: try options.keyring()) { _ in }
            }
            ChainVault.output(
                "ok: \(summary.chunks.count) chunks\(noKey ? " (hashes and headers)" : " (hashes, headers, authentication, manifest)")")
        }
    }
}

struct Keys: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List or rotate the master keys.", subcommands: [List.self, Rotate.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List master key ids (never the keys).")
        @OptionGroup var options: ChainOptions

        func run() async throws {
            let keyring = try options.keyring()
            for key in keyring.keys {
                ChainVault.output("\(key.idHex)\tcreated \(key.created)\(key.id == keyring.activeId ? "\tactive" : "")")
            }
        }
    }

    struct Rotate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make a new master key the active one; older keys stay to read existing chains, and no chunk is rewritten."
        )
        @OptionGroup var options: ChainOptions

        func run() async throws {
            var keyring = try options.keyring()
            let key = keyring.rotate(random: systemRandom, now: Int64(Date().timeIntervalSince1970))
            try keyring.save(path: try options.keyringPath)
            ChainVault.output("active master key: \(key.idHex)")
        }
    }
}
