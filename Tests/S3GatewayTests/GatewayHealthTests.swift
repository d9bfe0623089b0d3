import BucketStore
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Operations
import Prometheus
import S3Protocol
import TestSupport
import Testing

@testable import S3Gateway

@Suite struct GatewayHealthTests {
    @Test func healthNeedsNoSignatureAndReadyReportsTheInjectedChecks() async throws {
        let failing = HealthProbe {
            [
                HealthCheck(name: "data root writable", ok: true, detail: "/srv"),
                HealthCheck(name: "free space", ok: false, detail: "0 bytes"),
            ]
        }
        let metrics = MetricsEndpoint(registry: PrometheusCollectorRegistry(), token: "metrics-token-0123456789")
        try await LiveGateway().run(health: failing, metrics: metrics) { client in
            let live = try await client.execute(uri: "/-/health/live", method: .get)
            #expect(live.status == .ok && String(buffer: live.body) == #"{"checks":[],"status":"ok"}"#)
            let ready = try await client.execute(uri: "/-/health/ready", method: .get)
            #expect(ready.status == .serviceUnavailable)
            let body = try JSONSerialization.jsonObject(with: Data(ready.body.readableBytesView)) as? [String: Any]
            #expect(body?["status"] as? String == "unavailable")
            // Without the metrics token the checks (paths, bucket names) are not told.
            #expect((body?["checks"] as? [[String: Any]])?.isEmpty == true)
            #expect(!String(buffer: ready.body).contains("/srv"))
            let detailed = try await client.execute(
                uri: "/-/health/ready", method: .get, headers: [.authorization: "Bearer metrics-token-0123456789"])
            let details = try JSONSerialization.jsonObject(with: Data(detailed.body.readableBytesView)) as? [String: Any]
            #expect((details?["checks"] as? [[String: Any]])?.map { $0["ok"] as? Bool } == [true, false])
            let head = try await client.execute(uri: "/-/health/live", method: .head)
            #expect(head.status == .ok && head.body.readableBytes == 0)
            // Anything else under /-/ is an S3 request like any other: unsigned, it is refused.
            let other = try await client.execute(uri: "/-/metrics-unknown", method: .get)
            #expect(other.status == .forbidden)
            let put = try await client.execute(uri: "/-/health/live", method: .put, body: ByteBuffer(string: "x"))
            #expect(put.status == .forbidden)
        }
    }
}

@Suite struct FullDiskTests {
    @Test func aFullFileSystemIsInsufficientStorageAnywhereInAWrite() {
        // A record write, a concatenation: any step of a write that meets ENOSPC or EDQUOT.
        for code in [ENOSPC, EDQUOT] {
            let error = StorageError.io(operation: "write", path: "/data/.chainvault/tmp/x", errno: code).s3Error
            #expect(error.code == .insufficientStorage && error.code.httpStatus == 507)
            #expect(error.resource == nil, "no file-system path reaches the client")
        }
        #expect(StorageError.io(operation: "write", path: "/x", errno: EIO).s3Error.code == .internalError)
        #expect(StorageError.insufficientStorage(bucket: "b", key: "k").s3Error.resource == "/b/k")
    }
}
