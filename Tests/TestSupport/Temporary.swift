import Foundation

/// A fresh path under the system's temporary folder, `<prefix>-<uuid>`; nothing is made there.
package func temporaryPath(_ prefix: String) -> String {
    FileManager.default.temporaryDirectory.appending(path: "\(prefix)-\(UUID().uuidString)").path
}

/// A fresh, empty folder under the system's temporary folder; the caller removes it.
package func makeTemporaryFolder(_ prefix: String) throws -> String {
    let path = temporaryPath(prefix)
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

/// Removes what `path` names, if anything.
package func removeTemporary(_ path: String) { try? FileManager.default.removeItem(atPath: path) }
