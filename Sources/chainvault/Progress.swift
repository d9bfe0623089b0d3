import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A progress bar on standard error, drawn only when standard error is a terminal, at most ten times a
/// second: `label [#######.............]  35%  90.0 MiB of 256.0 MiB  112.4 MiB/s`; not at all when the
/// total is unknown (zero).
final class ProgressBar: @unchecked Sendable {
    let label: String
    let total: Int64
    let enabled: Bool
    let started = Date()
    private var done: Int64 = 0
    private var lastDrawn = Date.distantPast
    private let lock = NSLock()

    init(_ label: String, total: Int64, enabled: Bool = isatty(STDERR_FILENO) == 1) {
        self.label = label
        self.total = total
        self.enabled = enabled && total > 0
    }

    func advance(by count: Int64) {
        lock.withLock {
            done += count
            guard enabled, Date().timeIntervalSince(lastDrawn) >= 0.1 || done >= total else { return }
            lastDrawn = Date()
            draw()
        }
    }

    /// Ends the bar's line.
    func finish() {
        lock.withLock {
            guard enabled else { return }
            draw()
            FileHandle.standardError.write(Data("\n".utf8))
        }
    }

    private func draw() {
        let fraction = total > 0 ? min(Double(done) / Double(total), 1) : 1
        let width = 30
        let filled = Int(fraction * Double(width))
        let seconds = max(Date().timeIntervalSince(started), 0.001)
        let line = String(
            format: "\r%@ [%@%@] %3d%%  %@ of %@  %@/s", label, String(repeating: "#", count: filled),
            String(repeating: ".", count: width - filled), Int(fraction * 100), Self.size(done), Self.size(total),
            Self.size(Int64(Double(done) / seconds)))
        FileHandle.standardError.write(Data(line.utf8))
    }

    static func size(_ bytes: Int64) -> String {
        bytes >= 1 << 30
            ? String(format: "%.1f GiB", Double(bytes) / Double(1 << 30))
            : bytes >= 1 << 20 ? String(format: "%.1f MiB", Double(bytes) / Double(1 << 20)) : "\(bytes) B"
    }
}
