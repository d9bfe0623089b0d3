import Crypto
import DurableFiles
import Foundation
import Hex
public import NIOCore

#if canImport(Glibc)
    import Glibc
#endif

/// An in-flight multipart upload.
public struct MultipartUpload: Sendable, Codable, Equatable {
    public var uploadId: String
    public var bucket: String
    public var key: String
    /// The access key id that created it.
    public var owner: String
    /// Creation time, seconds since 1970.
    public var initiated: Int64
    /// What the completed object will carry.
    public var attributes: ObjectAttributes
}

/// One uploaded part.
public struct UploadedPart: Sendable, Codable, Equatable {
    public var partNumber: Int
    /// Hex MD5 of the part.
    public var etag: String
    public var size: Int64
    public var modificationNanos: Int64
    /// Checksums by algorithm name, as base64.
    public var checksums: [String: String]
}

/// What a completed upload was, so that a repeated CompleteMultipartUpload with the same parts succeeds again.
struct CompletedUpload: Codable {
    var parts: [String]
    var info: StoredInfo

    struct StoredInfo: Codable {
        var size: Int64
        var modificationNanos: Int64
        var etag: String
    }
}

/// Multipart uploads live in `.chainvault/uploads/<bucket>/<upload id>/`: `upload.json`, one file
/// per part (`00001`) with its record (`00001.json`). Parts stream to disk like objects; completing
/// concatenates them into a temporary file that is published like any PUT.
extension BucketStore {
    /// The largest part number S3 allows.
    public static let maxPartNumber = 10_000
    /// The smallest size of every part but the last.
    public static let minPartSize: Int64 = 5 * 1024 * 1024

    func uploadsPath(_ bucket: String) -> String { systemPath + "/uploads/" + bucket }

    /// The folder of an upload, after checking the id's shape (32 hex digits), so it can never name another path.
    func uploadPath(bucket: String, uploadId: String) throws(StorageError) -> String {
        guard uploadId.utf8.count == 32, uploadId.utf8.allSatisfy({ (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }) else {
            throw .noSuchUpload(uploadId: uploadId)
        }
        return uploadsPath(bucket) + "/" + uploadId
    }

    static func partName(_ partNumber: Int) -> String { String(partNumber).leftPadded(to: 5) }

    /// Starts a multipart upload.
    /// - Throws: ``StorageError`` `noSuchBucket`, key errors, `io`.
    public func createMultipartUpload(
        bucket: String,
        key: String,
        owner: String,
        attributes: ObjectAttributes,
        now: Int64
    ) async throws(StorageError) -> MultipartUpload {
        _ = try ObjectKey(key)
        var generator = SystemRandomNumberGenerator()
        let uploadId = Hex.encode((0..<16).map { _ in UInt8.random(in: 0...255, using: &generator) })
        let upload = MultipartUpload(uploadId: uploadId, bucket: bucket, key: key, owner: owner, initiated: now, attributes: attributes)
        let path = try uploadPath(bucket: bucket, uploadId: uploadId)
        let temporary = newTemporaryPath()
        let systemPath = self.systemPath
        try await blocking { () throws(StorageError) in
            try self.gate.whileOpen(bucket) { () throws(StorageError) in
                _ = try self.existingBucketPath(bucket)
                try FileOperations.makeDirectories(base: systemPath, relative: ["uploads", bucket[...], uploadId[...]], mode: 0o700)
                try FileOperations.replaceFile(
                    path + "/upload.json", bytes: Array(try Self.encode(upload)), temporaryPath: temporary, mode: 0o600)
            }
        }
        return upload
    }

    /// The in-flight upload `uploadId` of `key` in `bucket`.
    /// - Throws: ``StorageError/noSuchUpload(uploadId:)`` when it does not exist, was aborted or completed.
    public func multipartUpload(bucket: String, key: String, uploadId: String) async throws(StorageError) -> MultipartUpload {
        let path = try uploadPath(bucket: bucket, uploadId: uploadId)
        return try await blocking { () throws(StorageError) in
            _ = try self.existingBucketPath(bucket)
            guard let upload = try Self.readUpload(path), upload.key == key,
                try FileOperations.status(path + "/completed.json") == nil
            else { throw .noSuchUpload(uploadId: uploadId) }
            return upload
        }
    }

    static func readUpload(_ path: String) throws(StorageError) -> MultipartUpload? {
        guard let bytes = try FileOperations.readFile(path + "/upload.json") else { return nil }
        return try? JSONDecoder().decode(MultipartUpload.self, from: Data(bytes))
    }

    /// Stores one part, replacing an earlier upload of the same part number.
    /// - Throws: ``StorageError`` `noSuchUpload`, `insufficientStorage`, `io`, or what `body` throws.
    public func uploadPart<Body: AsyncSequence>(
        bucket: String,
        key: String,
        uploadId: String,
        partNumber: Int,
        checksums: @Sendable () -> [String: String] = { [:] },
        body: Body
    ) async throws -> UploadedPart where Body.Element == ByteBuffer {
        _ = try await multipartUpload(bucket: bucket, key: key, uploadId: uploadId)
        let path = try uploadPath(bucket: bucket, uploadId: uploadId)
        let name = Self.partName(partNumber)
        return try await withStagedBody(
            body, bucket: bucket, key: key,
            finish: { fd, temporary, _ throws(StorageError) in
                guard fsync(fd) == 0 else { throw FileOperations.fail("fsync", temporary) }
                return try FileOperations.status(fd: fd, path: temporary)
            },
            publish: { temporary, etag, written in
                let recordTemporary = newTemporaryPath()
                let partChecksums = checksums()
                return try await locks.withLock(uploadId + "/" + name) {
                    try await blocking { () throws(StorageError) in
                        // The upload may have been aborted or completed while the part streamed.
                        guard try FileOperations.status(path + "/upload.json") != nil,
                            try FileOperations.status(path + "/completed.json") == nil
                        else { throw .noSuchUpload(uploadId: uploadId) }
                        let part = UploadedPart(
                            partNumber: partNumber,
                            etag: etag,
                            size: written.size,
                            modificationNanos: written.modificationNanos,
                            checksums: partChecksums
                        )
                        try FileOperations.replaceFile(
                            path + "/" + name + ".json",
                            bytes: Array(try Self.encode(part)),
                            temporaryPath: recordTemporary,
                            mode: 0o600
                        )
                        try FileOperations.rename(temporary, path + "/" + name)
                        try FileOperations.syncDirectory(path)
                        return part
                    }
                }
            })
    }

    /// The parts uploaded so far, by part number.
    public func listParts(bucket: String, key: String, uploadId: String) async throws(StorageError) -> [UploadedPart] {
        _ = try await multipartUpload(bucket: bucket, key: key, uploadId: uploadId)
        let path = try uploadPath(bucket: bucket, uploadId: uploadId)
        return try await blocking { () throws(StorageError) in try Self.parts(in: path) }
    }

    /// The parts whose file matches its record (a part whose record was written but not its file is not there).
    static func parts(in path: String) throws(StorageError) -> [UploadedPart] {
        var parts: [UploadedPart] = []
        for entry in try FileOperations.entries(path) ?? [] where entry.kind == .file && entry.name.hasSuffix(".json") {
            guard entry.name != "upload.json", entry.name != "completed.json",
                let bytes = try FileOperations.readFile(path + "/" + entry.name),
                let part = try? JSONDecoder().decode(UploadedPart.self, from: Data(bytes)),
                let status = try FileOperations.status(path + "/" + partName(part.partNumber)),
                status.size == part.size, status.modificationNanos == part.modificationNanos
            else { continue }
            parts.append(part)
        }
        return parts.sorted { $0.partNumber < $1.partNumber }
    }

    /// Completes an upload: checks the part list, concatenates the parts and publishes the object.
    ///
    /// A repeated completion with the same parts returns the object it published the first time.
    /// - Parameter parts: Part numbers with the ETags the client got for them, in the client's order.
    /// - Returns: The object, with the multipart ETag `<md5 of the part MD5s>-<part count>`.
    /// - Throws: ``StorageError`` `noSuchUpload`, `invalidPartOrder`, `invalidPart`, `entityTooSmall`,
    ///   `preconditionFailed` / `noSuchKey` / `conditionalRequestConflict` when `condition` fails, `io`.
    public func completeMultipartUpload(
        bucket: String,
        key: String,
        uploadId: String,
        parts requested: [(partNumber: Int, etag: String)],
        condition: WriteCondition = .none
    ) async throws -> ObjectInfo {
        let path = try uploadPath(bucket: bucket, uploadId: uploadId)
        let partList = requested.map { "\($0.partNumber):\(Self.unquote($0.etag))" }
        if let completed = try await blocking({ () throws(StorageError) -> CompletedUpload? in
            guard let bytes = try FileOperations.readFile(path + "/completed.json") else { return nil }
            return try? JSONDecoder().decode(CompletedUpload.self, from: Data(bytes))
        }) {
            guard completed.parts == partList else { throw StorageError.noSuchUpload(uploadId: uploadId) }
            return ObjectInfo(
                bucket: bucket,
                key: key,
                size: completed.info.size,
                modificationNanos: completed.info.modificationNanos,
                etag: completed.info.etag,
                attributes: try await multipartUploadRecord(path: path, uploadId: uploadId).attributes
            )
        }
        let upload = try await multipartUpload(bucket: bucket, key: key, uploadId: uploadId)
        let objectKey = try ObjectKey(key)
        try await blocking { () throws(StorageError) in
            try self.check(condition, bucketPath: try self.existingBucketPath(bucket), bucket: bucket, key: objectKey)
        }
        guard !requested.isEmpty else { throw StorageError.invalidPartOrder }
        for (previous, next) in zip(requested, requested.dropFirst()) where next.partNumber <= previous.partNumber {
            throw StorageError.invalidPartOrder
        }
        let stored = Dictionary(
            uniqueKeysWithValues: try await blocking { () throws(StorageError) in try Self.parts(in: path) }.map { ($0.partNumber, $0) })
        var selected: [UploadedPart] = []
        for (index, request) in requested.enumerated() {
            guard let part = stored[request.partNumber], part.etag == Self.unquote(request.etag) else {
                throw StorageError.invalidPart(partNumber: request.partNumber)
            }
            if index < requested.count - 1, part.size < Self.minPartSize {
                throw StorageError.entityTooSmall(partNumber: part.partNumber, size: part.size)
            }
            selected.append(part)
        }
        let chosen = selected
        var md5s: [UInt8] = []
        for part in chosen { md5s += Hex.decode(part.etag) ?? [] }
        let etag = Hex.encode(Insecure.MD5.hash(data: md5s)) + "-\(chosen.count)"
        // The parts are copied into the object: refuse a completion the file system cannot hold.
        let reservation = try reserveSpace(for: chosen.reduce(0) { $0 + $1.size }, bucket: bucket, key: key)
        defer { withExtendedLifetime(reservation) {} }
        let temporary = newTemporaryPath()
        do {
            let sealed = try await blocking { () throws(StorageError) in
                try Self.concatenate(chosen.map { path + "/" + Self.partName($0.partNumber) }, into: temporary)
                return try FileOperations.withFile(temporary, flags: O_RDONLY) { fd throws(StorageError) in
                    try Self.seal(fd: fd, path: temporary, etag: etag, attributes: upload.attributes, bucket: bucket, key: key)
                }
            }
            let info = try await publish(temporary: temporary, bucket: bucket, key: objectKey, condition: condition, sealed: sealed)
            let completed = CompletedUpload(
                parts: partList,
                info: .init(size: info.size, modificationNanos: info.modificationNanos, etag: etag)
            )
            let recordTemporary = newTemporaryPath()
            try await blocking { () throws(StorageError) in
                try FileOperations.replaceFile(
                    path + "/completed.json", bytes: Array(try Self.encode(completed)), temporaryPath: recordTemporary)
                for part in chosen {
                    try FileOperations.removeFile(path + "/" + Self.partName(part.partNumber))
                }
            }
            return info
        } catch {
            _ = try? await blocking { () throws(StorageError) in try FileOperations.removeFile(temporary) }
            throw error
        }
    }

    private func multipartUploadRecord(path: String, uploadId: String) async throws(StorageError) -> MultipartUpload {
        try await blocking { () throws(StorageError) in
            guard let upload = try Self.readUpload(path) else { throw .noSuchUpload(uploadId: uploadId) }
            return upload
        }
    }

    /// Aborts an upload and removes its parts.
    /// - Throws: ``StorageError/noSuchUpload(uploadId:)``.
    public func abortMultipartUpload(bucket: String, key: String, uploadId: String) async throws(StorageError) {
        _ = try await multipartUpload(bucket: bucket, key: key, uploadId: uploadId)
        let path = try uploadPath(bucket: bucket, uploadId: uploadId)
        try await blocking { () throws(StorageError) in try Self.removeTree(path) }
    }

    /// The in-flight uploads of a bucket, by key then initiation time.
    public func listMultipartUploads(bucket: String) async throws(StorageError) -> [MultipartUpload] {
        let folder = uploadsPath(bucket)
        return try await blocking { () throws(StorageError) in
            _ = try self.existingBucketPath(bucket)
            var uploads: [MultipartUpload] = []
            for entry in try FileOperations.entries(folder) ?? [] where entry.kind == .directory {
                let path = folder + "/" + entry.name
                guard try FileOperations.status(path + "/completed.json") == nil, let upload = try Self.readUpload(path) else { continue }
                uploads.append(upload)
            }
            return uploads.sorted {
                $0.key == $1.key ? $0.initiated < $1.initiated : $0.key.utf8.lexicographicallyPrecedes($1.key.utf8)
            }
        }
    }

    static func unquote(_ etag: String) -> String {
        var text = Substring(etag)
        if text.hasPrefix("\"") { text = text.dropFirst() }
        if text.hasSuffix("\"") { text = text.dropLast() }
        return String(text)
    }

    /// Concatenates files into a new, fsynced file, 1 MiB at a time.
    static func concatenate(_ sources: [String], into destination: String) throws(StorageError) {
        let out = open(destination, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard out >= 0 else { throw FileOperations.fail("open", destination) }
        defer { close(out) }
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        for source in sources {
            let input = open(source, O_RDONLY | O_CLOEXEC)
            guard input >= 0 else { throw FileOperations.fail("open", source) }
            defer { close(input) }
            do throws(FileError) {
                while true {
                    let count = try FileDescriptorIO.read(input, into: &buffer, path: source)
                    if count == 0 { break }
                    try FileDescriptorIO.write(out, Array(buffer[..<count]), path: destination)
                }
            } catch {
                throw StorageError(error)
            }
        }
        guard fsync(out) == 0 else { throw FileOperations.fail("fsync", destination) }
    }
}
