import Foundation
import NIOCore
import Testing

@testable import BucketStore

@Suite struct MultipartStoreTests {
    static let five = [UInt8](repeating: 7, count: Int(BucketStore.minPartSize))

    @Test func concurrentPartsCompleteInOrder() async throws {
        try await withStore { store, root in
            try await store.createBucket("mpb", owner: "AK1", now: 0)
            let upload = try await store.createMultipartUpload(
                bucket: "mpb", key: "k", owner: "AK1", attributes: ObjectAttributes(contentType: "x/y"), now: 5)
            let bodies: [[UInt8]] = (1...4).map { index in index < 4 ? Self.five.map { $0 &+ UInt8(index) } : Array("tail".utf8) }
            let parts = try await withThrowingTaskGroup(of: UploadedPart.self) { group in
                for (index, body) in bodies.enumerated().reversed() {
                    group.addTask {
                        try await store.uploadPart(
                            bucket: "mpb",
                            key: "k",
                            uploadId: upload.uploadId,
                            partNumber: index + 1,
                            body: Chunks(
                                chunks: stride(from: 0, to: body.count, by: 100_000).map { Array(body[$0..<min($0 + 100_000, body.count)]) }
                            )
                        )
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }.sorted { $0.partNumber < $1.partNumber }
            }
            #expect(try await store.listParts(bucket: "mpb", key: "k", uploadId: upload.uploadId) == parts)
            let info = try await store.completeMultipartUpload(
                bucket: "mpb",
                key: "k",
                uploadId: upload.uploadId,
                parts: parts.map { ($0.partNumber, "\"\($0.etag)\"") }
            )
            #expect(info.etag.hasSuffix("-4"))
            #expect(info.attributes.contentType == "x/y")
            #expect(try Data(contentsOf: URL(fileURLWithPath: root + "/mpb/k")) == Data(bodies.joined()))
            #expect(try await store.listMultipartUploads(bucket: "mpb").isEmpty)
            // The parts' files are gone; only the completion record stays for a repeated Complete.
            let folder = root + "/.chainvault/uploads/mpb/" + upload.uploadId
            #expect(
                try FileManager.default.contentsOfDirectory(atPath: folder).sorted() == [
                    "00001.json", "00002.json", "00003.json", "00004.json", "completed.json", "upload.json",
                ])
            // A completed upload does not keep its bucket from being deleted.
            try await store.deleteObject(bucket: "mpb", key: "k")
            try await store.deleteBucket("mpb")
        }
    }

    @Test func aPartRecordWithoutItsFileIsNotAPart() async throws {
        try await withStore { store, root in
            try await store.createBucket("mpb", owner: "AK1", now: 0)
            let upload = try await store.createMultipartUpload(
                bucket: "mpb", key: "k", owner: "AK1", attributes: ObjectAttributes(), now: 0)
            let part = try await store.uploadPart(
                bucket: "mpb", key: "k", uploadId: upload.uploadId, partNumber: 1, body: Chunks(chunks: [[1, 2, 3]]))
            // As if the machine died between writing the record and renaming the part into place.
            try FileManager.default.removeItem(atPath: root + "/.chainvault/uploads/mpb/\(upload.uploadId)/00001")
            #expect(try await store.listParts(bucket: "mpb", key: "k", uploadId: upload.uploadId).isEmpty)
            await #expect(throws: StorageError.invalidPart(partNumber: 1)) {
                try await store.completeMultipartUpload(bucket: "mpb", key: "k", uploadId: upload.uploadId, parts: [(1, part.etag)])
            }
        }
    }

    @Test func uploadIdsCannotNameOtherPaths() async throws {
        try await withStore { store, _ in
            try await store.createBucket("mpb", owner: "AK1", now: 0)
            for id in ["../../../etc", "", "0123456789abcdef0123456789ABCDEF", String(repeating: "a", count: 33)] {
                await #expect(throws: StorageError.noSuchUpload(uploadId: id)) {
                    try await store.multipartUpload(bucket: "mpb", key: "k", uploadId: id)
                }
            }
            let upload = try await store.createMultipartUpload(
                bucket: "mpb", key: "k", owner: "AK1", attributes: ObjectAttributes(), now: 0)
            // The upload belongs to its key.
            await #expect(throws: StorageError.noSuchUpload(uploadId: upload.uploadId)) {
                try await store.multipartUpload(bucket: "mpb", key: "other", uploadId: upload.uploadId)
            }
        }
    }
}

@Suite struct HousekeepingTests {
    @Test func uploadsOlderThanTheCutoffAreAbortedAndTheRestKept() async throws {
        try await withStore { store, root in
            try await store.createBucket("hkb", owner: "AK1", now: 0)
            let old = try await store.createMultipartUpload(
                bucket: "hkb", key: "old", owner: "AK1", attributes: ObjectAttributes(), now: 100)
            _ = try await store.uploadPart(
                bucket: "hkb", key: "old", uploadId: old.uploadId, partNumber: 1, body: Chunks(chunks: [[1, 2, 3]]))
            let fresh = try await store.createMultipartUpload(
                bucket: "hkb", key: "fresh", owner: "AK1", attributes: ObjectAttributes(), now: 200)
            let done = try await store.createMultipartUpload(
                bucket: "hkb", key: "done", owner: "AK1", attributes: ObjectAttributes(), now: 50)
            let part = try await store.uploadPart(
                bucket: "hkb", key: "done", uploadId: done.uploadId, partNumber: 1, body: Chunks(chunks: [[9]]))
            _ = try await store.completeMultipartUpload(bucket: "hkb", key: "done", uploadId: done.uploadId, parts: [(1, part.etag)])

            #expect(try await store.expireMultipartUploads(initiatedBefore: 150) == 1)
            #expect(try await store.listMultipartUploads(bucket: "hkb").map(\.uploadId) == [fresh.uploadId])
            await #expect(throws: StorageError.noSuchUpload(uploadId: old.uploadId)) {
                try await store.listParts(bucket: "hkb", key: "old", uploadId: old.uploadId)
            }
            #expect(!FileManager.default.fileExists(atPath: root + "/.chainvault/uploads/hkb/" + old.uploadId), "its parts are gone")
            #expect(
                FileManager.default.fileExists(atPath: root + "/.chainvault/uploads/hkb/" + done.uploadId), "a recent completion is kept")
            #expect(try await store.read("hkb", "done") == "\u{9}", "the completed object stays")

            // Far in the future: the completion record goes too, the object stays.
            #expect(try await store.expireMultipartUploads(initiatedBefore: Int64(Date().timeIntervalSince1970) + 60) == 1)
            #expect(try FileManager.default.contentsOfDirectory(atPath: root + "/.chainvault/uploads/hkb").isEmpty)
            #expect(try await store.read("hkb", "done") == "\u{9}")
        }
    }

    @Test func usageCountsObjectsBytesAndOpenUploadsPerBucket() async throws {
        try await withStore { store, _ in
            try await store.createBucket("one", owner: "AK1", now: 0)
            try await store.createBucket("two", owner: "AK1", now: 0)
            try await store.put("one", "a", "12345")
            try await store.put("one", "deep/er/b", "123")
            try await store.put("one", "a", "1234567")  // an overwrite is still one object
            _ = try await store.createMultipartUpload(bucket: "two", key: "k", owner: "AK1", attributes: ObjectAttributes(), now: 0)
            let usage = try await store.usage()
            #expect(
                usage == [
                    .init(bucket: "one", objects: 2, bytes: 10, openUploads: 0),
                    .init(bucket: "two", objects: 0, bytes: 0, openUploads: 1),
                ])
        }
    }
}
