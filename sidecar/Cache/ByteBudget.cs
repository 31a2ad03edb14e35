namespace Fluid.Serverless.Sidecar.Cache;

/// <summary>
/// An async limiter counted in bytes: prefetch spans take the size of the one block buffer they hold while they
/// stream, so many small files can be in flight at once (a 256 KiB file costs 256 KiB) while big ones stay bounded
/// by the same budget (a 4 MiB-block span costs 4 MiB). Acquirers take turns (first come, first served), so a big
/// request is not starved by a stream of small ones. A request larger than the whole budget takes all of it.
/// </summary>
internal sealed class ByteBudget
{
    private readonly SemaphoreSlim _turn = new(1, 1);
    private readonly Lock _gate = new();
    private readonly long _capacity;
    private long _available;
    private TaskCompletionSource? _released;

    public ByteBudget(long capacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        _capacity = capacity;
        _available = capacity;
    }

    /// <summary>Bytes not taken right now.</summary>
    public long Available
    {
        get
        {
            lock (_gate)
            {
                return _available;
            }
        }
    }

    public async ValueTask AcquireAsync(long bytes, CancellationToken cancellationToken)
    {
        bytes = Clamp(bytes);
        await _turn.WaitAsync(cancellationToken);
        try
        {
            while (true)
            {
                Task released;
                lock (_gate)
                {
                    if (_available >= bytes)
                    {
                        _available -= bytes;
                        return;
                    }

                    _released ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                    released = _released.Task;
                }

                await released.WaitAsync(cancellationToken);
            }
        }
        finally
        {
            _turn.Release();
        }
    }

    /// <summary>Gives back what <see cref="AcquireAsync"/> took for the same <paramref name="bytes"/>.</summary>
    public void Release(long bytes)
    {
        TaskCompletionSource? wake;
        lock (_gate)
        {
            _available = Math.Min(_capacity, _available + Clamp(bytes));
            wake = _released;
            _released = null;
        }

        wake?.TrySetResult();
    }

    private long Clamp(long bytes) => Math.Clamp(bytes, 1, _capacity);
}
