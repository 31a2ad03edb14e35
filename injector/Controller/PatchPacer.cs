namespace Fluid.Serverless.Injector.Controller;

/// <summary>
/// A token bucket for the controller's writes (pod patches, Events): at most <c>burst</c> at once, then one every
/// 1/<c>perSecond</c> seconds, so a Dataset used by thousands of pods spreads its patches instead of stampeding the
/// API server. Time comes from a <see cref="TimeProvider"/>, so tests move it by hand.
/// </summary>
internal sealed class PatchPacer
{
    private readonly TimeProvider _time;
    private readonly double _perSecond;
    private readonly double _burst;
    private readonly Lock _lock = new();
    private double _tokens;
    private long _refilledAt;
    private int _waits;

    public PatchPacer(TimeProvider time, double perSecond, int burst)
    {
        if (perSecond <= 0 || burst < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(perSecond), $"invalid pacing {perSecond}/s, burst {burst}: expected a rate above 0 and a burst of at least 1");
        }

        _time = time;
        _perSecond = perSecond;
        _burst = burst;
        _tokens = burst;
        _refilledAt = time.GetTimestamp();
    }

    /// <summary>How many times a caller had to wait for a token (the wait is registered with the clock first).</summary>
    public int Waits => Volatile.Read(ref _waits);

    public async Task WaitAsync(CancellationToken cancel)
    {
        while (true)
        {
            TimeSpan wait;
            lock (_lock)
            {
                var now = _time.GetTimestamp();
                _tokens = Math.Min(_burst, _tokens + (_time.GetElapsedTime(_refilledAt, now).TotalSeconds * _perSecond));
                _refilledAt = now;
                if (_tokens >= 1)
                {
                    _tokens -= 1;
                    return;
                }

                wait = TimeSpan.FromSeconds((1 - _tokens) / _perSecond);
            }

            var delay = Task.Delay(wait, _time, cancel);
            Interlocked.Increment(ref _waits);
            await delay;
        }
    }
}
