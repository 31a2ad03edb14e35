namespace Fluid.Serverless.Sidecar.S3Api.Writes;

/// <summary>
/// The byte budget of upload staging (<c>cache.stagingBytes</c>): every byte written to a spool or part file is
/// reserved first, and given back when the file is deleted. Staging shares the cache volume with the block cache,
/// whose quota is separate; with both bounded the volume stays under its sizeLimit and the kubelet never evicts the
/// pod for it. A write that does not fit is refused with an S3 error instead.
/// </summary>
internal sealed class StagingSpace : Cache.IStagingBudget
{
    private long _used;

    public StagingSpace(long capacityBytes, long usedBytes = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(capacityBytes);
        Capacity = capacityBytes;
        _used = Math.Max(0, usedBytes);
    }

    public long Capacity { get; }

    public long Used => Interlocked.Read(ref _used);

    /// <summary>
    /// Takes <paramref name="bytes"/> more; throws <see cref="UploadRejectedException"/>: EntityTooLarge when
    /// <paramref name="wholeBytes"/> (the file being written, as far as known) can never fit, else SlowDown.
    /// </summary>
    public void Reserve(long bytes, long wholeBytes)
    {
        if (wholeBytes > Capacity)
        {
            throw new UploadRejectedException(new S3Error(400, "EntityTooLarge",
                $"The part has at least {wholeBytes} bytes, more than the sidecar's upload staging holds (cache.stagingBytes = {Capacity}); use smaller parts. Nothing was stored."));
        }

        while (true)
        {
            var used = Interlocked.Read(ref _used);
            if (used + bytes > Capacity)
            {
                throw new UploadRejectedException(new S3Error(503, "SlowDown",
                    $"The sidecar's upload staging is full: {used} of {Capacity} bytes (cache.stagingBytes) are held by other uploads and {bytes} more are needed. "
                    + "Retry later, or complete or abort unfinished multipart uploads. Nothing was stored."));
            }

            if (Interlocked.CompareExchange(ref _used, used + bytes, used) == used)
            {
                return;
            }
        }
    }

    public bool TryReserve(long bytes)
    {
        while (true)
        {
            var used = Interlocked.Read(ref _used);
            if (used + bytes > Capacity)
            {
                return false;
            }

            if (Interlocked.CompareExchange(ref _used, used + bytes, used) == used)
            {
                return true;
            }
        }
    }

    public void Release(long bytes)
    {
        if (bytes > 0)
        {
            Interlocked.Add(ref _used, -bytes);
        }
    }

    /// <summary>Reserves for one file as it grows; <see cref="Release"/> gives back all of it (when the file is deleted).</summary>
    public Reservation ForFile(long? declaredLength) => new(this, declaredLength);

    internal sealed class Reservation(StagingSpace space, long? declaredLength)
    {
        private long _reserved;
        private long _written;

        public long Bytes => _reserved;

        /// <summary>Before <paramref name="bytes"/> more are written; a declared length is reserved whole on the first call.</summary>
        public void Grow(long bytes)
        {
            _written += bytes;
            var wanted = Math.Max(_written, declaredLength ?? 0);
            if (wanted > _reserved)
            {
                space.Reserve(wanted - _reserved, wanted);
                _reserved = wanted;
            }
        }

        /// <summary>The file was deleted (or never kept): all its bytes go back.</summary>
        public void Release()
        {
            space.Release(_reserved);
            _reserved = 0;
        }
    }
}
