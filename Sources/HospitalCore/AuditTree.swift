import Foundation
import GRDB
import Transparency

/// The audit ledger's Merkle tree, stored as the hashes of its perfect subtrees: row `(level, position)`
/// is the root of the `2^level` leaves from `position << level` on. Leaf `i` is entry `i + 1`.
///
/// An append writes the leaf and every subtree it completes (one row more on average), so that a root,
/// an inclusion proof or a consistency proof of any size takes O(log n) primary-key reads however long
/// the ledger grows.
enum AuditTree {
    /// A subtree hash a proof needs is not stored: the tree table was edited or cut.
    struct MissingNode: Error, CustomStringConvertible {
        var level: Int
        var position: Int
        var description: String { "the stored Merkle tree lacks node \(position) of level \(level)" }
    }

    static func createTable(in db: Database) throws {
        try db.create(table: "auditTree", options: .withoutRowID) { table in
            table.column("level", .integer).notNull()
            table.column("position", .integer).notNull()
            table.column("hash", .blob).notNull()
            table.primaryKey(["level", "position"])
        }
    }

    /// Stores leaf `index` and the subtrees it completes. (Statements are cached: compiling one costs
    /// more than running it, and a proof runs a lookup per level.)
    static func append(leaf: MerkleTree.Hash, index: Int, in db: Database) throws {
        let insert = try db.cachedStatement(sql: "INSERT INTO auditTree (level, position, hash) VALUES (?, ?, ?)")
        try insert.execute(arguments: [0, index, Data(leaf)])
        var hash = leaf
        var level = 0
        var position = index
        while position & 1 == 1 {
            let left = try node(level: level, position: position - 1, in: db)
            hash = MerkleTree.nodeHash(left, hash)
            level += 1
            position >>= 1
            try insert.execute(arguments: [level, position, Data(hash)])
        }
    }

    static func node(level: Int, position: Int, in db: Database) throws -> MerkleTree.Hash {
        let select = try db.cachedStatement(sql: "SELECT hash FROM auditTree WHERE level = ? AND position = ?")
        guard let data = try Data.fetchOne(select, arguments: [level, position]) else {
            throw MissingNode(level: level, position: position)
        }
        return Array(data)
    }

    /// The stored subtrees, for MerkleTree's roots and proofs.
    static func subtrees(in db: Database) -> MerkleTree.Subtrees {
        { level, position in try node(level: level, position: position, in: db) }
    }

    /// How many leaves the stored tree has.
    static func size(in db: Database) throws -> Int {
        try Int.fetchOne(db, sql: "SELECT MAX(position) + 1 FROM auditTree WHERE level = 0") ?? 0
    }

    /// The ledger's tree head: its size (the number of entries) and root.
    static func head(in db: Database) throws -> (size: Int, root: MerkleTree.Hash) {
        let size = try size(in: db)
        return (size, try MerkleTree.root(size: size, subtrees(in: db)))
    }

    /// Builds the tree of a ledger kept before there was one: every entry becomes a leaf, in id order.
    static func takeOver(in db: Database) throws {
        let cursor = try AuditEntry.fetchCursor(db, sql: "SELECT * FROM audit ORDER BY id")
        var index = 0
        while let entry = try cursor.next() {
            try append(leaf: entry.leafHash, index: index, in: db)
            index += 1
        }
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
