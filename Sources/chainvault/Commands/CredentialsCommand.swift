import ArgumentParser
import BucketStore
import Foundation
import S3Gateway
import Settings

struct Credentials: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show the access keys, or add one.",
        subcommands: [Show.self, Add.self],
        defaultSubcommand: Show.self
    )

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show the access keys with their secrets.")

        @OptionGroup var root: DataRootOptions

        func run() async throws {
            let credentials = try CredentialStore.open(configDirectory: try DataRoot.existing(root.data).system)
            var keys = try credentials.storedKeys()
            if let root = try credentials.rootKey(), !keys.contains(root) {
                keys.removeAll(where: \.isRoot)
                keys.insert(root, at: 0)
            }
            if keys.isEmpty {
                FileHandle.standardError.write(
                    Data("no access keys yet: `chainvault serve` generates the root key at its first start.\n".utf8))
            }
            for key in keys {
                let rights = key.isRoot ? "root" : (key.readOnly ? "read-only" : "read-write")
                let buckets = key.buckets.isEmpty ? "" : " buckets: " + key.buckets.joined(separator: ",")
                output("\(key.accessKeyId) \(key.secretKey) \(rights)\(buckets)")
            }
        }
    }

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add an access key and print it.")

        @OptionGroup var root: DataRootOptions

        @Flag(name: .customLong("read-only"), help: "The key may only list, read and HEAD.")
        var readOnly = false

        @Option(name: .customLong("bucket"), help: "A bucket the key may use besides its own (repeatable).")
        var buckets: [String] = []

        func validate() throws {
            for bucket in buckets where !BucketName.isValid(bucket) {
                throw ValidationError("'\(bucket)' is not a valid bucket name.")
            }
        }

        func run() async throws {
            let credentials = try CredentialStore.open(configDirectory: try DataRoot.create(root.data).system)
            let key = try credentials.add(readOnly: readOnly, buckets: buckets)
            output("access key id: \(key.accessKeyId)")
            output("secret key:    \(key.secretKey)")
        }
    }
}
