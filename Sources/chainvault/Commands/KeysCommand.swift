import ArgumentParser
import BucketStore
import ChunkChain
import DurableFiles
import Foundation
import Hospital
import HospitalCore
import S3Client
import Settings

struct Keys: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create, list or rotate the master keys.", subcommands: [Init.self, List.self, Rotate.self, Rewrap.self])

    struct Init: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create the keyring of a data root that has no chains yet (serve and chain put also do).",
            discussion: """
                Refused when chains exist: their data keys need the keyring they were written with. Restore \
                keyring.json from the backup instead, or point --master-key-file at it.
                """)
        @OptionGroup var options: ChainOptions

        func run() async throws {
            try await options.withVault(creating: true) { vault in
                let path = vault.location.keyringPath(root: vault.root)
                if try Keyring.load(path: path) != nil { throw ValidationError("\(path) exists already.") }
                let keyring = try await vault.location.keyringCreatingForEmptyVault(
                    root: vault.root, index: vault.index, store: try await vault.chunkStore())
                ChainVault.output("active master key: \(keyring.active.idHex)")
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List master key ids (never the keys).")
        @OptionGroup var options: ChainOptions

        func run() async throws {
            let keyring = try await options.withVault { try await $0.keyring() }
            for key in keyring.keys {
                ChainVault.output("\(key.idHex)\tcreated \(key.created)\(key.id == keyring.activeId ? "\tactive" : "")")
            }
        }
    }

    struct Rotate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make a new master key the active one and re-wrap every indexed data key under it; no chunk is rewritten.",
            discussion: """
                Older keys stay in the keyring: head chunks still carry their data keys wrapped by them, which \
                `chain rebuild-index` needs. If a rotation is interrupted, `keys rewrap` finishes it.
                """
        )
        @OptionGroup var options: ChainOptions

        func run() async throws {
            try await options.withVault { vault in
                var keyring = try await vault.keyring()
                let key = keyring.rotate(random: systemRandom, now: now())
                try keyring.save(path: vault.location.keyringPath(root: vault.root))
                ChainVault.output("active master key: \(key.idHex)")
                let count = try await vault.index.rewrap(keyring: keyring)
                ChainVault.output("re-wrapped \(count) data keys; no chunk was rewritten")
            }
        }
    }

    struct Rewrap: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Re-wrap under the active key every indexed data key wrapped by an older one (finishes an interrupted rotation).")
        @OptionGroup var options: ChainOptions

        func run() async throws {
            let count = try await options.withVault { vault in try await vault.index.rewrap(keyring: try await vault.keyring()) }
            ChainVault.output("re-wrapped \(count) data keys")
        }
    }
}
