import ServiceLifecycle

/// The loop of a background service that works in rounds: a round now, then one every `interval`,
/// until the service group shuts down gracefully; then `atShutdown` once. A round handles its own
/// failures (it logs them and the next round tries again), so the loop never ends early.
public enum Periodic {
    public static func run(every interval: Duration, _ round: () async -> Void, atShutdown: () async -> Void = {}) async {
        while true {
            await round()
            do {
                try await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
            } catch {
                await atShutdown()
                return
            }
        }
    }
}
