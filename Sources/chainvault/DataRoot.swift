import ArgumentParser
import Foundation

/// The layout of a data root, in one place: the buckets are folders at the top, and ChainVault's own
/// files live in the `.chainvault` folder beside them (bucket names cannot start with a dot).
///
/// ```
/// <data>/<bucket>/…               objects as plain files (BucketStore owns this and .chainvault/{buckets,meta,uploads})
/// <data>/.chainvault/credentials.json   access keys
/// <data>/.chainvault/keyring.json       master keys (unless --master-key-file)
/// <data>/.chainvault/chains/            the chain index
/// <data>/.chainvault/hospital.sqlite    the hospital database
/// <data>/.chainvault/outbox/            one-time codes when no SMTP server is configured
/// <data>/.chainvault/code.key           the key codes are hashed with
/// <data>/.chainvault/audit-signing.key  the key that signs the audit ledger's checkpoints (unless --audit-signing-key)
/// <data>/.chainvault/audit-checkpoints  every signed checkpoint, appended (unless --audit-checkpoint-file)
/// <data>/.chainvault/tmp/               in-flight writes and spooled reports
/// ```
struct DataRoot {
    /// The absolute path of the data root.
    let path: String

    var system: String { path + "/.chainvault" }
    var keyring: String { system + "/keyring.json" }
    var chains: String { system + "/chains" }
    var hospitalDatabase: String { system + "/hospital.sqlite" }
    var outbox: String { system + "/outbox" }
    var codeKey: String { system + "/code.key" }
    var auditSigningKey: String { system + "/audit-signing.key" }
    var auditCheckpoints: String { system + "/audit-checkpoints" }
    var tmp: String { system + "/tmp" }

    private init(_ data: String) {
        path = data.hasPrefix("/") ? data : FileManager.default.currentDirectoryPath + "/" + data
    }

    /// For `serve` and the commands that add something (a key, a chain, an account): the data root
    /// and its system folder (mode 0700) are made when missing.
    static func create(_ data: String) throws -> DataRoot {
        // Whatever the umask the process was started with, nothing written under the data root is
        // readable beyond the owner and its group (objects 0640, folders 0750; keys and the database 0600).
        umask(0o027)
        let root = DataRoot(data)
        try FileManager.default.createDirectory(
            atPath: root.system, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        return root
    }

    /// For the commands that read or check: a data root that does not exist, or a folder that is not
    /// one, is an error. A typo in `--data` must not pass for an empty store that verifies as intact.
    static func existing(_ data: String) throws -> DataRoot {
        let root = DataRoot(data)
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: root.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw ValidationError("the data root \(root.path) does not exist: check --data (or CHAINVAULT_DATA).")
        }
        guard FileManager.default.fileExists(atPath: root.system, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw ValidationError(
                "\(root.path) is not a ChainVault data root (it has no .chainvault folder): check --data (or CHAINVAULT_DATA).")
        }
        return root
    }
}
