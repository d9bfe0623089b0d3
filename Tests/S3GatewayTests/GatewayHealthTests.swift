import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Operations
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
        try await TestGateway().run(health: failing) { client in
            let live = try await client.execute(uri: "/-/health/live", method: .get)
            #expect(live.status == .ok && String(buffer: live.body) == #"{"checks":[],"status":"ok"}"#)
            let ready = try await client.execute(uri: "/-/health/ready", method: .get)
            #expect(ready.status == .serviceUnavailable)
            let body = try JSONSerialization.jsonObject(with: Data(ready.body.readableBytesView)) as? [String: Any]
            #expect(body?["status"] as? String == "unavailable")
            #expect((body?["checks"] as? [[String: Any]])?.map { $0["ok"] as? Bool } == [true, false])
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
