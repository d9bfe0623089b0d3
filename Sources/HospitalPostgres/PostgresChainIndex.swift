package import ChunkChain
import Foundation
import HospitalCore
import PostgresNIO

/// The chain index of a hospital whose instances share a PostgreSQL database: what each instance writes
/// when it stores a report, and what every instance and the `chain`/`keys` commands read — a chain
/// written through one instance is known to all, and `keys rotate` re-wraps every chain's key once.
package struct PostgresChainIndex: ChainIndex {
    let storage: PostgresHospitalStorage

    package init(storage: PostgresHospitalStorage) {
        self.storage = storage
    }

    package func put(_ entry: ChainIndexEntry) async throws {
        let key = entry.wrappedKey
        _ = try await storage.statement(
            """
            INSERT INTO chain_index (head_key, head_bucket, chain_id, chunk_count, length, mirrored, created, key_id, wrap_nonce,
            wrapped_key)
            VALUES (\(entry.head.key), \(entry.head.bucket.description), \(Data(entry.chainId)), \(entry.chunkCount), \(entry.length),
            \(entry.mirrored), \(entry.created), \(Data(key.keyId)), \(Data(key.nonce)), \(Data(key.sealed)))
            ON CONFLICT (head_key) DO UPDATE SET head_bucket = EXCLUDED.head_bucket, chain_id = EXCLUDED.chain_id, chunk_count = EXCLUDED.chunk_count,
            length = EXCLUDED.length, mirrored = EXCLUDED.mirrored, created = EXCLUDED.created, key_id = EXCLUDED.key_id,
            wrap_nonce = EXCLUDED.wrap_nonce, wrapped_key = EXCLUDED.wrapped_key
            """)
    }

    /// The entry of the chain whose head chunk has this hash, in either bucket (as the directory finds it).
    package func entry(head: ChunkPointer) async throws -> ChainIndexEntry? {
        try await entries("SELECT * FROM chain_index WHERE head_key = \(head.key)").first
    }

    package func all() async throws -> [ChainIndexEntry] {
        try await entries("SELECT * FROM chain_index ORDER BY head_key")
    }

    package func remove(head: ChunkPointer) async throws {
        _ = try await storage.statement("DELETE FROM chain_index WHERE head_key = \(head.key)")
    }

    private func entries(_ query: PostgresQuery) async throws -> [ChainIndexEntry] {
        let rows = try await storage.statement(query)
        return try rows.map { row in
            let (key, bucket, chainId, chunkCount, length, mirrored, created, keyId, nonce, sealed) = try row.decode(
                (String, String, Data, Int, Int64, Bool, Int64, Data, Data, Data).self)
            guard let pointer = ChunkPointer("\(bucket):\(key)") else {
                throw ChainError.store("chain index row \(bucket):\(key) has a malformed head")
            }
            return ChainIndexEntry(
                head: pointer, chainId: Array(chainId), chunkCount: chunkCount, length: length, mirrored: mirrored, created: created,
                wrappedKey: WrappedDataKey(keyId: Array(keyId), nonce: Array(nonce), sealed: Array(sealed)))
        }
    }
}
