import Foundation
package import Transparency

/// The audit ledger's Merkle tree, stored as the hashes of its perfect subtrees: row `(level, position)`
/// is the root of the `2^level` leaves from `position << level` on. Leaf `i` is entry `i + 1`.
///
/// An append writes the leaf and every subtree it completes (one row more on average), so that a root,
/// an inclusion proof or a consistency proof of any size takes O(log n) primary-key reads however long
/// the ledger grows.
package enum AuditTree {
    /// A subtree hash a proof needs is not stored: the tree table was edited or cut.
    struct MissingNode: Error, CustomStringConvertible {
        var level: Int
        var position: Int
        var description: String { "the stored Merkle tree lacks node \(position) of level \(level)" }
    }

    /// The root of the `2^level` leaves from `position << level` on.
    package struct Node: Hashable, Sendable {
        package var level: Int
        package var position: Int

        package init(level: Int, position: Int) {
            self.level = level
            self.position = position
        }
    }

    /// The stored subtrees leaf `index` completes the tree with: its left siblings up to the first right one.
    package static func siblings(ofLeaf index: Int) -> [Node] {
        var nodes: [Node] = []
        var level = 0
        var position = index
        while position & 1 == 1 {
            nodes.append(Node(level: level, position: position - 1))
            level += 1
            position >>= 1
        }
        return nodes
    }

    /// Leaf `index` and every subtree it completes, from its left siblings' hashes (``siblings(ofLeaf:)``).
    package static func nodes(
        appending leaf: MerkleTree.Hash, at index: Int, siblings: [Node: MerkleTree.Hash]
    ) throws -> [Node: MerkleTree.Hash] {
        var nodes = [Node(level: 0, position: index): leaf]
        var hash = leaf
        for sibling in Self.siblings(ofLeaf: index) {
            guard let left = siblings[sibling] else { throw MissingNode(level: sibling.level, position: sibling.position) }
            hash = MerkleTree.nodeHash(left, hash)
            nodes[Node(level: sibling.level + 1, position: sibling.position >> 1)] = hash
        }
        return nodes
    }

    /// Runs `compute` — a root or a proof of ``MerkleTree`` — over the stored subtrees it needs, read in
    /// one query. Which subtrees a root or proof takes depends on the sizes alone, so a first run with
    /// stand-in hashes names them.
    static func withSubtrees<T>(in ledger: any LedgerStore, _ compute: (MerkleTree.Subtrees) throws -> T) async throws -> T {
        var wanted = Set<Node>()
        _ = try? compute { level, position in
            wanted.insert(Node(level: level, position: position))
            return MerkleTree.emptyRoot
        }
        let stored = try await ledger.subtrees(wanted)
        return try compute { level, position in
            guard let hash = stored[Node(level: level, position: position)] else { throw MissingNode(level: level, position: position) }
            return hash
        }
    }

    /// The ledger's tree head: its size (the number of entries) and root.
    static func head(in ledger: any LedgerStore) async throws -> (size: Int, root: MerkleTree.Hash) {
        let size = try await ledger.treeSize()
        return (size, try await withSubtrees(in: ledger) { try MerkleTree.root(size: size, $0) })
    }
}

/// Merkle roots of a growing list of leaves, kept as the right edge's perfect subtrees (one per set
/// bit of the count): what `audit verify` recomputes from the entries themselves, in one pass.
struct MerkleAccumulator {
    private var edge: [(level: Int, hash: MerkleTree.Hash)] = []
    private(set) var count = 0

    mutating func append(_ leaf: MerkleTree.Hash) {
        var node = (level: 0, hash: leaf)
        while let last = edge.last, last.level == node.level {
            edge.removeLast()
            node = (node.level + 1, MerkleTree.nodeHash(last.hash, node.hash))
        }
        edge.append(node)
        count += 1
    }

    /// The root of the leaves appended so far.
    var root: MerkleTree.Hash {
        guard var root = edge.last?.hash else { return MerkleTree.emptyRoot }
        for node in edge.dropLast().reversed() { root = MerkleTree.nodeHash(node.hash, root) }
        return root
    }
}
