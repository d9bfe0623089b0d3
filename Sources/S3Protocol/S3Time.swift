/// The date formats of the S3 wire protocol, converted to and from seconds since 1970 (UTC).
///
/// Pure arithmetic (no locale, no Foundation formatters), so parsing untrusted input is cheap
/// and exact: ISO 8601 basic (`20150830T123600Z`, SigV4), ISO 8601 extended with milliseconds
/// (`2015-08-30T12:36:00.000Z`, listings) and RFC 7231 IMF-fixdate (`Sun, 30 Aug 2015 12:36:00 GMT`).
public enum S3Time {
    private static let weekdays = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"]
    private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    /// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
    static func days(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146097 + doe - 719468
    }

    static func civil(days: Int) -> (year: Int, month: Int, day: Int) {
        let z = days + 719468
        let era = (z >= 0 ? z : z - 146096) / 146097
        let doe = z - era * 146097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    private static func number(_ bytes: ArraySlice<UInt8>) -> Int? {
        guard !bytes.isEmpty else { return nil }
        var value = 0
        for byte in bytes {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            value = value * 10 + Int(byte - UInt8(ascii: "0"))
        }
        return value
    }

    private static func seconds(year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int) -> Int64? {
        guard (1...12).contains(month), (1...31).contains(day), (0...23).contains(hour), (0...59).contains(minute),
            (0...60).contains(second)
        else { return nil }
        let daysSinceEpoch = days(year: year, month: month, day: day)
        // Reject dates such as 31 February that roll over into the next month.
        guard civil(days: daysSinceEpoch) == (year, month, day) else { return nil }
        return Int64(daysSinceEpoch) * 86400 + Int64(hour * 3600 + minute * 60 + second)
    }

    /// Parses `yyyyMMdd'T'HHmmss'Z'`, the SigV4 `X-Amz-Date` format.
    public static func parseAmzDate(_ text: String) -> Int64? {
        let b = Array(text.utf8)
        guard b.count == 16, b[8] == UInt8(ascii: "T"), b[15] == UInt8(ascii: "Z"),
            let year = number(b[0..<4]), let month = number(b[4..<6]), let day = number(b[6..<8]),
            let hour = number(b[9..<11]), let minute = number(b[11..<13]), let second = number(b[13..<15])
        else { return nil }
        return seconds(year: year, month: month, day: day, hour: hour, minute: minute, second: second)
    }

    /// Parses `yyyy-MM-dd'T'HH:mm:ss[.fraction]Z`, the listing format (`LastModified`); the fraction is dropped.
    public static func parseISO8601(_ text: String) -> Int64? {
        let b = Array(text.utf8)
        guard b.count >= 20, b.last == UInt8(ascii: "Z"), b[4] == UInt8(ascii: "-"), b[7] == UInt8(ascii: "-"),
            b[10] == UInt8(ascii: "T"), b[13] == UInt8(ascii: ":"), b[16] == UInt8(ascii: ":"),
            b.count == 20 || (b[19] == UInt8(ascii: ".") && number(b[20..<(b.count - 1)]) != nil),
            let year = number(b[0..<4]), let month = number(b[5..<7]), let day = number(b[8..<10]),
            let hour = number(b[11..<13]), let minute = number(b[14..<16]), let second = number(b[17..<19])
        else { return nil }
        return seconds(year: year, month: month, day: day, hour: hour, minute: minute, second: second)
    }

    /// Parses an IMF-fixdate (`Sun, 30 Aug 2015 12:36:00 GMT`), the HTTP `Date` format.
    public static func parseHTTPDate(_ text: String) -> Int64? {
        let parts = text.split(separator: " ")
        guard parts.count == 6, parts[5] == "GMT", let month = months.firstIndex(of: String(parts[2])) else {
            return nil
        }
        let time = parts[4].split(separator: ":")
        guard time.count == 3, let day = number(ArraySlice(parts[1].utf8)), let year = number(ArraySlice(parts[3].utf8)),
            let hour = number(ArraySlice(time[0].utf8)), let minute = number(ArraySlice(time[1].utf8)),
            let second = number(ArraySlice(time[2].utf8))
        else { return nil }
        return seconds(year: year, month: month + 1, day: day, hour: hour, minute: minute, second: second)
    }

    private static func pad(_ value: Int, _ width: Int) -> String {
        let digits = String(value)
        return String(repeating: "0", count: max(0, width - digits.count)) + digits
    }

    private static func split(_ epochSeconds: Int64) -> (Int, Int, Int, Int, Int, Int, Int) {
        let days = Int((epochSeconds >= 0 ? epochSeconds : epochSeconds - 86399) / 86400)
        let rest = Int(epochSeconds - Int64(days) * 86400)
        let (y, m, d) = civil(days: days)
        return (y, m, d, rest / 3600, rest % 3600 / 60, rest % 60, days)
    }

    /// Formats as `yyyyMMdd'T'HHmmss'Z'`.
    public static func amzDate(_ epochSeconds: Int64) -> String {
        let (y, m, d, h, mi, s, _) = split(epochSeconds)
        return "\(pad(y, 4))\(pad(m, 2))\(pad(d, 2))T\(pad(h, 2))\(pad(mi, 2))\(pad(s, 2))Z"
    }

    /// Formats as an IMF-fixdate, for `Last-Modified` and `Date`.
    public static func httpDate(_ epochSeconds: Int64) -> String {
        let (y, m, d, h, mi, s, days) = split(epochSeconds)
        let weekday = weekdays[((days % 7) + 7) % 7]
        return "\(weekday), \(pad(d, 2)) \(months[m - 1]) \(pad(y, 4)) \(pad(h, 2)):\(pad(mi, 2)):\(pad(s, 2)) GMT"
    }

    /// Formats as ISO 8601 with milliseconds, for `LastModified` and `CreationDate` in XML.
    public static func iso8601(_ epochSeconds: Int64) -> String {
        iso8601(milliseconds: epochSeconds * 1000)
    }

    /// `yyyy-MM-dd'T'HH:mm:ss.SSS'Z'` with the time's milliseconds (listings: a file written a fraction of
    /// a second before its upload must not look newer than the object to `aws s3 sync`).
    public static func iso8601(milliseconds: Int64) -> String {
        let seconds = milliseconds >= 0 ? milliseconds / 1000 : (milliseconds - 999) / 1000
        let (y, m, d, h, mi, s, _) = split(seconds)
        return
            "\(pad(y, 4))-\(pad(m, 2))-\(pad(d, 2))T\(pad(h, 2)):\(pad(mi, 2)):\(pad(s, 2)).\(pad(Int(milliseconds - seconds * 1000), 3))Z"
    }
}
