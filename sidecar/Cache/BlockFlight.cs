
namespace Fluid.Serverless.Sidecar.Cache;

/// <summary>
/// One in-progress fetch of a missing block that every concurrent reader of that block shares (single-flight).
/// The fetched bytes live in one pooled buffer; each reader copies them into its own lease, and the buffer goes
/// back to the pool when the runner and the last reader have let go of it (reference counted).
/// </summary>
/// <remarks>
/// The fetch runs under the cache's lifetime, not under any reader's token: the first reader giving up (a client
/// disconnect) must not fail the readers that joined it. A reader that joins with a higher priority raises the
/// flight's priority, so an on-demand read never waits in the prefetch queue behind the flight it joined.
/// </remarks>
internal sealed class BlockFlight
{
    private readonly Lock _gate = new();
    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _released = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private byte[]? _buffer;
    private int _references = 1; // the runner's
    private bool _bufferTaken;
    private BlockPriority _priority;
    private CancellationTokenSource? _priorityWait;

    public BlockFlight(int length, BlockPriority priority)
    {
        Length = length;
        _priority = priority;
    }

    public int Length { get; }

    /// <summary>True when the bytes came from disk (another flight stored them just before this one began).</summary>
    public bool FromDisk { get; set; }

    public Task Completion => _completion.Task;

    /// <summary>Completes when the runner and every reader have let go of the flight (its buffer is back in the pool).</summary>
    public Task Released => _released.Task;

    /// <summary>The shared buffer; valid while the caller holds a reference, after the runner allocated it.</summary>
    public Memory<byte> Payload => (_buffer ?? throw new InvalidOperationException("the flight has no buffer")).AsMemory(0, Length);

    /// <summary>
    /// Rents the buffer. The runner calls this only once it is about to read or fetch, so flights queued for a
    /// fetch slot (a long prefetch queue) hold no memory.
    /// </summary>
    public Memory<byte> AllocatePayload()
    {
        lock (_gate)
        {
            _buffer ??= BlockBuffers.Rent(Length);
            return _buffer.AsMemory(0, Length);
        }
    }

    /// <summary>
    /// Gives the buffer back before the flight completes (a tier probe that missed, before the flight queues for a
    /// slot): readers touch it only after completion, and <see cref="AllocatePayload"/> rents it again.
    /// </summary>
    public void ReturnPayload()
    {
        byte[]? toReturn;
        lock (_gate)
        {
            if (_completion.Task.IsCompleted)
            {
                return;
            }

            toReturn = _buffer;
            _buffer = null;
        }

        if (toReturn is not null)
        {
            BlockBuffers.Return(toReturn);
        }
    }

    public BlockPriority Priority
    {
        get
        {
            lock (_gate)
            {
                return _priority;
            }
        }
    }

    public void Complete() => _completion.TrySetResult();

    public void Fail(Exception error) => _completion.TrySetException(error);

    /// <summary>Takes a reference for a joining reader; false when the flight already let go of its buffer.</summary>
    public bool TryJoin()
    {
        lock (_gate)
        {
            if (_references == 0 || _bufferTaken)
            {
                return false;
            }

            _references++;
            return true;
        }
    }

    /// <summary>
    /// Hands the completed buffer to the caller when it holds the last reference (the usual case: one reader per
    /// block), saving a copy of the whole block; null when others still share it. Nobody can join afterwards.
    /// </summary>
    public byte[]? TryTakeBuffer()
    {
        lock (_gate)
        {
            if (_references != 1 || _buffer is null || !_completion.Task.IsCompletedSuccessfully)
            {
                return null;
            }

            _bufferTaken = true;
            var buffer = _buffer;
            _buffer = null;
            return buffer;
        }
    }

    /// <summary>
    /// A lease on the completed buffer for a reader that took a reference with <see cref="TryJoin"/>: no copy, and
    /// disposing it lets go of that reference.
    /// </summary>
    public BlockLease LeaseShared()
    {
        lock (_gate)
        {
            if (_buffer is null || !_completion.Task.IsCompletedSuccessfully)
            {
                throw new InvalidOperationException("the flight holds no completed buffer");
            }

            return new BlockLease(_buffer, Length, this);
        }
    }

    public void Leave()
    {
        byte[]? toReturn = null;
        var released = false;
        lock (_gate)
        {
            if (--_references == 0)
            {
                toReturn = _buffer;
                _buffer = null;
                released = true;
            }
        }

        if (toReturn is not null)
        {
            BlockBuffers.Return(toReturn);
        }

        if (released)
        {
            _released.TrySetResult();
        }
    }

    /// <summary>Raises the priority (lower value = more urgent) and wakes the runner if it is queued at the old one.</summary>
    public void RaisePriority(BlockPriority priority)
    {
        CancellationTokenSource? wait;
        lock (_gate)
        {
            if (priority >= _priority)
            {
                return;
            }

            _priority = priority;
            wait = _priorityWait;
        }

        try
        {
            wait?.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // The runner got its slot and finished waiting in the meantime: nothing to wake.
        }
    }

    /// <summary>Starts a wait for a fetch slot; the returned source is cancelled when the priority is raised.</summary>
    public CancellationTokenSource BeginPriorityWait(CancellationToken lifetime, out BlockPriority priority)
    {
        var wait = CancellationTokenSource.CreateLinkedTokenSource(lifetime);
        lock (_gate)
        {
            _priorityWait = wait;
            priority = _priority;
        }

        return wait;
    }

    public void EndPriorityWait()
    {
        lock (_gate)
        {
            _priorityWait = null;
        }
    }
}
