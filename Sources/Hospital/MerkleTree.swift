import Crypto

/// The Merkle tree of RFC 6962 §2.1 (and RFC 9162 §2.1) over the audit ledger's entries: hashing,
/// inclusion and consistency proofs, and their verification with nothing but the proof and the
/// tree heads — what a patient or an auditor runs.
///
/// Hashes are 32-byte SHA-256 values. Proof generation here works on the tree's leaf hashes in
/// memory (O(n) hashing); the ledger's stored tree serves the same proofs with O(log n) reads.
/// Verification follows RFC 9162 §2.1.3.2 and §2.1.4.2 and is checked against the
/// transparency-dev/merkle test vectors (Tests/HospitalTests/Vectors/merkle).
public enum MerkleTree {
    /// A SHA-256 value.
    public typealias Hash = [UInt8]

    /// The hash of an empty tree: SHA-256 of nothing.
    public static let emptyRoot: Hash = Array(SHA256.hash(data: [UInt8]()))

    /// `SHA-256(0x00 ‖ entry)`.
    public static func leafHash(_ entry: some Sequence<UInt8>) -> Hash {
        var hasher = SHA256()
        hasher.update(data: [0])
        hasher.update(data: Array(entry))
        return Array(hasher.finalize())
    }

    /// `SHA-256(0x01 ‖ left ‖ right)`.
    public static func nodeHash(_ left: Hash, _ right: Hash) -> Hash {
        var hasher = SHA256()
        hasher.update(data: [1])
        hasher.update(data: left)
        hasher.update(data: right)
        return Array(hasher.finalize())
    }

    /// The largest power of two smaller than `n` (n > 1): where RFC 6962 splits a tree of n leaves.
    static func split(_ n: Int) -> Int {
        var k = 1
        while k << 1 < n { k <<= 1 }
        return k
    }

    /// MTH: the root of the tree whose leaf hashes are `leaves`.
    public static func root(_ leaves: ArraySlice<Hash>) -> Hash {
        switch leaves.count {
        case 0: return emptyRoot
        case 1: return leaves[leaves.startIndex]
        default:
            let k = split(leaves.count)
            let middle = leaves.startIndex + k
            return nodeHash(root(leaves[..<middle]), root(leaves[middle...]))
        }
    }

    /// PATH(index, leaves): the inclusion proof of leaf `index` in the tree of `leaves`.
    public static func inclusionProof(index: Int, _ leaves: ArraySlice<Hash>) -> [Hash] {
        precondition(index >= 0 && index < leaves.count, "leaf index out of range")
        guard leaves.count > 1 else { return [] }
        let k = split(leaves.count)
        let middle = leaves.startIndex + k
        if index < k {
            return inclusionProof(index: index, leaves[..<middle]) + [root(leaves[middle...])]
        }
        return inclusionProof(index: index - k, leaves[middle...]) + [root(leaves[..<middle])]
    }

    /// PROOF(size, leaves): the consistency proof that the tree of the first `size` leaves is a prefix
    /// of the tree of all of them.
    public static func consistencyProof(size: Int, _ leaves: ArraySlice<Hash>) -> [Hash] {
        precondition(size >= 0 && size <= leaves.count, "size out of range")
        guard size > 0 else { return [] }
        return subproof(size, leaves, complete: true)
    }

    private static func subproof(_ m: Int, _ leaves: ArraySlice<Hash>, complete: Bool) -> [Hash] {
        if m == leaves.count { return complete ? [] : [root(leaves)] }
        let k = split(leaves.count)
        let middle = leaves.startIndex + k
        if m <= k {
            return subproof(m, leaves[..<middle], complete: complete) + [root(leaves[middle...])]
        }
        return subproof(m - k, leaves[middle...], complete: false) + [root(leaves[..<middle])]
    }

    /// RFC 9162's "right-shift fn and sn equally until either LSB(fn) is set or fn is 0": climbs past
    /// the levels where the node is the right edge of the tree and has no sibling in the proof.
    private static func skipRightEdges(_ fn: inout Int, _ sn: inout Int) {
        while fn & 1 == 0 && fn != 0 {
            fn >>= 1
            sn >>= 1
        }
    }

    /// Whether `proof` shows that `leafHash` is leaf `index` of the tree of `size` leaves with `root`
    /// (RFC 9162 §2.1.3.2).
    public static func verifyInclusion(leafHash: Hash, index: Int, size: Int, proof: [Hash], root: Hash) -> Bool {
        guard index >= 0, index < size, leafHash.count == 32, root.count == 32, proof.allSatisfy({ $0.count == 32 }) else {
            return false
        }
        var fn = index
        var sn = size - 1
        var r = leafHash
        for p in proof {
            if sn == 0 { return false }
            if fn & 1 == 1 || fn == sn {
                r = nodeHash(p, r)
                skipRightEdges(&fn, &sn)
            } else {
                r = nodeHash(r, p)
            }
            fn >>= 1
            sn >>= 1
        }
        return sn == 0 && r == root
    }

    /// Whether `proof` shows that the tree of `size1` leaves with `root1` is a prefix of the tree of
    /// `size2` leaves with `root2` (RFC 9162 §2.1.4.2). `size1` must be at least 1.
    public static func verifyConsistency(size1: Int, size2: Int, root1: Hash, root2: Hash, proof: [Hash]) -> Bool {
        // The empty tree is a prefix of every tree: a proof from it proves nothing, and is refused (as
        // transparency-dev/merkle's verifier and vectors do), so that a caller never mistakes it for a check.
        guard size1 > 0, size2 >= size1 else { return false }
        if size1 == size2 { return proof.isEmpty && root1 == root2 }
        guard !proof.isEmpty, root1.count == 32, root2.count == 32, proof.allSatisfy({ $0.count == 32 }) else { return false }
        // A first tree that is a complete subtree is the first node of the path.
        let path = size1 & (size1 - 1) == 0 ? [root1] + proof : proof
        var fn = size1 - 1
        var sn = size2 - 1
        while fn & 1 == 1 {
            fn >>= 1
            sn >>= 1
        }
        var fr = path[0]
        var sr = path[0]
        for c in path.dropFirst() {
            if sn == 0 { return false }
            if fn & 1 == 1 || fn == sn {
                fr = nodeHash(c, fr)
                sr = nodeHash(c, sr)
                skipRightEdges(&fn, &sn)
            } else {
                sr = nodeHash(sr, c)
            }
            fn >>= 1
            sn >>= 1
        }
        return fr == root1 && sr == root2 && sn == 0
    }
}
