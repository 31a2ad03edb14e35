using System.Globalization;

namespace Fluid.Serverless.Injector.Controller;

/// <summary>
/// A five-field cron schedule as Kubernetes CronJobs and Fluid's Cron DataLoads write it: minute, hour, day of month,
/// month, day of week; each field <c>*</c>, a number, a range <c>a-b</c>, a step <c>*/n</c> or <c>a-b/n</c>, or a list
/// of those; month and weekday names (JAN, MON); weekday 7 is Sunday too; the macros @yearly, @annually, @monthly,
/// @weekly, @daily, @midnight and @hourly. When both day fields are restricted a day matches either, as in cron and
/// Kubernetes CronJobs (Cronos would require both, so a schedule would fire on other days than under Fluid).
/// Times are UTC.
/// </summary>
internal sealed class CronSchedule
{
    private static readonly string[] MonthNames = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"];
    private static readonly string[] DayNames = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

    private readonly bool[] _minutes;
    private readonly bool[] _hours;
    private readonly bool[] _daysOfMonth;
    private readonly bool[] _months;
    private readonly bool[] _daysOfWeek;
    private readonly bool _anyDayOfMonth;
    private readonly bool _anyDayOfWeek;

    private CronSchedule(bool[] minutes, bool[] hours, bool[] daysOfMonth, bool[] months, bool[] daysOfWeek, bool anyDayOfMonth, bool anyDayOfWeek)
    {
        _minutes = minutes;
        _hours = hours;
        _daysOfMonth = daysOfMonth;
        _months = months;
        _daysOfWeek = daysOfWeek;
        _anyDayOfMonth = anyDayOfMonth;
        _anyDayOfWeek = anyDayOfWeek;
    }

    /// <param name="error">What is wrong, naming the field and what was expected.</param>
    public static bool TryParse(string? text, out CronSchedule schedule, out string? error)
    {
        schedule = null!;
        error = null;
        var expression = (text ?? "").Trim() switch
        {
            "@yearly" or "@annually" => "0 0 1 1 *",
            "@monthly" => "0 0 1 * *",
            "@weekly" => "0 0 * * 0",
            "@daily" or "@midnight" => "0 0 * * *",
            "@hourly" => "0 * * * *",
            var other => other,
        };
        var fields = expression.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (fields.Length != 5)
        {
            error = $"'{text}' has {fields.Length} fields: expected 5 (minute hour day-of-month month day-of-week) or a macro such as @daily";
            return false;
        }

        var minutes = new bool[60];
        var hours = new bool[24];
        var daysOfMonth = new bool[32];
        var months = new bool[13];
        var daysOfWeek = new bool[8];
        if (!TryField(fields[0], "minute", 0, 59, null, minutes, out error)
            || !TryField(fields[1], "hour", 0, 23, null, hours, out error)
            || !TryField(fields[2], "day of month", 1, 31, null, daysOfMonth, out error)
            || !TryField(fields[3], "month", 1, 12, MonthNames, months, out error)
            || !TryField(fields[4], "day of week", 0, 7, DayNames, daysOfWeek, out error))
        {
            error = $"'{text}': {error}";
            return false;
        }

        daysOfWeek[0] |= daysOfWeek[7];
        schedule = new CronSchedule(minutes, hours, daysOfMonth, months, daysOfWeek, fields[2] is "*" or "?", fields[4] is "*" or "?");
        return true;
    }

    /// <summary>The first time after <paramref name="after"/> (exclusive, whole minutes, UTC) the schedule fires; null
    /// when it never does (e.g. 30 February) within five years.</summary>
    public DateTimeOffset? Next(DateTimeOffset after)
    {
        var utc = after.ToUniversalTime();
        var time = new DateTimeOffset(utc.Year, utc.Month, utc.Day, utc.Hour, utc.Minute, 0, TimeSpan.Zero).AddMinutes(1);
        var limit = time.AddYears(5);
        while (time < limit)
        {
            if (!_months[time.Month])
            {
                time = new DateTimeOffset(time.Year, time.Month, 1, 0, 0, 0, TimeSpan.Zero).AddMonths(1);
            }
            else if (!DayMatches(time))
            {
                time = new DateTimeOffset(time.Year, time.Month, time.Day, 0, 0, 0, TimeSpan.Zero).AddDays(1);
            }
            else if (!_hours[time.Hour])
            {
                time = new DateTimeOffset(time.Year, time.Month, time.Day, time.Hour, 0, 0, TimeSpan.Zero).AddHours(1);
            }
            else if (!_minutes[time.Minute])
            {
                time = time.AddMinutes(1);
            }
            else
            {
                return time;
            }
        }

        return null;
    }

    /// <summary>The last time at or before <paramref name="now"/> the schedule fired after <paramref name="since"/>, or null.</summary>
    public DateTimeOffset? LastDue(DateTimeOffset since, DateTimeOffset now)
    {
        DateTimeOffset? due = null;
        for (var next = Next(since); next is { } time && time <= now; next = Next(time))
        {
            due = time;
        }

        return due;
    }

    private bool DayMatches(DateTimeOffset time)
    {
        var dayOfMonth = _daysOfMonth[time.Day];
        var dayOfWeek = _daysOfWeek[(int)time.DayOfWeek];
        return _anyDayOfMonth || _anyDayOfWeek ? dayOfMonth && dayOfWeek : dayOfMonth || dayOfWeek;
    }

    private static bool TryField(string field, string name, int min, int max, string[]? names, bool[] set, out string? error)
    {
        error = null;
        foreach (var part in field.Split(','))
        {
            var (range, stepText) = part.Split('/', 2) is [var r, var s] ? (r, s) : (part, null);
            var step = 1;
            if (stepText is not null && (!int.TryParse(stepText, NumberStyles.None, CultureInfo.InvariantCulture, out step) || step < 1))
            {
                error = $"invalid step '{stepText}' in {name} field '{field}': expected a whole number of 1 or more";
                return false;
            }

            int low, high;
            if (range is "*" or "?")
            {
                (low, high) = (min, max);
            }
            else if (range.Split('-', 2) is [var from, var to])
            {
                if (!TryValue(from, min, max, names, out low) || !TryValue(to, min, max, names, out high) || low > high)
                {
                    error = $"invalid range '{range}' in {name} field '{field}': expected a-b with {min} ≤ a ≤ b ≤ {max}";
                    return false;
                }
            }
            else if (TryValue(range, min, max, names, out low))
            {
                high = stepText is null ? low : max;
            }
            else
            {
                error = $"invalid value '{range}' in {name} field '{field}': expected {min}-{max}{(names is null ? "" : " or a name such as " + names[0])}, '*', a range or a step";
                return false;
            }

            for (var value = low; value <= high; value += step)
            {
                set[value] = true;
            }
        }

        return true;
    }

    private static bool TryValue(string text, int min, int max, string[]? names, out int value)
    {
        if (names is not null && Array.FindIndex(names, n => n.Equals(text, StringComparison.OrdinalIgnoreCase)) is var index and >= 0)
        {
            value = index + (min == 0 ? 0 : 1);
            return true;
        }

        return int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out value) && value >= min && value <= max;
    }
}
