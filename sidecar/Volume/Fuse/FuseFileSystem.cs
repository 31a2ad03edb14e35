using System.Buffers;
using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using Fluid.Serverless.Sidecar.Cache;
using Fluid.Serverless.Sidecar.Datasets;
using Fluid.Serverless.Sidecar.Sources;
using Microsoft.Extensions.Logging;

namespace Fluid.Serverless.Sidecar.Volume.Fuse;

/// <summary>
/// The read-only file system of one dataset, answering FUSE requests: names come from the source's HEAD/LIST
/// (metadata-cached), bytes from <see cref="IObjectReader"/> (the block cache the S3 endpoint uses too). Every
/// handler replies exactly once (FORGET, BATCH_FORGET and INTERRUPT never); a failure of one request becomes an
/// errno for that request only.
/// </summary>
internal sealed partial class FuseFileSystem
{
    /// <summary>Largest READ the kernel sends: mount option max_read and max_pages=256 of 4 KiB.</summary>
    public const int MaxRead = 1024 * 1024;
    /// <summary>Largest WRITE (writable datasets); the kernel also sizes our request buffer from it.</summary>
    public const int MaxWrite = 1024 * 1024;
    private const int ListPageSize = 1000;
    private static readonly TimeSpan ImmutableTimeout = TimeSpan.FromDays(1);

    private readonly IObjectReader _reader;
    private readonly SmallFileReadAhead _smallFiles;
    private readonly ILogger _logger;
    private readonly TimeSpan _metadataTtl;
    private readonly DateTimeOffset _mountedAt;
    private readonly TimeProvider _time;
    private readonly FuseStaging? _staging;
    private readonly InodeTable _inodes = new();
    private readonly ConcurrentDictionary<ulong, OpenFile> _files = new();
    private readonly ConcurrentDictionary<ulong, DirectoryCursor> _directories = new();
    private readonly TaskCompletionSource _initialized = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Dataset _dataset;
    private long _nextHandle;
    private volatile bool _kernelOpensWithoutMessage;

    /// <param name="staging">Where writes are staged; null makes the view read-only whatever the dataset says.</param>
    public FuseFileSystem(Dataset dataset, IObjectReader reader, TimeSpan metadataTtl, TimeProvider time, ILogger logger, FuseStaging? staging = null)
    {
        _time = time;
        _staging = staging;
        _dataset = dataset;
        _reader = reader;
        _smallFiles = new SmallFileReadAhead(reader);
        _metadataTtl = metadataTtl;
        _logger = logger;
        _mountedAt = time.GetUtcNow();
    }

    /// <summary>The dataset served; swapped on a live config change (open files finish on the one they opened).</summary>
    public Dataset Dataset
    {
        get => Volatile.Read(ref _dataset);
        set => Volatile.Write(ref _dataset, value);
    }

    /// <summary>Completes when the kernel's INIT has been answered.</summary>
    public Task Initialized => _initialized.Task;

    public int InodeCount => _inodes.Count;

    /// <summary>Mounted read-write: the dataset is writable and staging is configured.</summary>
    public bool AcceptsWrites => _staging is not null && !Dataset.ReadOnly;

    /// <summary>Small files warmed ahead of a reader going through a directory in listing order.</summary>
    public long SmallFilesWarmedAhead => _smallFiles.Started;

    /// <summary>Requests seen per opcode (index = opcode number, 64 slots), for diagnostics and metrics.</summary>
    public long[] RequestCounts { get; } = new long[64];

    public async ValueTask HandleAsync(FuseChannel channel, ReadOnlyMemory<byte> request, CancellationToken cancellationToken)
    {
        var header = MemoryMarshal.Read<FuseInHeader>(request.Span);
        var body = request[Unsafe.SizeOf<FuseInHeader>()..];
        Interlocked.Increment(ref RequestCounts[(int)header.Opcode & 63]);
        try
        {
            switch (header.Opcode)
            {
                case FuseOpcode.Init:
                    Init(channel, header, body.Span);
                    break;
                case FuseOpcode.Lookup:
                    await LookupAsync(channel, header, ReadName(body.Span), cancellationToken);
                    break;
                case FuseOpcode.Forget:
                    _inodes.Forget(header.NodeId, MemoryMarshal.Read<FuseForgetIn>(body.Span).LookupCount);
                    break;
                case FuseOpcode.BatchForget:
                    BatchForget(body.Span);
                    break;
                case FuseOpcode.GetAttr:
                    await GetAttrAsync(channel, header, cancellationToken);
                    break;
                case FuseOpcode.Open:
                    await OpenAsync(channel, header, MemoryMarshal.Read<FuseOpenIn>(body.Span), cancellationToken);
                    break;
                case FuseOpcode.Read:
                    await ReadAsync(channel, header, MemoryMarshal.Read<FuseReadIn>(body.Span), cancellationToken);
                    break;
                case FuseOpcode.Release:
                    ReleaseFile(MemoryMarshal.Read<FuseReleaseIn>(body.Span).FileHandle);
                    channel.ReplyEmpty(header.Unique);
                    break;
                case FuseOpcode.OpenDir:
                    OpenDirectory(channel, header);
                    break;
                case FuseOpcode.ReadDir:
                    await ReadDirectoryAsync(channel, header, MemoryMarshal.Read<FuseReadIn>(body.Span), plus: false, cancellationToken);
                    break;
                case FuseOpcode.ReadDirPlus:
                    await ReadDirectoryAsync(channel, header, MemoryMarshal.Read<FuseReadIn>(body.Span), plus: true, cancellationToken);
                    break;
                case FuseOpcode.ReleaseDir:
                    _directories.TryRemove(MemoryMarshal.Read<FuseReleaseIn>(body.Span).FileHandle, out _);
                    channel.ReplyEmpty(header.Unique);
                    break;
                case FuseOpcode.StatFs:
                    StatFs(channel, header, _staging is not null && !Dataset.ReadOnly ? _staging.Budget : null);
                    break;
                case FuseOpcode.GetXAttr:
                    channel.ReplyError(header.Unique, LibC.ENODATA);
                    break;
                case FuseOpcode.ListXAttr:
                    ListXAttr(channel, header, MemoryMarshal.Read<FuseGetXAttrIn>(body.Span));
                    break;
                case FuseOpcode.Access:
                    var mask = MemoryMarshal.Read<FuseAccessIn>(body.Span).Mask;
                    if ((mask & FuseConstants.AccessWrite) != 0 && !IsWritable)
                    {
                        channel.ReplyError(header.Unique, LibC.EROFS);
                    }
                    else
                    {
                        channel.ReplyEmpty(header.Unique);
                    }
                    break;
                case FuseOpcode.Flush when Dataset.Config.ReadOnly:
                    // Nothing to flush on a read-only dataset: ENOSYS makes the kernel stop sending FLUSH on every
                    // close of this mount, one round trip less per file opened.
                    channel.ReplyError(header.Unique, LibC.ENOSYS);
                    break;
                case FuseOpcode.Flush:
                    await FlushAsync(channel, header, MemoryMarshal.Read<FuseFlushIn>(body.Span).FileHandle, isFsync: false, cancellationToken);
                    break;
                case FuseOpcode.FSync:
                    await FlushAsync(channel, header, MemoryMarshal.Read<FuseFSyncIn>(body.Span).FileHandle, isFsync: true, cancellationToken);
                    break;
                case FuseOpcode.FSyncDir:
                case FuseOpcode.Destroy:
                    channel.ReplyEmpty(header.Unique);
                    break;
                case FuseOpcode.Interrupt:
                    // Replies cannot be recalled; a READ in flight finishes and the kernel drops its answer.
                    break;
                case FuseOpcode.SetAttr:
                case FuseOpcode.Symlink:
                case FuseOpcode.MkNod:
                case FuseOpcode.MkDir:
                case FuseOpcode.Unlink:
                case FuseOpcode.RmDir:
                case FuseOpcode.Rename:
                case FuseOpcode.Rename2:
                case FuseOpcode.Link:
                case FuseOpcode.Write:
                case FuseOpcode.Create:
                case FuseOpcode.SetXAttr:
                case FuseOpcode.RemoveXAttr:
                case FuseOpcode.FAllocate:
                case FuseOpcode.CopyFileRange:
                case FuseOpcode.TmpFile:
                    await HandleModifyingAsync(channel, header, body, cancellationToken);
                    break;
                default:
                    channel.ReplyError(header.Unique, LibC.ENOSYS);
                    break;
            }
        }
        catch (Exception exception) when (exception is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            Log.RequestFailed(_logger, header.Opcode, Dataset.Name, exception);
            channel.ReplyError(header.Unique, LibC.EIO);
        }
    }

    private void Init(FuseChannel channel, FuseInHeader header, ReadOnlySpan<byte> body)
    {
        var request = MemoryMarshal.Read<FuseInitIn>(body);
        if (request.Major != FuseConstants.KernelVersion)
        {
            // A newer major is renegotiated by the kernel after it sees ours; an older one cannot be served.
            var versionOnly = new FuseInitOut { Major = FuseConstants.KernelVersion, Minor = FuseConstants.KernelMinorVersion };
            channel.Reply(header.Unique, MemoryMarshal.AsBytes(new ReadOnlySpan<FuseInitOut>(in versionOnly))[..8]);
            return;
        }
        // READDIRPLUS always, not READDIRPLUS_AUTO: with AUTO the kernel sends plain READDIR after the first batch, and
        // every later open() of a listed file costs a LOOKUP = a HEAD plus a LIST at the remote. Datasets are listed
        // to be read (ImageFolder, glob, os.walk), so each entry's attributes go with the listing, which already
        // carries them. Reading 3,000 listed files took 2,223 LOOKUPs with AUTO and none without it; bench/fuse's
        // 2,000 × 16 KiB files from s3rver went from 63 to 411 files/s. The cost: a bare `ls` of a huge directory
        // creates an inode per entry, which the kernel FORGETs under memory pressure.
        const uint wanted = FuseConstants.AsyncRead | FuseConstants.BigWrites | FuseConstants.DoReaddirPlus
            | FuseConstants.AsyncDio | FuseConstants.ParallelDirOps
            | FuseConstants.MaxPages | FuseConstants.AutoInvalData | FuseWriteConstants.AtomicOTrunc;
        var reply = new FuseInitOut
        {
            Major = FuseConstants.KernelVersion,
            Minor = FuseConstants.KernelMinorVersion,
            MaxReadahead = Math.Min(request.MaxReadahead, (uint)MaxRead),
            Flags = request.Flags & wanted,
            MaxBackground = 64,
            CongestionThreshold = 48,
            MaxWrite = MaxWrite,
            TimeGranularity = 1,
            MaxPages = MaxRead / 4096,
        };
        _kernelOpensWithoutMessage = (request.Flags & FuseConstants.NoOpenSupport) != 0;
        var bytes = MemoryMarshal.AsBytes(new ReadOnlySpan<FuseInitOut>(in reply));
        channel.Reply(header.Unique, request.Minor < 23 ? bytes[..FuseConstants.InitOutCompat22Size] : bytes);
        Log.Initialized(_logger, Dataset.Name, request.Major, request.Minor, reply.Flags);
        _initialized.TrySetResult();
    }

    private async ValueTask LookupAsync(FuseChannel channel, FuseInHeader header, string name, CancellationToken cancellationToken)
    {
        if (!_inodes.TryGet(header.NodeId, out var parent) || !parent.IsDirectory)
        {
            channel.ReplyError(header.Unique, LibC.ENOENT);
            return;
        }
        if (!EntryNames.IsVisible(name))
        {
            ReplyNegativeEntry(channel, header.Unique);
            return;
        }
        var source = Dataset.Source;
        var key = parent.Key + name;
        if (_staged.TryGetValue(key, out var stagedFile) && !stagedFile.Deleted)
        {
            var stagedReply = EntryOut(_inodes.Acquire(key, isDirectory: false, obj: null));
            channel.Reply(header.Unique, in stagedReply);
            return;
        }
        if (_virtualDirectories.ContainsKey(key + "/"))
        {
            var directoryReply = EntryOut(_inodes.Acquire(key + "/", isDirectory: true, obj: null));
            channel.Reply(header.Unique, in directoryReply);
            return;
        }
        // Both questions at once: the directory answer wins when a key is both an object and a prefix.
        var directoryTask = DirectoryCursor.HasChildrenAsync(source, key + "/", cancellationToken).AsTask();
        var headTask = source.HeadAsync(key, cancellationToken).AsTask();
        await Task.WhenAll(directoryTask, headTask);
        InodeEntry entry;
        if (directoryTask.Result)
        {
            entry = _inodes.Acquire(key + "/", isDirectory: true, obj: null);
        }
        else if (headTask.Result is { } obj)
        {
            entry = _inodes.Acquire(key, isDirectory: false, obj);
        }
        else
        {
            ReplyNegativeEntry(channel, header.Unique);
            return;
        }
        var reply = EntryOut(entry);
        channel.Reply(header.Unique, in reply);
    }

    /// <summary>A zero node id with a timeout lets the kernel cache "does not exist" for the metadata TTL.</summary>
    private void ReplyNegativeEntry(FuseChannel channel, ulong unique)
    {
        var timeout = Timeout();
        var reply = new FuseEntryOut { EntryValid = (ulong)timeout.TotalSeconds };
        channel.Reply(unique, in reply);
    }

    private void BatchForget(ReadOnlySpan<byte> body)
    {
        var count = MemoryMarshal.Read<FuseBatchForgetIn>(body).Count;
        var items = MemoryMarshal.Cast<byte, FuseForgetOne>(body[Unsafe.SizeOf<FuseBatchForgetIn>()..]);
        for (var i = 0; i < count && i < items.Length; i++)
        {
            _inodes.Forget(items[i].NodeId, items[i].LookupCount);
        }
    }

    private async ValueTask GetAttrAsync(FuseChannel channel, FuseInHeader header, CancellationToken cancellationToken)
    {
        if (!_inodes.TryGet(header.NodeId, out var entry))
        {
            channel.ReplyError(header.Unique, LibC.ENOENT);
            return;
        }
        if (!entry.IsDirectory && !Dataset.Immutable && !_staged.ContainsKey(entry.Key))
        {
            var current = await Dataset.Source.HeadAsync(entry.Key, cancellationToken);
            if (current is null)
            {
                channel.ReplyError(header.Unique, LibC.ENOENT);
                return;
            }
            entry.Object = current;
        }
        var timeout = Timeout();
        var reply = new FuseAttrOut { AttrValid = (ulong)timeout.TotalSeconds, Attr = Attributes(entry) };
        channel.Reply(header.Unique, in reply);
    }

    private async ValueTask OpenAsync(FuseChannel channel, FuseInHeader header, FuseOpenIn request, CancellationToken cancellationToken)
    {
        if (!_inodes.TryGet(header.NodeId, out var entry))
        {
            channel.ReplyError(header.Unique, LibC.ENOENT);
            return;
        }
        if (entry.IsDirectory)
        {
            channel.ReplyError(header.Unique, 21); // EISDIR
            return;
        }
        if ((request.Flags & FuseConstants.OpenAccessModeMask) != 0)
        {
            await OpenForWriteAsync(channel, header, entry, request.Flags, cancellationToken);
            return;
        }
        var dataset = Dataset;
        if (TryTakeStaged(entry.Key) is { } staged)
        {
            // Being written here: readers see the staged bytes, as the writer does.
            var stagedHandle = (ulong)Interlocked.Increment(ref _nextHandle);
            _files[stagedHandle] = new OpenFile(dataset, entry.Object ?? new RemoteObject(entry.Key, 0, "", _time.GetUtcNow()), staged);
            var stagedReply = new FuseOpenOut { FileHandle = stagedHandle };
            channel.Reply(header.Unique, in stagedReply);
            return;
        }
        var obj = entry.Object;
        if (obj is not null && dataset.Immutable && dataset.Config.ReadOnly && _kernelOpensWithoutMessage)
        {
            // Zero-message opens: ENOSYS tells a kernel that supports them to open every later file of this mount
            // without asking (page cache kept, as FOPEN_KEEP_CACHE) and without a RELEASE; its READs then carry
            // handle 0 and are served from the inode's object, which on an immutable dataset never changes. Opening
            // and closing a small file costs no round trip to the sidecar at all.
            channel.ReplyError(header.Unique, LibC.ENOSYS);
            return;
        }
        if (obj is null || !dataset.Immutable)
        {
            // Pin the version read through this handle: every READ of it asks the cache for the same ETag.
            obj = await dataset.Source.HeadAsync(entry.Key, cancellationToken);
            if (obj is null)
            {
                channel.ReplyError(header.Unique, LibC.ENOENT);
                return;
            }
            entry.Object = obj;
        }
        var handle = (ulong)Interlocked.Increment(ref _nextHandle);
        _files[handle] = new OpenFile(dataset, obj);
        var reply = new FuseOpenOut { FileHandle = handle, OpenFlags = dataset.Immutable ? FuseConstants.OpenKeepCache : 0 };
        channel.Reply(header.Unique, in reply);
    }

    private async ValueTask ReadAsync(FuseChannel channel, FuseInHeader header, FuseReadIn request, CancellationToken cancellationToken)
    {
        if (!_files.TryGetValue(request.FileHandle, out var file))
        {
            // Handle 0 is a zero-message open (see OpenAsync): the file is the inode's object.
            if (request.FileHandle != 0 || !_inodes.TryGet(header.NodeId, out var entry) || entry.IsDirectory || entry.Object is not { } obj)
            {
                channel.ReplyError(header.Unique, LibC.EBADF);
                return;
            }
            file = new OpenFile(Dataset, obj);
        }
        var offset = (long)request.Offset;
        if (file.Staged is { } staged)
        {
            ReadStaged(channel, header, staged, offset, (int)Math.Min(request.Size, (uint)MaxRead));
            return;
        }
        var length = (int)Math.Min(Math.Min(request.Size, (uint)MaxRead), Math.Max(0, file.Object.Size - offset));
        if (length == 0)
        {
            channel.ReplyEmpty(header.Unique);
            return;
        }
        var buffer = ArrayPool<byte>.Shared.Rent(length);
        try
        {
            int read;
            try
            {
                if (offset == 0)
                {
                    _smallFiles.OnFirstRead(file.Dataset, file.Object);
                }
                read = await _reader.ReadAsync(file.Dataset, file.Object, offset, buffer.AsMemory(0, length), cancellationToken);
            }
            catch (Exception exception) when (exception is SourceUnavailableException or RemoteObjectChangedException
                or RemoteObjectNotFoundException or IOException or TimeoutException or HttpRequestException)
            {
                // The remote failed for this range: this read gets EIO, the mount and every other read carry on.
                Log.ReadFailed(_logger, file.Dataset.Name, file.Object.Key, offset, length, exception.Message);
                channel.ReplyError(header.Unique, LibC.EIO);
                return;
            }
            channel.Reply(header.Unique, buffer.AsSpan(0, read));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private void OpenDirectory(FuseChannel channel, FuseInHeader header)
    {
        if (!_inodes.TryGet(header.NodeId, out var entry))
        {
            channel.ReplyError(header.Unique, LibC.ENOENT);
            return;
        }
        if (!entry.IsDirectory)
        {
            channel.ReplyError(header.Unique, 20); // ENOTDIR
            return;
        }
        var handle = (ulong)Interlocked.Increment(ref _nextHandle);
        _directories[handle] = new DirectoryCursor(Dataset.Source, entry.Key, ListPageSize, _smallFiles.OnPage);
        // Immutable datasets let the kernel keep the directory's pages; others re-list (through the TTL cache).
        var flags = Dataset.Immutable ? FuseConstants.OpenKeepCache | FuseConstants.OpenCacheDir : 0;
        var reply = new FuseOpenOut { FileHandle = handle, OpenFlags = flags };
        channel.Reply(header.Unique, in reply);
    }

    private async ValueTask ReadDirectoryAsync(FuseChannel channel, FuseInHeader header, FuseReadIn request, bool plus, CancellationToken cancellationToken)
    {
        if (!_directories.TryGetValue(request.FileHandle, out var cursor) || !_inodes.TryGet(header.NodeId, out var directory))
        {
            channel.ReplyError(header.Unique, LibC.EBADF);
            return;
        }
        var capacity = (int)Math.Min(request.Size, (uint)MaxRead);
        var buffer = ArrayPool<byte>.Shared.Rent(capacity);
        await cursor.Gate.WaitAsync(cancellationToken);
        try
        {
            var used = 0;
            var timeout = Timeout();
            List<DirectoryEntry>? pending = null;
            for (var index = (long)request.Offset; ; index++)
            {
                DirectoryEntry? entry;
                if (index < 2)
                {
                    entry = index == 0 ? DotEntry : DotDotEntry;
                }
                else if (index >= PendingEntriesOffset)
                {
                    // After the remote listing: files staged here and empty directories, not at the remote yet.
                    pending ??= PendingEntries(directory.Key);
                    var at = index - PendingEntriesOffset;
                    if (at >= pending.Count)
                    {
                        break;
                    }
                    entry = pending[(int)at];
                }
                else
                {
                    entry = await cursor.GetAsync(index - 2, cancellationToken);
                    if (entry is null)
                    {
                        if (_staged.IsEmpty && _virtualDirectories.IsEmpty)
                        {
                            break;
                        }
                        index = PendingEntriesOffset - 1;
                        continue;
                    }
                }
                var written = plus
                    ? TryWriteDirentPlus(buffer.AsSpan(used, capacity - used), entry, index, directory, timeout)
                    : TryWriteDirent(buffer.AsSpan(used, capacity - used), entry, index, directory);
                if (written == 0)
                {
                    break;
                }
                used += written;
            }
            channel.Reply(header.Unique, buffer.AsSpan(0, used));
        }
        finally
        {
            cursor.Gate.Release();
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static readonly DirectoryEntry DotEntry = new(".", "."u8.ToArray(), "", IsDirectory: true, Object: null);
    private static readonly DirectoryEntry DotDotEntry = new("..", ".."u8.ToArray(), "", IsDirectory: true, Object: null);

    private static int DirentSize(int nameLength) => (Unsafe.SizeOf<FuseDirent>() + nameLength + 7) & ~7;

    private static int TryWriteDirent(Span<byte> destination, DirectoryEntry entry, long index, InodeEntry directory)
    {
        var size = DirentSize(entry.NameUtf8.Length);
        if (size > destination.Length)
        {
            return 0;
        }
        var dirent = new FuseDirent
        {
            // READDIR does not create inodes: the kernel looks names up before use. Any non-zero ino will do.
            Inode = ReferenceEquals(entry, DotEntry) || ReferenceEquals(entry, DotDotEntry) ? directory.Inode : ulong.MaxValue,
            Offset = (ulong)(index + 1),
            NameLength = (uint)entry.NameUtf8.Length,
            Type = entry.IsDirectory ? FuseConstants.DirentTypeDirectory : FuseConstants.DirentTypeRegular,
        };
        destination[..size].Clear();
        MemoryMarshal.Write(destination, in dirent);
        entry.NameUtf8.CopyTo(destination[Unsafe.SizeOf<FuseDirent>()..]);
        return size;
    }

    private int TryWriteDirentPlus(Span<byte> destination, DirectoryEntry entry, long index, InodeEntry directory, TimeSpan timeout)
    {
        var entrySize = Unsafe.SizeOf<FuseEntryOut>();
        var size = (entrySize + Unsafe.SizeOf<FuseDirent>() + entry.NameUtf8.Length + 7) & ~7;
        if (size > destination.Length)
        {
            return 0;
        }
        destination[..size].Clear();
        FuseEntryOut entryOut = default;
        ulong inode;
        if (ReferenceEquals(entry, DotEntry) || ReferenceEquals(entry, DotDotEntry))
        {
            // Node id 0: the kernel takes no lookup reference for "." and "..".
            inode = directory.Inode;
        }
        else
        {
            // Each entry sent with a node id counts as one lookup; the kernel FORGETs it later.
            var node = _inodes.Acquire(entry.Key, entry.IsDirectory, entry.Object);
            entryOut = EntryOut(node);
            entryOut.EntryValid = entryOut.AttrValid = (ulong)timeout.TotalSeconds;
            inode = node.Inode;
        }
        MemoryMarshal.Write(destination, in entryOut);
        var dirent = new FuseDirent
        {
            Inode = inode,
            Offset = (ulong)(index + 1),
            NameLength = (uint)entry.NameUtf8.Length,
            Type = entry.IsDirectory ? FuseConstants.DirentTypeDirectory : FuseConstants.DirentTypeRegular,
        };
        MemoryMarshal.Write(destination[entrySize..], in dirent);
        entry.NameUtf8.CopyTo(destination[(entrySize + Unsafe.SizeOf<FuseDirent>())..]);
        return size;
    }

    private static void StatFs(FuseChannel channel, FuseInHeader header, IStagingBudget? staging)
    {
        // A remote dataset has no meaningful capacity. A writable one reports the staging space left: what one file
        // written here may take before ENOSPC.
        var reply = new FuseStatFsOut { BlockSize = 4096, FragmentSize = 4096, NameLength = FuseConstants.MaxNameBytes };
        if (staging is not null)
        {
            reply.Blocks = (ulong)(staging.Capacity / 4096);
            reply.BlocksFree = reply.BlocksAvailable = (ulong)(Math.Max(0, staging.Capacity - staging.Used) / 4096);
        }
        channel.Reply(header.Unique, in reply);
    }

    private static void ListXAttr(FuseChannel channel, FuseInHeader header, FuseGetXAttrIn request)
    {
        if (request.Size == 0)
        {
            var sizeOnly = new FuseGetXAttrOut { Size = 0 };
            channel.Reply(header.Unique, in sizeOnly);
        }
        else
        {
            channel.ReplyEmpty(header.Unique);
        }
    }

    private FuseEntryOut EntryOut(InodeEntry entry)
    {
        var seconds = (ulong)Timeout().TotalSeconds;
        return new FuseEntryOut { NodeId = entry.Inode, EntryValid = seconds, AttrValid = seconds, Attr = Attributes(entry) };
    }

    private FuseAttr Attributes(InodeEntry entry)
    {
        var obj = entry.Object;
        var modified = obj?.LastModified ?? _mountedAt;
        var size = entry.IsDirectory ? 0UL : (ulong)Math.Max(0, obj?.Size ?? 0);
        if (!entry.IsDirectory && !_staged.IsEmpty && _staged.TryGetValue(entry.Key, out var staged))
        {
            modified = staged.Modified;
            size = (ulong)staged.Length;
        }
        var seconds = (ulong)Math.Max(0, modified.ToUnixTimeSeconds());
        var nanoseconds = (uint)(modified.ToUnixTimeMilliseconds() % 1000 * 1_000_000);
        var writable = _staging is not null && !Dataset.ReadOnly;
        return new FuseAttr
        {
            Inode = entry.Inode,
            Size = size,
            Blocks = (size + 511) / 512,
            ATime = seconds,
            MTime = seconds,
            CTime = seconds,
            ATimeNsec = nanoseconds,
            MTimeNsec = nanoseconds,
            CTimeNsec = nanoseconds,
            // Writable datasets: open to every uid. The app's uid is not known here and POSIX owners mean nothing to an
            // object store; who may write is decided by the dataset's readOnly flag and which containers mount it.
            Mode = entry.IsDirectory
                ? FuseConstants.ModeDirectory | (writable ? 0x1FFu /* 0777 */ : 0x16D /* 0555 */)
                : FuseConstants.ModeRegular | (writable ? 0x1B6u /* 0666 */ : 0x124 /* 0444 */),
            // 1 tells find(1) the subdirectory count is unknown (it must not skip directories).
            LinkCount = 1,
            BlockSize = 128 * 1024,
        };
    }

    private TimeSpan Timeout() => Dataset.Immutable ? ImmutableTimeout : _metadataTtl;

    private static string ReadName(ReadOnlySpan<byte> body)
    {
        var end = body.IndexOf((byte)0);
        return Encoding.UTF8.GetString(end < 0 ? body : body[..end]);
    }

    /// <summary>Listing offsets from here on are the pending (not yet uploaded) entries of a directory.</summary>
    private const long PendingEntriesOffset = 1L << 40;

    private static void ReadStaged(FuseChannel channel, FuseInHeader header, StagedFile staged, long offset, int size)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(Math.Max(1, size));
        try
        {
            var read = staged.Read(offset, buffer.AsSpan(0, size));
            channel.Reply(header.Unique, buffer.AsSpan(0, read));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <param name="Staged">The staged file this handle reads and (when <paramref name="ForWrite"/>) writes; null = the remote object.</param>
    private sealed record OpenFile(Dataset Dataset, RemoteObject Object, StagedFile? Staged = null, bool ForWrite = false);

    private static partial class Log
    {
        [LoggerMessage(EventIds.FuseSessionInitialized, LogLevel.Information, "FUSE session for dataset {Dataset} initialized (kernel protocol {Major}.{Minor}, flags 0x{Flags:x})")]
        public static partial void Initialized(ILogger logger, string dataset, uint major, uint minor, uint flags);

        [LoggerMessage(EventIds.FuseReadFailed, LogLevel.Warning, "FUSE read of {Dataset}/{Key} at {Offset} (+{Length}) failed, answered EIO: {Reason}")]
        public static partial void ReadFailed(ILogger logger, string dataset, string key, long offset, int length, string reason);

        [LoggerMessage(EventIds.FuseRequestFailed, LogLevel.Warning, "FUSE {Opcode} on dataset {Dataset} failed, answered EIO")]
        public static partial void RequestFailed(ILogger logger, FuseOpcode opcode, string dataset, Exception exception);
    }
}
