package import Foundation

/// The e-mails that tell people what happened to their appointments, reports and accounts. Each is
/// written into the ``MailQueue`` inside the transaction of what it tells of, and the queue's bell rings
/// when that transaction commits. The words come from the string catalogue (`mail_<kind>_subject`,
/// `mail_<kind>_body`), times are in the recipient's zone, and each links to its portal page. A notice
/// says what happened and where to look, never symptoms, report titles or contents: mail crosses
/// servers the hospital does not control.
package struct Notices: Sendable {
    package enum Kind: String, Sendable, CaseIterable {
        /// To the patient: the booking is confirmed.
        case booked
        /// To the patient: they cancelled their booking.
        case cancelled
        /// To the patient: the doctor cancelled the appointment.
        case cancelledByDoctor = "cancelled_by_doctor"
        /// To the patient: a doctor added a report.
        case newReport = "new_report"
        /// To a doctor who registered: an admin approved the account.
        case approved
        /// To the patient, at once: a doctor opened one of their reports in an emergency, and why.
        case emergencyAccess = "emergency_access"
        /// To anyone: an authenticator app was bound to their account (the second step turned on or moved).
        case secondFactorBound = "second_factor_bound"
    }

    let portal: PortalConfiguration
    let doorbell: MailQueue.Doorbell
    let strings: [String: String]

    /// - Parameter portal: The site's name, its address for links, and the zone of people without one.
    package init(portal: PortalConfiguration = .init(), doorbell: MailQueue.Doorbell = .init()) {
        self.portal = portal
        self.doorbell = doorbell
        strings = Catalogues.shipped.strings(Catalogues.fallback)
    }

    /// Queues the notice `kind` to the user `userId` in `transaction`, ringing the queue's bell once it commits.
    /// - Parameters:
    ///   - values: Words for the text's `{placeholders}` beside `{name}`, `{site}`, `{link}` and `{time}`.
    ///   - time: The appointment's start, shown in the recipient's zone.
    ///   - path: The portal page the message links to.
    ///   - auditEntry: The ledger entry the notice tells of: the message carries its proof (``AuditNotary/footer(entry:)``).
    func queue(
        _ kind: Kind, to userId: Int64, values: [String: String] = [:], time: Int64? = nil, path: String, auditEntry: Int64? = nil,
        now: Int64, in transaction: HospitalTransaction
    ) async throws {
        guard let user = try await transaction.accounts.user(id: userId) else { return }
        try await transaction.mail.enqueue(
            message(kind, to: user, values: values, time: time, path: path, auditEntry: auditEntry, now: now))
        transaction.afterCommit { [doorbell] in doorbell.ring() }
    }

    /// The notice `kind` in `user`'s words and zone.
    func message(
        _ kind: Kind, to user: User, values: [String: String], time: Int64?, path: String, auditEntry: Int64?, now: Int64
    ) -> QueuedMessage {
        let zone = user.timeZone.flatMap(TimeZone.init(identifier:)) ?? portal.timeZone
        var words = values
        words["name"] = user.name
        words["site"] = portal.siteName
        words["link"] = portal.link(path)
        if let time { words["time"] = "\(Times.readable(time, zone: zone)) (\(zone.identifier))" }
        func text(_ key: String) -> String { Catalogues.fill(strings[key] ?? key, with: words) }
        return QueuedMessage(
            kind: kind.rawValue, userId: user.id, toName: user.name, toAddress: user.email, subject: text("mail_\(kind.rawValue)_subject"),
            body: text("mail_\(kind.rawValue)_body"), createdAt: now, auditEntryId: auditEntry)
    }
}

extension Notices {
    /// Messages handed to the mail queue in memory, after the answer (``MailQueue/Doorbell/send(_:)``):
    /// the ones whose sending must not show in the answer's timing, or that carry a secret link.
    package enum Prompt: String, Sendable, CaseIterable {
        /// To whoever signed up with an address: the link that opens the account.
        case activation
        /// To the owner of an address someone signed up with again: nothing changed, and what to do.
        case registrationAttempt = "registration_attempt"
    }

    /// Hands the message `kind` to the mail queue's next round, in words from the catalogue.
    /// - Parameters:
    ///   - id: The message's id (``Mail/id``): `activate-…` carries a secret, swept from the outbox once void.
    ///   - values: Words for `{placeholders}` beside `{name}`, `{site}` and `{link}`; `{time}` is `time` in
    ///     the site's zone.
    func send(
        _ kind: Prompt, id: String, toName: String, toAddress: String, values: [String: String] = [:], time: Int64? = nil,
        link: String, now: Int64
    ) {
        var words = values
        words["name"] = toName
        words["site"] = portal.siteName
        words["link"] = link
        if let time { words["time"] = "\(Times.readable(time, zone: portal.timeZone)) (\(portal.timeZone.identifier))" }
        func text(_ key: String) -> String { Catalogues.fill(strings[key] ?? key, with: words) }
        doorbell.send(
            Mail(
                id: id, toName: toName, toAddress: toAddress, subject: text("mail_\(kind.rawValue)_subject"),
                body: text("mail_\(kind.rawValue)_body"), date: now))
    }
}

/// Times as people read them.
package enum Times {
    /// A time in `zone`, with the weekday: `Mon, 7 Dec 2026, 09:30`.
    package static func readable(_ seconds: Int64, zone: TimeZone) -> String {
        let style = Date.FormatStyle(date: .abbreviated, time: .shortened, locale: Locale(identifier: "en_GB"), timeZone: zone)
        return Date(timeIntervalSince1970: TimeInterval(seconds)).formatted(style.weekday(.abbreviated))
    }
}
