using Fluid.Serverless.Injector.Controller;

namespace Fluid.Serverless.Injector.Tests.Controller;

public sealed class CronScheduleTests
{
    private static readonly DateTimeOffset Start = new(2026, 12, 6, 23, 17, 30, TimeSpan.Zero); // a Sunday

    [Theory]
    [InlineData("*/15 * * * *", "2026-12-06T23:30:00Z")]
    [InlineData("0 * * * *", "2026-12-07T00:00:00Z")]
    [InlineData("@hourly", "2026-12-07T00:00:00Z")]
    [InlineData("0 3 * * *", "2026-12-07T03:00:00Z")]
    [InlineData("@daily", "2026-12-07T00:00:00Z")]
    [InlineData("30 2 * * MON-FRI", "2026-12-07T02:30:00Z")]
    [InlineData("0 0 * * 6", "2026-12-12T00:00:00Z")]
    [InlineData("0 0 * * 7", "2026-12-13T00:00:00Z")] // 7 is Sunday too
    [InlineData("0 0 1 jan *", "2027-01-01T00:00:00Z")]
    [InlineData("0 0 29 2 *", "2028-02-29T00:00:00Z")] // the next leap day
    [InlineData("5,10 23 * * *", "2026-12-07T23:05:00Z")]
    [InlineData("18-20/2 23 * * *", "2026-12-06T23:18:00Z")]
    [InlineData("0 12 13 * FRI", "2026-12-11T12:00:00Z")] // both day fields restricted: either matches (Friday the 11th)
    public void Next_ValidSchedule_FirstMatchingMinuteAfterTheGivenTime(string expression, string expected)
    {
        Assert.True(CronSchedule.TryParse(expression, out var schedule, out var error), error);

        Assert.Equal(DateTimeOffset.Parse(expected, System.Globalization.CultureInfo.InvariantCulture), schedule.Next(Start));
    }

    [Fact]
    public void Next_OnAMatchingMinute_IsExclusive()
    {
        Assert.True(CronSchedule.TryParse("* * * * *", out var schedule, out _));

        Assert.Equal(new DateTimeOffset(2026, 12, 6, 23, 1, 0, TimeSpan.Zero), schedule.Next(new DateTimeOffset(2026, 12, 6, 23, 0, 0, TimeSpan.Zero)));
    }

    [Fact]
    public void Next_NeverMatchingDate_Null()
    {
        Assert.True(CronSchedule.TryParse("0 0 30 2 *", out var schedule, out _));

        Assert.Null(schedule.Next(Start));
    }

    [Fact]
    public void LastDue_SeveralMissedTimes_TheLatestOnly()
    {
        Assert.True(CronSchedule.TryParse("*/10 * * * *", out var schedule, out _));

        Assert.Equal(new DateTimeOffset(2026, 12, 6, 23, 50, 0, TimeSpan.Zero), schedule.LastDue(Start, Start.AddMinutes(35)));
        Assert.Null(schedule.LastDue(Start, Start.AddMinutes(1)));
    }

    [Theory]
    [InlineData("* * * *", "has 4 fields: expected 5")]
    [InlineData("60 * * * *", "invalid value '60' in minute field '60': expected 0-59")]
    [InlineData("* 24 * * *", "invalid value '24' in hour field")]
    [InlineData("* * 0 * *", "invalid value '0' in day of month field")]
    [InlineData("* * * 13 *", "invalid value '13' in month field")]
    [InlineData("* * * * FUNDAY", "invalid value 'FUNDAY' in day of week field")]
    [InlineData("*/0 * * * *", "invalid step '0' in minute field")]
    [InlineData("10-5 * * * *", "invalid range '10-5' in minute field")]
    [InlineData("", "has 0 fields")]
    public void TryParse_Invalid_NamesTheFieldAndWhatWasExpected(string expression, string expected)
    {
        Assert.False(CronSchedule.TryParse(expression, out _, out var error));

        Assert.Contains(expected, error, StringComparison.Ordinal);
    }
}
