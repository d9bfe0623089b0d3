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

    /// Every allocation carries its usable size in a 16-byte header in front of the bytes (16 keeps
    /// the bytes 16-byte aligned), so that a free can tell a pooled block from another size.
    private static let header = 16

    /// Memory for `size` bytes: a pooled block when one is big enough, else its own allocation.
    func allocate(_ size: Int) -> UnsafeMutableRawPointer? {
        let usable = size <= blockSize ? blockSize : size
        let pooled = size <= blockSize ? idle.withLockedValue { $0.popLast() } : nil
        guard let start = pooled.flatMap(UnsafeMutableRawPointer.init(bitPattern:)) ?? malloc(Self.header + usable) else {
            return nil
        }
        start.storeBytes(of: usable, as: Int.self)
        return start + Self.header
    }

    /// Returns memory from ``allocate(_:)``: a block to the pool while it has room, anything else to the system.
    func deallocate(_ bytes: UnsafeMutableRawPointer) {
        let start = bytes - Self.header
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
