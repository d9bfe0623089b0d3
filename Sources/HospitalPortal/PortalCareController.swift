import Foundation
import HospitalAPI
import HospitalCore
import Hummingbird

/// Appointments in the portal: a patient books a doctor's open slot with the reason for the visit and
/// cancels before it starts; a doctor publishes single or repeating slots in the portal's time zone,
/// withdraws open ones, sees each booking with the patient's name, age and reason, and marks checkups
/// done.
struct PortalCareController: Sendable {
    let services: HospitalServices
    let pages: PortalPages
    let clock: @Sendable () -> Int64

    /// Slot lengths a doctor can choose, in minutes.
    static let durations = [10, 15, 20, 30, 45, 60]
    /// Repetitions a doctor can choose: (form value, days between, count).
    static let repeats: [(value: String, step: Int, count: Int)] = [
        ("once", 0, 1), ("daily5", 1, 5), ("weekly4", 7, 4), ("weekly12", 7, 12),
    ]

    func addRoutes(to group: RouterGroup<PortalRequestContext>) {
        group.get("slots/{id}/book", use: bookingPage)
        group.post("slots/{id}/book", use: book)
        group.get("appointments", use: appointments)
        group.post("appointments/{id}/cancel", use: cancel)
        group.get("calendar", use: calendar)
        group.post("calendar/slots", use: publish)
        group.post("calendar/slots/{id}/withdraw", use: withdraw)
        group.post("calendar/slots/{id}/complete", use: complete)
        group.post("calendar/slots/{id}/cancel", use: cancelAppointment)
    }

    // MARK: Patients

    /// The open slot `id`, still bookable.
    func bookableSlot(_ context: PortalRequestContext) async throws -> SlotListing {
        guard let listing = try await services.scheduling.slot(id: try context.id("id")), listing.slot.status == .open,
            !listing.isOver(at: clock())
        else { throw HospitalError.notFound("slot") }
        return listing
    }

    func bookPage(_ listing: SlotListing, reason: String = "", problem: String? = nil, error: String? = nil) -> BookPage {
        BookPage(
            id: "\(listing.slot.id ?? 0)", doctor: listing.doctorName, when: pages.format(listing.slot.startsAt),
            minutes: "\(listing.slot.durationMinutes)", reason: reason, problem: problem, error: error)
    }

    @Sendable func bookingPage(_ request: Request, context: PortalRequestContext) async throws -> Response {
        _ = try context.requireIdentity(.patient)
        return try pages.render(bookPage(try await bookableSlot(context)), request: request, context: context)
    }

    @Sendable func book(_ request: Request, context: PortalRequestContext) async throws -> Response {
        let patient = try context.requireIdentity(.patient)
        let form = try await PortalForm.read(request, context: context)
        let listing = try await bookableSlot(context)
        let reason = form["reason"]
        guard !reason.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
            return try pages.render(
                bookPage(listing, problem: pages.string("reason_required", request: request)), status: .badRequest, request: request,
                context: context)
        }
        do {
            _ = try await services.scheduling.book(slotId: listing.slot.id ?? 0, patientId: patient.userId, reason: reason)
        } catch let error as HospitalError where error.field == "reason" {
            return try pages.render(
                bookPage(listing, reason: String(reason.prefix(2000)), problem: pages.words(for: error, request: request)),
                status: error.status, request: request, context: context)
        } catch let error as HospitalError where error.status == .conflict {
            let page = bookPage(listing, reason: String(reason.prefix(2000)), error: pages.string("slot_unavailable", request: request))
            return try pages.render(page, status: .conflict, request: request, context: context)
        }
        return Response.redirect(to: "/appointments?done=booked")
    }

    @Sendable func appointments(_ request: Request, context: PortalRequestContext) async throws -> Response {
        let patient = try context.requireIdentity(.patient)
        let now = clock()
        let slots = try await services.scheduling.slots(for: patient)
        let upcoming = slots.filter { !$0.isOver(at: now) && $0.slot.status == .booked }.map { listing in
            AppointmentsPage.Upcoming(
                id: "\(listing.slot.id ?? 0)", when: pages.format(listing.slot.startsAt), doctor: listing.doctorName,
                reason: listing.slot.reason ?? "", canCancel: listing.slot.startsAt > now)
        }
        let past = slots.filter { $0.isOver(at: now) || $0.slot.status == .completed }.reversed().map { listing in
            AppointmentsPage.Past(
                when: pages.format(listing.slot.startsAt), doctor: listing.doctorName,
                status: pages.string("status_\(listing.slot.status.rawValue)", request: request))
        }
        return try pages.render(
            AppointmentsPage(upcoming: upcoming, past: Array(past), notice: notice(request)), request: request, context: context)
    }

    @Sendable func cancel(_ request: Request, context: PortalRequestContext) async throws -> Response {
        let patient = try context.requireIdentity(.patient)
        _ = try await PortalForm.read(request, context: context)
        try await services.scheduling.cancel(slotId: try context.id("id"), patientId: patient.userId)
        return Response.redirect(to: "/appointments?done=cancelled")
    }

    // MARK: Doctors

    func calendarPage(
        _ doctor: Identity, request: Request, context: PortalRequestContext, form: PortalForm? = nil, error: String? = nil
    ) async throws -> CalendarPage {
        let now = clock()
        let period = CalendarPeriod(request, today: now, calendar: pages.calendar)
        let slots = try await services.scheduling.slots(for: doctor).filter { period.contains($0.slot.startsAt) }.map { listing in
            let slot = listing.slot
            return CalendarPage.Slot(
                id: "\(slot.id ?? 0)", when: pages.format(slot.startsAt), day: period.dayKey(slot.startsAt),
                status: pages.string("status_\(slot.status.rawValue)", request: request), patient: listing.patientName ?? "",
                age: listing.patientDateOfBirth.flatMap { age($0, now: now) }.map { "\($0)" } ?? "", reason: slot.reason ?? "",
                canWithdraw: slot.status == .open, canComplete: slot.status == .booked && slot.startsAt <= now,
                canUpload: slot.status == .completed, canCancel: slot.status == .booked && slot.startsAt > now)
        }
        let minutes = Int(form?["minutes"] ?? "") ?? 15
        let repeatValue = form?["repeat"] ?? "once"
        let repeats = Self.repeats.map { choice in
            let label =
                switch choice.step {
                case 0: pages.string("repeat_once", request: request)
                case 1: pages.string("repeat_daily", request: request)
                default: pages.string("repeat_weekly", request: request)
                }
            return Choice(
                value: choice.value, label: Catalogues.fill(label, with: ["count": "\(choice.count)"]),
                selected: choice.value == repeatValue)
        }
        // The period's days, each with its slots (a day view has one).
        let days = period.days.map { day in
            let own = slots.filter { $0.day == day.key }
            return CalendarPage.Day(heading: day.heading, slots: own, hasSlots: !own.isEmpty)
        }
        return CalendarPage(
            days: days, hasSlots: !slots.isEmpty, zone: pages.timeZone.identifier, period: period.title, isWeek: period.isWeek,
            previous: period.link(-1), next: period.link(1), today: period.todayLink, switchView: period.switchLink,
            date: String((form?["date"] ?? "").prefix(10)), time: String((form?["time"] ?? "").prefix(5)),
            durations: Self.durations.map { Choice(value: "\($0)", label: "\($0)", selected: $0 == minutes) }, repeats: repeats,
            error: error, notice: notice(request))
    }

    @Sendable func calendar(_ request: Request, context: PortalRequestContext) async throws -> Response {
        let doctor = try context.requireIdentity(.doctor)
        return try pages.render(try await calendarPage(doctor, request: request, context: context), request: request, context: context)
    }

    @Sendable func publish(_ request: Request, context: PortalRequestContext) async throws -> Response {
        let doctor = try context.requireIdentity(.doctor)
        let form = try await PortalForm.read(request, context: context)
        let minutes = Int(form["minutes"]).flatMap { Self.durations.contains($0) ? $0 : nil }
        let choice = Self.repeats.first { $0.value == form["repeat"] }
        guard let minutes, let choice,
            let starts = startTimes(date: form["date"], time: form["time"], step: choice.step, count: choice.count)
        else {
            let page = try await calendarPage(
                doctor, request: request, context: context, form: form, error: pages.string("invalid_date", request: request))
            return try pages.render(page, status: .badRequest, request: request, context: context)
        }
        var published = 0
        for start in starts {
            do {
                _ = try await services.scheduling.publish(doctorId: doctor.userId, startsAt: start, durationMinutes: minutes)
                published += 1
            } catch let error as HospitalError where error.status.code < 500 {
                let page = try await calendarPage(
                    doctor, request: request, context: context, form: form,
                    error: published > 0
                        ? "\(pages.words(for: error, request: request)) (\(published)/\(starts.count))"
                        : pages.words(for: error, request: request))
                return try pages.render(page, status: error.status, request: request, context: context)
            }
        }
        // To the week of the first new slot.
        let week = starts.first.map { "date=" + CalendarPeriod.key(Date(timeIntervalSince1970: TimeInterval($0)), pages.calendar) + "&" }
        return Response.redirect(to: "/calendar?\(week ?? "")done=published&count=\(published)")
    }

    @Sendable func withdraw(_ request: Request, context: PortalRequestContext) async throws -> Response {
        let doctor = try context.requireIdentity(.doctor)
        _ = try await PortalForm.read(request, context: context)
        try await services.scheduling.withdraw(slotId: try context.id("id"), doctorId: doctor.userId)
        return Response.redirect(to: "/calendar?done=withdrawn")
    }

    @Sendable func complete(_ request: Request, context: PortalRequestContext) async throws -> Response {
        let doctor = try context.requireIdentity(.doctor)
        _ = try await PortalForm.read(request, context: context)
        _ = try await services.scheduling.complete(slotId: try context.id("id"), doctorId: doctor.userId)
        return Response.redirect(to: "/calendar?done=completed")
    }

    /// The doctor cannot be there: the booked appointment is cancelled, the slot removed and the patient e-mailed.
    @Sendable func cancelAppointment(_ request: Request, context: PortalRequestContext) async throws -> Response {
        let doctor = try context.requireIdentity(.doctor)
        _ = try await PortalForm.read(request, context: context)
        try await services.scheduling.cancelBooking(slotId: try context.id("id"), doctorId: doctor.userId)
        return Response.redirect(to: "/calendar?done=appointment_cancelled")
    }

    // MARK: Helpers

    /// The days the calendar shows: a week (Monday to Sunday) or a day, in the reader's zone, from
    /// `?view=week|day&date=YYYY-MM-DD` (default: the week of today).
    struct CalendarPeriod {
        let calendar: Calendar
        let isWeek: Bool
        /// Midnight of the first day shown, and of the day after the last.
        let start: Date
        let end: Date

        init(_ request: Request, today: Int64, calendar: Calendar) {
            var calendar = calendar
            calendar.firstWeekday = 2
            self.calendar = calendar
            let query = request.uri.queryParameters
            isWeek = query.get("view") != "day"
            let text = query.get("date").map { String($0) } ?? ""
            let parts = text.split(separator: "-").compactMap { Int($0) }
            // `YYYY-MM-DD` only (years 1900 to 9999); anything else is today.
            let chosen =
                text.utf8.count == 10 && parts.count == 3 && (1900...9999).contains(parts[0])
                ? calendar.date(from: DateComponents(year: parts[0], month: parts[1], day: parts[2])) : nil
            let day = calendar.startOfDay(for: chosen ?? Date(timeIntervalSince1970: TimeInterval(today)))
            if isWeek {
                start = calendar.dateInterval(of: .weekOfYear, for: day)?.start ?? day
                end = calendar.date(byAdding: .day, value: 7, to: start) ?? day
            } else {
                start = day
                end = calendar.date(byAdding: .day, value: 1, to: start) ?? day
            }
        }

        func contains(_ seconds: Int64) -> Bool {
            let date = Date(timeIntervalSince1970: TimeInterval(seconds))
            return date >= start && date < end
        }

        static func key(_ date: Date, _ calendar: Calendar) -> String {
            let parts = calendar.dateComponents([.year, .month, .day], from: date)
            return String(format: "%04d-%02d-%02d", parts.year ?? 0, parts.month ?? 0, parts.day ?? 0)
        }

        func dayKey(_ seconds: Int64) -> String { Self.key(Date(timeIntervalSince1970: TimeInterval(seconds)), calendar) }

        var days: [(key: String, heading: String)] {
            (0..<(isWeek ? 7 : 1)).compactMap { offset in
                calendar.date(byAdding: .day, value: offset, to: start).map { day in
                    let style = Date.FormatStyle(
                        date: .complete, time: .omitted, locale: Locale(identifier: "en_GB"), timeZone: calendar.timeZone)
                    return (Self.key(day, calendar), day.formatted(style))
                }
            }
        }

        var title: String {
            let style = Date.FormatStyle(
                date: .abbreviated, time: .omitted, locale: Locale(identifier: "en_GB"), timeZone: calendar.timeZone)
            guard isWeek, let last = calendar.date(byAdding: .day, value: 6, to: start) else { return start.formatted(style) }
            return "\(start.formatted(style)) – \(last.formatted(style))"
        }

        func link(_ step: Int) -> String {
            let date = calendar.date(byAdding: .day, value: step * (isWeek ? 7 : 1), to: start) ?? start
            return "/calendar?view=\(isWeek ? "week" : "day")&date=\(Self.key(date, calendar))"
        }

        var todayLink: String { "/calendar?view=\(isWeek ? "week" : "day")" }
        var switchLink: String { "/calendar?view=\(isWeek ? "day" : "week")&date=\(Self.key(start, calendar))" }
    }

    /// The notice a redirect after an action asked for (`?done=booked`): only known words, from the catalogue.
    func notice(_ request: Request) -> String? {
        pages.notice(
            request,
            keys: [
                "booked": "booked_notice", "cancelled": "cancelled_notice", "published": "published_notice",
                "withdrawn": "withdrawn_notice", "completed": "completed_notice", "uploaded": "uploaded_notice",
                "appointment_cancelled": "appointment_cancelled_notice",
            ])
    }

    /// The starts of `count` slots from a local date (`YYYY-MM-DD`) and time (`HH:MM`) in the portal's
    /// zone, `step` days apart (daylight saving respected); nil when the date or time is not one.
    func startTimes(date: String, time: String, step: Int, count: Int) -> [Int64]? {
        let dateParts = date.split(separator: "-").compactMap { Int($0) }
        let timeParts = time.split(separator: ":").compactMap { Int($0) }
        guard date.utf8.count == 10, dateParts.count == 3, (1...2).contains(timeParts.count), time.utf8.count <= 8,
            (0...23).contains(timeParts[0]), (0...59).contains(timeParts.count > 1 ? timeParts[1] : 0)
        else { return nil }
        let calendar = pages.calendar
        let components = DateComponents(
            year: dateParts[0], month: dateParts[1], day: dateParts[2], hour: timeParts[0], minute: timeParts.count > 1 ? timeParts[1] : 0)
        guard let first = calendar.date(from: components), calendar.dateComponents([.year, .month, .day], from: first).day == dateParts[2]
        else { return nil }
        return (0..<count).compactMap { index in
            calendar.date(byAdding: .day, value: index * step, to: first).map { Int64($0.timeIntervalSince1970) }
        }
    }

    /// Whole years from a date of birth (`YYYY-MM-DD`) to `now`, in the portal's zone.
    func age(_ dateOfBirth: String, now: Int64) -> Int? {
        let parts = dateOfBirth.split(separator: "-").compactMap { Int($0) }
        guard parts.count == 3 else { return nil }
        let calendar = pages.calendar
        guard let birth = calendar.date(from: DateComponents(year: parts[0], month: parts[1], day: parts[2])) else { return nil }
        return calendar.dateComponents([.year], from: birth, to: Date(timeIntervalSince1970: TimeInterval(now))).year
    }
}
