import NIOConcurrencyHelpers
@_spi(CustomByteBufferAllocator) import NIOCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// The buffers large objects are read into: chunk-sized blocks kept mapped between reads.
///
/// `chainvault serve` has glibc map every allocation of 64 KiB or more on its own so that slow
/// readers cannot pile chunks up in per-thread heaps (see `returnLargeBuffersToTheSystem`). A fresh
/// mapping costs a page fault and a zeroed page per 4 KiB the first time it is written: for a
/// 64 MiB GET that is 16 384 faults, and the copy from the page cache into such pages took four
/// times as long as into mapped ones (perf, BENCHMARKS.md 2026-11-30). Freed chunk blocks therefore
/// go to a small pool instead of back to the system; beyond ``maxIdle`` they are released, so idle
/// memory stays bounded at `maxIdle × blockSize` (8 MiB for ``shared``).
///
/// A chunk's buffer is freed by whichever thread drops its last reference (usually the event loop
/// after the socket wrote it), so the pool is shared and locked, and the allocator is a set of C
/// functions (NIO's custom-allocator SPI) that find the pool through a global.
final class ChunkBuffers: Sendable {
    /// The pool large GETs read into: blocks of a chunk's size (128 KiB), at most 64 idle.
    static let shared = ChunkBuffers(blockSize: Int(ObjectReader.Chunks.chunkLength), maxIdle: 64)

    /// Allocates ByteBuffer storage from ``shared``.
    static let allocator = ByteBufferAllocator(
        allocate: { size in ChunkBuffers.shared.allocate(size) },
        reallocate: { pointer, _, newSize in ChunkBuffers.shared.reallocate(pointer, to: newSize) },
        deallocate: { pointer in ChunkBuffers.shared.deallocate(pointer) },
        copy: { destination, source, count in destination.copyMemory(from: source, byteCount: count) }
    )

    /// The size of a pooled block.
    let blockSize: Int
    /// The most blocks kept while no one uses them.
    let maxIdle: Int
    /// The blocks no one uses: the address of each allocation's start (header included). NIO's
    /// (pthread) lock rather than `Synchronization.Mutex`, which spins while it waits (see
    /// `MetadataAttribute.Cache`): blocks are taken and returned on every file and event-loop thread.
    private let idle = NIOLockedValueBox<[UInt]>([])

    init(blockSize: Int, maxIdle: Int) {
        self.blockSize = blockSize
        self.maxIdle = maxIdle
    }

    /// Every allocation carries a 16-byte header in front of the bytes (16 keeps the bytes 16-byte
    /// aligned): its usable size, so that a free can tell a pooled block from another size, and the
    /// ``ChunkCredits`` its reader is waiting on (0 for none), released when the block is freed.
    private static let header = 16
    private static let creditsOffset = 8

    /// Makes freeing `buffer`'s storage give one credit back to `credits` (which `buffer` must have
    /// taken). `buffer` must be fresh from this pool's ``allocator`` (its bytes start at its storage's
    /// start) and carry no credits yet.
    static func attach(_ credits: ChunkCredits, to buffer: ByteBuffer) {
        buffer.withVeryUnsafeBytes { storage in
            let token = UInt(bitPattern: Unmanaged.passRetained(credits).toOpaque())
            (UnsafeMutableRawPointer(mutating: storage.baseAddress!) - header + creditsOffset).storeBytes(of: token, as: UInt.self)
        }
    }

    /// Memory for `size` bytes: a pooled block when one is big enough, else its own allocation.
    func allocate(_ size: Int) -> UnsafeMutableRawPointer? {
        let usable = size <= blockSize ? blockSize : size
        let pooled = size <= blockSize ? idle.withLockedValue { $0.popLast() } : nil
        guard let start = pooled.flatMap(UnsafeMutableRawPointer.init(bitPattern:)) ?? malloc(Self.header + usable) else {
            return nil
        }
        start.storeBytes(of: usable, as: Int.self)
        start.storeBytes(of: 0, toByteOffset: Self.creditsOffset, as: UInt.self)
        return start + Self.header
    }

    /// Returns memory from ``allocate(_:)``: a block to the pool while it has room, anything else to the system.
    func deallocate(_ bytes: UnsafeMutableRawPointer) {
        let start = bytes - Self.header
        let token = start.load(fromByteOffset: Self.creditsOffset, as: UInt.self)
        if let credits = UnsafeRawPointer(bitPattern: token) {
            Unmanaged<ChunkCredits>.fromOpaque(credits).takeRetainedValue().release()
        }
        if start.load(as: Int.self) == blockSize {
            let kept = idle.withLockedValue { idle in
                guard idle.count < maxIdle else { return false }
                idle.append(UInt(bitPattern: start))
                return true
            }
            if kept { return }
        }
        free(start)
    }

    /// Memory for `size` bytes holding what `bytes` held (the same memory when it is big enough).
    func reallocate(_ bytes: UnsafeMutableRawPointer?, to size: Int) -> UnsafeMutableRawPointer? {
        guard let bytes else { return allocate(size) }
        let usable = (bytes - Self.header).load(as: Int.self)
        if size <= usable { return bytes }
        guard let moved = allocate(size) else { return nil }
        moved.copyMemory(from: bytes, byteCount: usable)
        deallocate(bytes)
        return moved
    }

    /// How many blocks are idle.
    var idleCount: Int { idle.withLockedValue { $0.count } }

    deinit {
        for address in idle.withLockedValue({ $0 }) { free(UnsafeMutableRawPointer(bitPattern: address)) }
    }
}

/// How many chunks one reader may have out at once: read, and not yet freed by the socket's writer.
///
/// The response writer's back-pressure alone does not bound a slow reader's chunks: a write returns
/// as soon as the channel was writable when last told, and the event loop tells it only after it has
/// run the queued writes, so a fast producer on a busy server ran ahead by up to 17 chunks per
/// connection (64 slow readers: 1 083 chunks, 135 MiB, at once). A reader takes a credit before each
/// read and gets it back when the chunk's storage is freed (``ChunkBuffers/attach(_:to:)``).
final class ChunkCredits: Sendable {
    let limit: Int
    private let state = NIOLockedValueBox<(out: Int, waiter: CheckedContinuation<Void, Never>?)>((0, nil))

    init(limit: Int) { self.limit = limit }

    /// Waits until fewer than ``limit`` chunks are out, and counts one more.
    func acquire() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let now = state.withLockedValue { state in
                if state.out < limit {
                    state.out += 1
                    return true
                }
                state.waiter = continuation
                return false
            }
            if now { continuation.resume() }
        }
    }

    /// Gives a credit back, waking the reader if it was waiting for one.
    func release() {
        let waiter = state.withLockedValue { state -> CheckedContinuation<Void, Never>? in
            state.out -= 1
            guard state.out < limit, let waiter = state.waiter else { return nil }
            state.waiter = nil
            state.out += 1
            return waiter
        }
        waiter?.resume()
    }

    /// Chunks out now.
    var out: Int { state.withLockedValue { $0.out } }
}
