import Crypto

/// The Merkle tree of RFC 6962 §2.1 (and RFC 9162 §2.1) over the audit ledger's entries: hashing,
/// inclusion and consistency proofs, and their verification with nothing but the proof and the
/// tree heads — what a patient or an auditor runs.
///
/// Hashes are 32-byte SHA-256 values. Roots and proofs are built from the hashes of perfect
/// subtrees (``Subtrees``), which a ledger stores as it grows, so that each takes O(log n) lookups.
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

    /// The hash of a perfect subtree: the `1 << level` leaves from `index << level` on. A ledger looks
    /// it up among the hashes it stored as leaves were appended; in memory it is computed.
    public typealias Subtrees = (_ level: Int, _ index: Int) throws -> Hash

    /// MTH(D[start..<end]), where `start` is a multiple of a power of two at least `end - start` (every
    /// subtree RFC 6962's recursion visits is): the perfect subtrees of the range, at most one a level,
    /// each looked up once.
    static func rangeRoot(_ start: Int, _ end: Int, _ subtree: Subtrees) rethrows -> Hash {
        let count = end - start
        if count == 0 { return emptyRoot }
        if count & (count - 1) == 0 { return try subtree(count.trailingZeroBitCount, start >> count.trailingZeroBitCount) }
        let k = split(count)
        return nodeHash(try rangeRoot(start, start + k, subtree), try rangeRoot(start + k, end, subtree))
    }

    /// MTH of the tree of `size` leaves.
    public static func root(size: Int, _ subtree: Subtrees) rethrows -> Hash {
        precondition(size >= 0, "negative tree size")
        return try rangeRoot(0, size, subtree)
    }

    /// PATH(index, D[0..<size]): the inclusion proof of leaf `index` in the tree of `size` leaves. Every
    /// sibling is a perfect subtree but at most one (the right edge): O(log size) lookups.
    public static func inclusionProof(index: Int, size: Int, _ subtree: Subtrees) rethrows -> [Hash] {
        precondition(index >= 0 && index < size, "leaf index out of range")
        var proof: [Hash] = []
        var start = 0
        var end = size
        var siblings: [(Int, Int)] = []
        while end - start > 1 {
            let k = split(end - start)
            if index < start + k {
                siblings.append((start + k, end))
                end = start + k
            } else {
                siblings.append((start, start + k))
                start += k
            }
        }
        for (from, to) in siblings.reversed() { proof.append(try rangeRoot(from, to, subtree)) }
        return proof
    }

    /// PROOF(first, D[0..<size]): the consistency proof that the tree of the first `first` leaves is a
    /// prefix of the tree of `size` leaves (RFC 6962 §2.1.2). O(log size) lookups.
    public static func consistencyProof(first: Int, size: Int, _ subtree: Subtrees) rethrows -> [Hash] {
        precondition(first >= 0 && first <= size, "size out of range")
        guard first > 0, first < size else { return [] }
        var nodes: [(Int, Int)] = []
        var m = first
        var start = 0
        var end = size
        var complete = true
        while m != end - start {
            let k = split(end - start)
            if m <= k {
                nodes.append((start + k, end))
                end = start + k
            } else {
                nodes.append((start, start + k))
                m -= k
                start += k
                complete = false
            }
        }
        if !complete { nodes.append((start, end)) }
        var proof: [Hash] = []
        for (from, to) in nodes.reversed() { proof.append(try rangeRoot(from, to, subtree)) }
        return proof
    }

    /// Lookups over leaf hashes in memory (tests, small trees): each subtree is hashed when asked for.
    public static func subtrees(_ leaves: [Hash]) -> (_ level: Int, _ index: Int) -> Hash {
        { level, index in
            let from = index << level
            return memoryRoot(leaves[from..<(from + (1 << level))])
        }
    }

    private static func memoryRoot(_ leaves: ArraySlice<Hash>) -> Hash {
        if leaves.count == 1 { return leaves[leaves.startIndex] }
        let middle = leaves.startIndex + leaves.count / 2
        return nodeHash(memoryRoot(leaves[..<middle]), memoryRoot(leaves[middle...]))
    }

    /// MTH over leaf hashes in memory.
    public static func root(_ leaves: [Hash]) -> Hash { root(size: leaves.count, subtrees(leaves)) }

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
