public import BucketStore
public import Logging
import Metrics
import Operations
public import ServiceLifecycle

/// Background work on the store while the gateway serves, once at start-up and then every `interval`:
/// aborts multipart uploads older than `uploadExpiry` (clients that died mid-upload leave their parts
/// behind otherwise), and publishes what each bucket holds as gauges — `chainvault_bucket_objects`,
/// `chainvault_bucket_bytes` and `chainvault_multipart_uploads_open`, by bucket.
public struct StoreHousekeeping: Service {
    let store: BucketStore
    let uploadExpiry: Duration
    let interval: Duration
    let clock: @Sendable () -> Int64
    let logger: Logger

    /// - Parameters:
    ///   - uploadExpiry: The age at which an upload that was neither completed nor aborted is aborted.
    ///   - interval: Time between two rounds.
    public init(
        store: BucketStore, uploadExpiry: Duration, interval: Duration, clock: @escaping @Sendable () -> Int64,
        logger: Logger = Logger(label: "chainvault.housekeeping")
    ) {
        self.store = store
        self.uploadExpiry = uploadExpiry
        self.interval = interval
        self.clock = clock
        self.logger = logger
    }

    public func run() async throws {
        var published: Set<String> = []
        await Periodic.run(every: interval) { await round(published: &published) }
    }

    /// One round; failures are logged and retried at the next round.
    func round(published: inout Set<String>) async {
        do {
            let aborted = try await store.expireMultipartUploads(initiatedBefore: clock() - uploadExpiry.components.seconds)
            if aborted > 0 { logger.info("aborted expired multipart uploads", metadata: ["count": "\(aborted)"]) }
        } catch {
            logger.error("expiring multipart uploads failed", metadata: ["error": "\(error)"])
        }
        do {
            let usage = try await store.usage()
            for bucket in usage {
                let dimensions = [("bucket", bucket.bucket)]
                Gauge(label: "chainvault_bucket_objects", dimensions: dimensions).record(bucket.objects)
                Gauge(label: "chainvault_bucket_bytes", dimensions: dimensions).record(bucket.bytes)
                Gauge(label: "chainvault_multipart_uploads_open", dimensions: dimensions).record(bucket.openUploads)
            }
            // A deleted bucket's series drop to zero rather than keep its last values.
            let current = Set(usage.map(\.bucket))
            for gone in published.subtracting(current) {
                for label in ["chainvault_bucket_objects", "chainvault_bucket_bytes", "chainvault_multipart_uploads_open"] {
                    Gauge(label: label, dimensions: [("bucket", gone)]).record(0)
                }
            }
            published = current
        } catch {
            logger.error("measuring bucket usage failed", metadata: ["error": "\(error)"])
        }
    }
}
