import DurableFiles
import Foundation
import Synchronization
import Testing

@Suite struct DurableFileTests {
    func folder() throws -> String {
        let path = FileManager.default.temporaryDirectory.appending(path: "durable-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    @Test func replaceLeavesOnlyTheNewFileWithItsMode() throws {
        let root = try folder()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let path = root + "/key"
        try DurableFile.replace(path, bytes: Array("old".utf8))
        try DurableFile.replace(path, bytes: Array("new".utf8), mode: 0o600)
        #expect(try DurableFile.read(path) == Array("new".utf8))
        #expect(try FileManager.default.contentsOfDirectory(atPath: root) == ["key"], "no temporary file is left")
        let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
        #expect(mode == 0o600)
    }

    @Test func aFailedReplaceLeavesTheOldFileAndNoTemporary() throws {
        let root = try folder()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let path = root + "/key"
        try DurableFile.replace(path, bytes: [1])
        // A folder where the file should go: the rename fails.
        try FileManager.default.createDirectory(atPath: root + "/dir", withIntermediateDirectories: false)
        FileManager.default.createFile(atPath: root + "/dir/x", contents: Data([1]))
        #expect(throws: FileError.self) { try DurableFile.replace(root + "/dir", bytes: [2]) }
        #expect(try FileManager.default.contentsOfDirectory(atPath: root).sorted() == ["dir", "key"])
        #expect(try DurableFile.read(path) == [1])
    }

    @Test func createMakesTheFileOnceOnly() throws {
        let root = try folder()
        defer { try? FileManager.default.removeItem(atPath: root) }
        #expect(try DurableFile.create(root + "/code.key", bytes: [1, 2]))
        #expect(try !DurableFile.create(root + "/code.key", bytes: [3, 4]))
        #expect(try DurableFile.read(root + "/code.key") == [1, 2])
        #expect(try FileManager.default.contentsOfDirectory(atPath: root) == ["code.key"])
    }

    @Test func appendMakesThenExtends() throws {
        let root = try folder()
        defer { try? FileManager.default.removeItem(atPath: root) }
        try DurableFile.append(root + "/log", bytes: Array("a\n".utf8))
        try DurableFile.append(root + "/log", bytes: Array("b\n".utf8))
        #expect(try DurableFile.read(root + "/log") == Array("a\nb\n".utf8))
    }

    @Test func readIsBoundedAndMissingIsNil() throws {
        let root = try folder()
        defer { try? FileManager.default.removeItem(atPath: root) }
        #expect(try DurableFile.read(root + "/missing") == nil)
        try DurableFile.write(root + "/big", bytes: [UInt8](repeating: 7, count: 40_000))
        #expect(try DurableFile.read(root + "/big", limit: 40_000)?.count == 40_000)
        #expect(throws: FileError("read", path: root + "/big", errno: EFBIG)) { try DurableFile.read(root + "/big", limit: 39_999) }
        try DurableFile.remove(root + "/big")
        try DurableFile.remove(root + "/big")  // a missing file is fine
        #expect(try DurableFile.read(root + "/big") == nil)
    }
}

@Suite struct WatchedFileTests {
    /// Counts the reads, returning the file's bytes (nil when there is none).
    final class Reads: Sendable {
        let count = Mutex(0)
        func read(_ path: String) throws -> [UInt8]? {
            count.withLock { $0 += 1 }
            return try DurableFile.read(path)
        }
    }

    @Test func aChangedFileIsReadAgainAnUnchangedOneIsNot() throws {
        let root = try DurableFileTests().folder()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let path = root + "/keys"
        try DurableFile.replace(path, bytes: [1])
        let reads = Reads()
        let watching = WatchedFile(path: path, recheckInterval: .zero) { try reads.read($0) }
        let caching = WatchedFile(path: path, recheckInterval: .seconds(3600)) { try reads.read($0) }
        #expect(try watching.value() == [1])
        #expect(try watching.value() == [1])
        #expect(reads.count.withLock { $0 } == 1, "an unchanged file is looked at, not read")
        #expect(try caching.value() == [1])
        try DurableFile.replace(path, bytes: [2, 2])
        #expect(try watching.value() == [2, 2], "another process's replacement is seen")
        #expect(try caching.value() == [1], "within the interval the file is not even looked at")
        caching.invalidate()
        #expect(try caching.value() == [2, 2], "after this process wrote it, the next call reads it")
    }
}
