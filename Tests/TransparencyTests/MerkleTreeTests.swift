import Foundation
import Testing

@testable import Transparency

/// RFC 6962 hashing and proofs: the verifiers against transparency-dev/merkle's vectors (every file,
/// good and bad proofs), the generators against the verifiers and the RFC's reference tree.
@Suite struct MerkleTreeTests {
    static let directory = Bundle.module.resourceURL!.appendingPathComponent("Vectors/merkle")

    struct InclusionVector: Decodable {
        /// Unsigned 64-bit in the vectors: one is 2^64 - 1, an index that wrapped below zero.
        var leafIdx: UInt64
        var treeSize: UInt64
        var root: String?
        var leafHash: String?
        var proof: [String]?
        var desc: String
        var wantErr: Bool
    }

    struct ConsistencyVector: Decodable {
        var size1: Int
        var size2: Int
        var root1: String?
        var root2: String?
        var proof: [String]?
        var desc: String
        var wantErr: Bool
    }

    static func files(_ kind: String) throws -> [URL] {
        let root = directory.appendingPathComponent(kind)
        let enumerator = FileManager.default.enumerator(at: root, includingPropertiesForKeys: nil)!
        return enumerator.compactMap { $0 as? URL }.filter { $0.pathExtension == "json" }.sorted { $0.path < $1.path }
    }

    static func bytes(_ base64: String?) -> [UInt8] { base64.flatMap { Data(base64Encoded: $0) }.map(Array.init) ?? [] }

    @Test func inclusionVectors() throws {
        let files = try Self.files("inclusion")
        #expect(files.count > 60)
        for file in files {
            let vector = try JSONDecoder().decode(InclusionVector.self, from: Data(contentsOf: file))
            var valid = false
            if let index = Int(exactly: vector.leafIdx), let size = Int(exactly: vector.treeSize) {
                valid = MerkleTree.verifyInclusion(
                    leafHash: Self.bytes(vector.leafHash), index: index, size: size,
                    proof: (vector.proof ?? []).map { Self.bytes($0) }, root: Self.bytes(vector.root))
            }
            #expect(valid == !vector.wantErr, "\(file.lastPathComponent) (\(vector.desc))")
        }
    }

    @Test func consistencyVectors() throws {
        let files = try Self.files("consistency")
        #expect(files.count > 90)
        for file in files {
            let vector = try JSONDecoder().decode(ConsistencyVector.self, from: Data(contentsOf: file))
            let valid = MerkleTree.verifyConsistency(
                size1: vector.size1, size2: vector.size2, root1: Self.bytes(vector.root1), root2: Self.bytes(vector.root2),
                proof: (vector.proof ?? []).map { Self.bytes($0) })
            #expect(valid == !vector.wantErr, "\(file.relativePath) (\(vector.desc))")
        }
    }

    /// The eight leaves the vectors are built on (RFC 6962's reference implementation's test data).
    static let referenceLeaves: [[UInt8]] = [
        "", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f",
    ].map { hex in stride(from: 0, to: hex.count, by: 2).map { UInt8(hex.dropFirst($0).prefix(2), radix: 16)! } }

    @Test func rootOfTheReferenceTree() {
        let leaves = Self.referenceLeaves.map { MerkleTree.leafHash($0) }
        #expect(MerkleTree.root(leaves) == Self.bytes("XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg="))
        #expect(MerkleTree.root([]) == Self.bytes("47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="))
        #expect(leaves[0] == Self.bytes("bjQLnP+zepicpUTmu3gKLHiQHT+zNzh2hRGjBhevoB0="))
    }

    /// Every proof the generators make for trees of 1 to 40 leaves verifies, and fails for another
    /// leaf, index or root; a proof from the empty tree proves nothing and is refused.
    @Test func generatedProofsVerify() {
        let all = (0..<40).map { MerkleTree.leafHash([UInt8($0), 0xAB]) }
        for size in 1...all.count {
            let leaves = Array(all[..<size])
            let root = MerkleTree.root(leaves)
            for index in 0..<size {
                let proof = MerkleTree.inclusionProof(index: index, size: size, MerkleTree.subtrees(leaves))
                #expect(MerkleTree.verifyInclusion(leafHash: leaves[index], index: index, size: size, proof: proof, root: root))
                #expect(
                    !MerkleTree.verifyInclusion(leafHash: MerkleTree.leafHash([0xFF]), index: index, size: size, proof: proof, root: root))
                if size > 1 {
                    #expect(
                        !MerkleTree.verifyInclusion(
                            leafHash: leaves[index], index: (index + 1) % size, size: size, proof: proof, root: root))
                }
            }
            #expect(!MerkleTree.verifyConsistency(size1: 0, size2: size, root1: MerkleTree.emptyRoot, root2: root, proof: []))
            for first in 1...size {
                let proof = MerkleTree.consistencyProof(first: first, size: size, MerkleTree.subtrees(leaves))
                let firstRoot = MerkleTree.root(Array(all[..<first]))
                #expect(
                    MerkleTree.verifyConsistency(size1: first, size2: size, root1: firstRoot, root2: root, proof: proof),
                    "\(first) of \(size)")
                if first > 0, first < size {
                    let other = MerkleTree.root(Array(all[1..<(first + 1)]))
                    #expect(!MerkleTree.verifyConsistency(size1: first, size2: size, root1: other, root2: root, proof: proof))
                }
            }
        }
    }
}
