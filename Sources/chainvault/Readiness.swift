import BucketStore
import ChunkChain
import DurableFiles
import Foundation
import HospitalCore
import NIOCore
import NIOPosix
import Operations

/// What `/-/health/ready` checks for `serve`: the data root takes a durable write, its file system has
/// more free space than the reserve, and both chain buckets answer.
enum Readiness {
    static func probe(store: BucketStore, chunks: any ChunkStore) -> HealthProbe {
        HealthProbe {
            // A write with fsync and a statvfs: blocking calls, on NIO's thread pool.
            var checks: [HealthCheck]
            do {
                checks = try await NIOThreadPool.singleton.runIfActive { [dataRootWritable(store), freeSpace(store)] }
            } catch {
                checks = [HealthCheck(name: "data root writable", ok: false, detail: "\(error)")]  // fail closed
            }
            for bucket in ChainBucket.allCases { checks.append(await chainBucket(bucket, in: chunks)) }
            return checks
        }
    }

    /// The hospital's database answers a read within 5 s (SQLite's file, or the PostgreSQL server of
    /// `--database-url`): only the hospital listener's readiness has it, so a database that is away takes
    /// the hospital out of a balancer's rotation while the S3 gateway goes on.
    static func hospitalDatabase(_ storage: any HospitalStorage) -> @Sendable () async -> [HealthCheck] {
        {
            let name = "hospital database"
            do {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask { _ = try await storage.read { try await $0.ledger.newestEntry() } }
                    group.addTask {
                        try await Task.sleep(for: .seconds(5))
                        throw CancellationError()
                    }
                    try await group.next()
                    group.cancelAll()
                }
                return [HealthCheck(name: name, ok: true, detail: "answers")]
            } catch is CancellationError {
                return [HealthCheck(name: name, ok: false, detail: "no answer within 5 s")]
            } catch {
                return [HealthCheck(name: name, ok: false, detail: "\(error)")]
            }
        }
    }

    /// Creates, fsyncs and removes a small file where uploads are staged.
    static func dataRootWritable(_ store: BucketStore) -> HealthCheck {
        let path = store.systemPath + "/tmp/health-\(UUID().uuidString)"
        defer { unlink(path) }
        do {
            try DurableFile.write(path, bytes: [0], mode: 0o600)
        } catch {
            return HealthCheck(name: "data root writable", ok: false, detail: String(cString: strerror(error.errno)))
        }
        return HealthCheck(name: "data root writable", ok: true, detail: store.root)
    }

    static func freeSpace(_ store: BucketStore) -> HealthCheck {
        guard let free = store.freeBytes() else {
            return HealthCheck(name: "free space", ok: false, detail: String(cString: strerror(errno)))
        }
        let reserve = store.freeSpaceReserve
        guard free > reserve else {
            // What to do on a disk smaller than the default reserve (a test machine, a small volume).
            return HealthCheck(
                name: "free space", ok: false,
                detail: "\(free) bytes free, reserve \(reserve): free space, or lower --free-space-reserve (CHAINVAULT_FREE_SPACE_RESERVE)")
        }
        return HealthCheck(name: "free space", ok: true, detail: "\(free) bytes free, reserve \(reserve)")
    }

    /// A HEAD of a key no chunk has: any answer, found or not, means the bucket's store answers; an
    /// error or 5 s of silence means it does not.
    static func chainBucket(_ bucket: ChainBucket, in chunks: any ChunkStore) async -> HealthCheck {
        let name = "chain bucket \(bucket)"
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { _ = try await chunks.head(key: String(repeating: "0", count: 64), bucket: bucket) }
                group.addTask {
                    try await Task.sleep(for: .seconds(5))
                    throw CancellationError()
                }
                try await group.next()
                group.cancelAll()
            }
            return HealthCheck(name: name, ok: true, detail: "answers")
        } catch is CancellationError {
            return HealthCheck(name: name, ok: false, detail: "no answer within 5 s")
        } catch {
            return HealthCheck(name: name, ok: false, detail: "\(error)")
        }
    }
}
