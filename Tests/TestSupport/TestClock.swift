import Synchronization

/// A clock in whole seconds that the test moves by hand.
package final class TestClock: Sendable {
    private let seconds: Mutex<Int64>

    package init(_ start: Int64 = 1_800_000_000) { seconds = Mutex(start) }

    package var now: Int64 { seconds.withLock { $0 } }

    package func advance(by delta: Int64) { seconds.withLock { $0 += delta } }

    /// Moves the clock by a span's whole seconds.
    package func advance(by span: Duration) { advance(by: span.components.seconds) }

    /// The clock as the services take it.
    package var source: @Sendable () -> Int64 { { [self] in self.now } }
}
