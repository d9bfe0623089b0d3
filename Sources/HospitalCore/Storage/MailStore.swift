/// The mail queue (``MailQueue``), as a ``HospitalTransaction`` reads and writes it.
package protocol MailStore: Sendable {
    /// Queues a message, due at once.
    func enqueue(_ message: QueuedMessage) async throws
}

/// A message waiting in the mail queue, in its recipient's words.
package struct QueuedMessage: Sendable, Equatable {
    /// The notice it tells (``Notices/Kind``'s raw value).
    package var kind: String
    package var userId: Int64?
    package var toName: String
    package var toAddress: String
    package var subject: String
    package var body: String
    /// Seconds since 1970.
    package var createdAt: Int64
    /// The ledger entry it tells of: the message carries its proof.
    package var auditEntryId: Int64?
}
