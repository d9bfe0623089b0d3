/// The pages of appointments: a patient books and lists them, a doctor keeps a calendar
/// (``PortalCareController``).

struct BookPage: PortalPage {
    static let template = PortalTemplate.book
    var id: String
    var doctor: String
    var when: String
    var minutes: String
    /// The reason typed, shown again after a refusal.
    var reason: String
    /// The reason's problem, beside its field.
    var problem: String?
    var error: String?
}

struct AppointmentsPage: PortalPage {
    static let template = PortalTemplate.appointments

    struct Upcoming {
        var id: String
        var when: String
        var doctor: String
        var reason: String
        var canCancel: Bool
    }

    struct Past {
        var when: String
        var doctor: String
        var status: String
    }

    var upcoming: [Upcoming]
    var hasUpcoming: Bool
    var past: [Past]
    var hasPast: Bool
    var notice: String?

    init(upcoming: [Upcoming], past: [Past], notice: String?) {
        self.upcoming = upcoming
        hasUpcoming = !upcoming.isEmpty
        self.past = past
        hasPast = !past.isEmpty
        self.notice = notice
    }
}

struct CalendarPage: PortalPage {
    static let template = PortalTemplate.calendar

    struct Slot {
        var id: String
        var when: String
        /// The day it is listed under.
        var day: String
        var status: String
        var patient: String
        var age: String
        var reason: String
        var canWithdraw: Bool
        var canComplete: Bool
        var canUpload: Bool
        var canCancel: Bool
    }

    /// A day of the period, with its slots.
    struct Day {
        var heading: String
        var slots: [Slot]
        var hasSlots: Bool
    }

    var days: [Day]
    var hasSlots: Bool
    var zone: String
    var period: String
    var isWeek: Bool
    var previous: String
    var next: String
    var today: String
    var switchView: String
    /// The publishing form as typed.
    var date: String
    var time: String
    var durations: [Choice]
    var repeats: [Choice]
    var error: String?
    var notice: String?
}
