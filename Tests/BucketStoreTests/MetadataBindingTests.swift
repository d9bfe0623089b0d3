import Crypto
import Foundation
import NIOCore
import TestSupport
import Testing

@testable import BucketStore

/// An object's metadata is bound to the file that holds its bytes (layout 2): a reader never pairs one
/// version's bytes with another's ETag or Content-Type, however writers race.
@Suite struct MetadataBindingTests {
    static func md5(_ text: String) -> String {
        Insecure.MD5.hash(data: Array(text.utf8)).map { String($0, radix: 16).leftPadded(to: 2) }.joined()
    }

    @Test func racingOverwritesNeverMixOneVersionsBytesWithAnothersMetadata() async throws {
        try await withStore { store, _ in
            try await store.createBucket("race", owner: "o", now: 0)
            // Same length, so that size cannot tell the versions apart; written as fast as possible, so that
            // two land in one timestamp tick.
            let versions = (0..<2).map { writer in String(repeating: writer == 0 ? "a" : "b", count: 64) }
            try await store.put("race", "k", versions[0], attributes: ObjectAttributes(contentType: "text/v0"))
            let mismatches = try await withThrowingTaskGroup(of: Int.self) { group in
                for writer in 0..<2 {
                    group.addTask {
                        for _ in 0..<150 {
                            try await store.put("race", "k", versions[writer], attributes: ObjectAttributes(contentType: "text/v\(writer)"))
                        }
                        return 0
                    }
                }
                for _ in 0..<2 {
                    group.addTask {
                        var bad = 0
                        for _ in 0..<300 {
                            let reader = try await store.openObject(bucket: "race", key: "k")
                            var bytes: [UInt8] = []
                            for try await chunk in reader.chunks(in: 0..<reader.info.size) { bytes += Array(buffer: chunk) }
                            await reader.close()
                            let text = String(decoding: bytes, as: UTF8.self)
                            let writer = text.first == "a" ? 0 : 1
                            if reader.info.etag != Self.md5(text) || reader.info.attributes.contentType != "text/v\(writer)" { bad += 1 }
                            let info = try await store.objectInfo(bucket: "race", key: "k")
                            if info.etag != Self.md5(versions[info.attributes.contentType == "text/v0" ? 0 : 1]) { bad += 1 }
                        }
                        return bad
                    }
                }
                return try await group.reduce(0, +)
            }
            #expect(mismatches == 0)
        }
    }

    @Test func theMetadataIsAnAttributeOfTheObjectFileAndTheRootIsMarkedLayout3() async throws {
        try await withStore { store, root in
            try await store.createBucket("bkt", owner: "o", now: 0)
            try await store.put(
                "bkt", "doc.txt", "hello", attributes: ObjectAttributes(contentType: "text/plain", userMetadata: ["x": "y"]))
            let fd = open(root + "/bkt/doc.txt", O_RDONLY)
            defer { close(fd) }
            let value = try #require(MetadataAttribute.get(fd: fd))
            #expect(value.etag == Self.md5("hello") && value.attributes.userMetadata == ["x": "y"])
            #expect(try String(contentsOfFile: root + "/.chainvault/layout", encoding: .utf8) == "3\n")
            #expect(
                try FileManager.default.subpathsOfDirectory(atPath: root + "/.chainvault/meta").filter { $0.hasSuffix(".json") }.isEmpty)
        }
    }

    /// Metadata read once is served from memory, but only for the very file it was read from: an
    /// attribute changed by hand (the inode's change time moves) is read anew, by GET and by listing.
    @Test func theMetadataCacheNeverOutlivesTheAttribute() async throws {
        try await withStore { store, root in
            try await store.createBucket("bkt", owner: "o", now: 0)
            let written = try await store.put("bkt", "doc.txt", "hello")
            #expect(try await store.objectInfo(bucket: "bkt", key: "doc.txt").etag == written.etag)
            #expect(try await store.listObjects(bucket: "bkt", ListRequest()).objects.first?.etag == written.etag)
            let fd = open(root + "/bkt/doc.txt", O_RDONLY)
            defer { close(fd) }
            var value = try #require(MetadataAttribute.get(fd: fd))
            value.etag = "0123456789abcdef0123456789abcdef"
            try MetadataAttribute.set(try MetadataAttribute.encode(value, bucket: "bkt", key: "doc.txt"), fd: fd, path: "doc.txt")
            #expect(try await store.objectInfo(bucket: "bkt", key: "doc.txt").etag == value.etag)
            #expect(try await store.listObjects(bucket: "bkt", ListRequest()).objects.first?.etag == value.etag)
            let reader = try await store.openObject(bucket: "bkt", key: "doc.txt")
            #expect(reader.info.etag == value.etag)
            await reader.close()
        }
    }

    @Test func aLayout1RootIsReadWithItsRecords() async throws {
        try await withStore { store, root in
            try await store.createBucket("old", owner: "o", now: 0)
            // As layout 1 left it: the file, and a record matched by size and time.
            try "legacy".write(toFile: root + "/old/report.pdf", atomically: false, encoding: .utf8)
            let status = try #require(try FileOperations.status(root + "/old/report.pdf"))
            let record = MetadataRecord(versions: [
                .init(
                    size: status.size, modificationNanos: status.modificationNanos, etag: "0123456789abcdef0123456789abcdef",
                    attributes: ObjectAttributes(contentType: "application/pdf"))
            ])
            let path = store.metadataPath(bucket: "old", key: "report.pdf")
            try FileOperations.makeDirectories(base: root + "/.chainvault/meta", relative: path.relativeDirectory, mode: 0o700)
            try JSONEncoder().encode(record).write(to: URL(fileURLWithPath: path.file))
            let info = try await store.objectInfo(bucket: "old", key: "report.pdf")
            #expect(info.etag == "0123456789abcdef0123456789abcdef" && info.attributes.contentType == "application/pdf")
            // Taken over into the attribute, so the record is no longer needed.
            try FileManager.default.removeItem(atPath: path.file)
            #expect(try await store.objectInfo(bucket: "old", key: "report.pdf").attributes.contentType == "application/pdf")
        }
    }

    @Test func aFileCopiedInByAnOperatorGetsItsETagFromItsBytes() async throws {
        try await withStore { store, root in
            try await store.createBucket("ops", owner: "o", now: 0)
            try "copied in".write(toFile: root + "/ops/note.txt", atomically: false, encoding: .utf8)
            #expect(try await store.objectInfo(bucket: "ops", key: "note.txt").etag == Self.md5("copied in"))
            #expect(try await store.keys("ops") == ["note.txt"])
        }
    }

    @Test func aNewerLayoutIsRefused() throws {
        let root = temporaryPath("cv-layout")
        defer { try? FileManager.default.removeItem(atPath: root) }
        _ = try BucketStore(root: root)
        try "4\n".write(toFile: root + "/.chainvault/layout", atomically: true, encoding: .utf8)
        #expect {
            _ = try BucketStore(root: root)
        } throws: { error in
            guard case .unusableDataRoot(_, let reason) = error as? StorageError else { return false }
            return reason.contains("layout 4")
        }
    }

    @Test func headersTooLargeToKeepWithTheObjectAreRefused() async throws {
        try await withStore { store, _ in
            try await store.createBucket("big", owner: "o", now: 0)
            await #expect(throws: StorageError.metadataTooLarge(bucket: "big", key: "k")) {
                try await store.put("big", "k", "x", attributes: ObjectAttributes(contentDisposition: String(repeating: "d", count: 5000)))
            }
            #expect(try await store.keys("big").isEmpty)
        }
    }
}
