import ChunkChain
import ChunkChainTesting
import Crypto
import FuzzDriver

/// Up to eight stored chunks, each `[bucket: 1 byte, even A / odd B][length: 2 bytes big-endian][bytes]`,
/// put in an in-memory store under their own hashes (as a real store holds them); the first is the
/// head. Then keyless walks from the head parse every chunk header and follow every pointer (the seeds
/// are the golden chains of Tests/ChunkChainTests/Vectors). Each problem must be a `ChainError`,
/// never a crash, and no walk may loop. The same bytes as text are parsed as a head pointer.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = bytes(data, size)
    // The text form read back from the chain index and the command line (`A:<64 hex digits>`, through
    // Hex.decode): parsed without a crash, and what parses prints back to itself.
    if let pointer = ChunkPointer(String(decoding: input, as: UTF8.self)) {
        precondition(ChunkPointer(pointer.description) == pointer, "a head pointer reads back as itself")
    }
    var records: [(bucket: ChainBucket, bytes: [UInt8])] = []
    var offset = 0
    while records.count < 8, offset + 3 <= input.count {
        let length = Int(input[offset + 1]) << 8 | Int(input[offset + 2])
        let end = min(input.count, offset + 3 + length)
        records.append((input[offset] % 2 == 0 ? .a : .b, Array(input[(offset + 3)..<end])))
        offset = end
    }
    guard !records.isEmpty else { return 0 }
    let chunks = records
    blocking {
        let store = MemoryChunkStore()
        var pointers: [ChunkPointer] = []
        for record in chunks {
            let pointer = ChunkPointer(bucket: record.bucket, hash: Array(SHA256.hash(data: record.bytes)))
            try? await store.put(record.bytes, key: pointer.key, bucket: pointer.bucket)
            pointers.append(pointer)
        }
        _ = try? await ChainReader(store: store).verify(head: pointers[0])
        _ = try? await ChainReader(store: store).verify(head: pointers[0], mirrored: true)
        _ = try? await ChainReader(store: store).checkHead(pointers[0], mirrored: true)
    }
    return 0
}

@_cdecl("FuzzChunk_main")
func main(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt { runFuzzer(argc, argv) }
