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
            let root = try DataRoot.create(options.dataRoot.data)
            let path = options.storage.keyringPath(root: root)
            if try Keyring.load(path: path) != nil { throw ValidationError("\(path) exists already.") }
            let store = try await options.storage.chunkStore(root: root)
            let keyring = try await options.storage.keyringCreatingForEmptyVault(root: root, store: store)
            ChainVault.output("active master key: \(keyring.active.idHex)")
        }
    }

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
            abstract: "Make a new master key the active one and re-wrap every indexed data key under it; no chunk is rewritten.",
            discussion: """
                Older keys stay in the keyring: head chunks still carry their data keys wrapped by them, which \
                `chain rebuild-index` needs. If a rotation is interrupted, `keys rewrap` finishes it.
                """
        )
        @OptionGroup var options: ChainOptions

        func run() async throws {
            var keyring = try options.keyring()
            let key = keyring.rotate(random: systemRandom, now: now())
            try keyring.save(path: options.storage.keyringPath(root: try options.root()))
            ChainVault.output("active master key: \(key.idHex)")
            let count = try options.index().rewrap(keyring: keyring)
            ChainVault.output("re-wrapped \(count) data keys; no chunk was rewritten")
        }
    }

    struct Rewrap: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Re-wrap under the active key every indexed data key wrapped by an older one (finishes an interrupted rotation).")
        @OptionGroup var options: ChainOptions

        func run() async throws {
            let count = try options.index().rewrap(keyring: try options.keyring())
            ChainVault.output("re-wrapped \(count) data keys")
        }
    }
}
