using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Fluid.Serverless.Sidecar.Cache;
using Fluid.Serverless.Sidecar.Datasets;
using Fluid.Serverless.Sidecar.Sources;
using Fluid.Serverless.Sidecar.Sources.Writes;
using Microsoft.Extensions.Logging;

namespace Fluid.Serverless.Sidecar.Volume.Fuse;

/// <summary>
/// Writes through the view of a writable dataset (<c>readOnly: false</c>). A file opened for writing is staged on the
/// cache volume (<see cref="StagedFile"/>) and read back from there; it is uploaded through the source's write path
/// (the one the S3 endpoint uses: one PUT, or a multipart upload for large files) on FSYNC and on FLUSH, which
/// close(2) waits for, so a file is durable when close returns (EIO when the upload failed; the file stays staged and
/// is retried, and listed in /status). Every upload, delete, copy and rename drops the object's cached blocks and
/// metadata. Directories are real on directory sources and kept in memory on object stores until a file lands.
/// </summary>
internal sealed partial class FuseFileSystem
{
    private readonly ConcurrentDictionary<string, StagedFile> _staged = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, byte> _virtualDirectories = new(StringComparer.Ordinal);
    private readonly Lock _retryLock = new();
    private ITimer? _retryTimer;
    private int _retrying;

    /// <summary>True when this view accepts writes now (a live change to readOnly: true stops them at once).</summary>
    private bool IsWritable => _staging is not null && !Dataset.ReadOnly && WritableSources.Find(Dataset.Source) is not null;

    /// <summary>Files that failed to upload and wait for a retry (for /status).</summary>
    public IReadOnlyList<FailedStagedFile> FailedUploads =>
        [.. _staged.Values.Where(s => s.LastError is not null && s.IsDirty).Select(s => new FailedStagedFile(Dataset.Name, s.Key, s.Length, s.LastError!))];

    private async ValueTask HandleModifyingAsync(FuseChannel channel, FuseInHeader header, ReadOnlyMemory<byte> body, CancellationToken cancellationToken)
    {
        if (!IsWritable)
        {
            channel.ReplyError(header.Unique, LibC.EROFS);
            return;
        }
        switch (header.Opcode)
        {
            case FuseOpcode.Create:
                await CreateAsync(channel, header, body, cancellationToken);
                break;
            case FuseOpcode.Write:
                Write(channel, header, body.Span);
                break;
            case FuseOpcode.SetAttr:
                await SetAttrAsync(channel, header, MemoryMarshal.Read<FuseSetAttrIn>(body.Span), cancellationToken);
                break;
            case FuseOpcode.Unlink:
                await UnlinkAsync(channel, header, ReadName(body.Span), cancellationToken);
                break;
            case FuseOpcode.MkDir:
                await MkDirAsync(channel, header, ReadName(body.Span[Unsafe.SizeOf<FuseMkDirIn>()..]), cancellationToken);
                break;
            case FuseOpcode.RmDir:
                await RmDirAsync(channel, header, ReadName(body.Span), cancellationToken);
                break;
            case FuseOpcode.Rename:
                await RenameAsync(channel, header, MemoryMarshal.Read<FuseRenameIn>(body.Span).NewDirectory, 0, body[Unsafe.SizeOf<FuseRenameIn>()..], cancellationToken);
                break;
            case FuseOpcode.Rename2:
                var rename2 = MemoryMarshal.Read<FuseRename2In>(body.Span);
                await RenameAsync(channel, header, rename2.NewDirectory, rename2.Flags, body[Unsafe.SizeOf<FuseRename2In>()..], cancellationToken);
                break;
            case FuseOpcode.FAllocate:
            case FuseOpcode.CopyFileRange:
                // The kernel falls back to plain writes.
                channel.ReplyError(header.Unique, FuseWriteConstants.ENOTSUP);
                break;
            default:
                // Links, device nodes, symlinks, xattrs and O_TMPFILE have no object-store meaning.
                channel.ReplyError(header.Unique, LibC.EPERM);
                break;
        }
    }

    private async ValueTask CreateAsync(FuseChannel channel, FuseInHeader header, ReadOnlyMemory<byte> body, CancellationToken cancellationToken)
    {
        var request = MemoryMarshal.Read<FuseCreateIn>(body.Span);
        var name = ReadName(body.Span[Unsafe.SizeOf<FuseCreateIn>()..]);
        if (!TryChildKey(channel, header, name, out var key))
        {
            return;
        }
        if ((request.Mode & FuseWriteConstants.ModeTypeMask) is not (0 or FuseConstants.ModeRegular))
        {
            channel.ReplyError(header.Unique, LibC.EPERM);
            return;
        }
        var dataset = Dataset;
        StagedFile? staged;
        while ((staged = TryTakeStaged(key)) is null)
        {
            var existing = await dataset.Source.HeadAsync(key, cancellationToken);
            var created = StagedFile.Create(_staging!, dataset.Name, dataset.Source.Identity, key, _time.GetUtcNow());
            created.IsNew = existing is null;
            if (TryPublish(key, created))
            {
                staged = created;
                break;
            }
        }
        // A created file is uploaded at close even when nothing is written to it (an empty object).
        staged.SetLength(0, _time.GetUtcNow());
        var entry = _inodes.Acquire(key, isDirectory: false, obj: null);
        var handle = (ulong)Interlocked.Increment(ref _nextHandle);
        _files[handle] = new OpenFile(dataset, new RemoteObject(key, 0, "", _time.GetUtcNow()), staged, ForWrite: true);
        Span<byte> reply = stackalloc byte[Unsafe.SizeOf<FuseEntryOut>() + Unsafe.SizeOf<FuseOpenOut>()];
        var entryOut = EntryOut(entry);
        MemoryMarshal.Write(reply, in entryOut);
        var openOut = new FuseOpenOut { FileHandle = handle };
        MemoryMarshal.Write(reply[Unsafe.SizeOf<FuseEntryOut>()..], in openOut);
        channel.Reply(header.Unique, reply);
    }

    /// <summary>
    /// The staged file of <paramref name="key"/> with one more handle, or null when none is staged or the one found was
    /// retired (its last handle closed and it is being discarded). A retired file is taken out of the table here, so
    /// that the caller's new file can go in at once.
    /// </summary>
    private StagedFile? TryTakeStaged(string key)
    {
        if (!_staged.TryGetValue(key, out var existing))
        {
            return null;
        }
        if (existing.TryAddHandle())
        {
            return existing;
        }
        _staged.TryRemove(KeyValuePair.Create(key, existing));
        return null;
    }

    /// <summary>Puts a newly staged file into the table with the caller's handle; false (and the file disposed) when another got there first.</summary>
    private bool TryPublish(string key, StagedFile created)
    {
        created.AddHandle();
        if (_staged.TryAdd(key, created))
        {
            return true;
        }
        created.Dispose();
        return false;
    }

    /// <summary>OPEN with O_WRONLY/O_RDWR: stage the file (its current bytes first, unless O_TRUNC) and hand out a write handle.</summary>
    private async ValueTask OpenForWriteAsync(FuseChannel channel, FuseInHeader header, InodeEntry entry, uint flags, CancellationToken cancellationToken)
    {
        if (!IsWritable)
        {
            channel.ReplyError(header.Unique, LibC.EROFS);
            return;
        }
        var dataset = Dataset;
        var truncate = (flags & FuseWriteConstants.OpenTruncate) != 0;
        StagedFile staged;
        try
        {
            staged = await StageAsync(dataset, entry.Key, truncate, cancellationToken);
        }
        catch (StagingFullException)
        {
            channel.ReplyError(header.Unique, LibC.ENOSPC);
            return;
        }
        catch (RemoteObjectNotFoundException)
        {
            channel.ReplyError(header.Unique, LibC.ENOENT);
            return;
        }
        var handle = (ulong)Interlocked.Increment(ref _nextHandle);
        _files[handle] = new OpenFile(dataset, entry.Object ?? new RemoteObject(entry.Key, 0, "", _time.GetUtcNow()), staged, ForWrite: true);
        var reply = new FuseOpenOut { FileHandle = handle };
        channel.Reply(header.Unique, in reply);
    }

    /// <summary>The staged file of <paramref name="key"/> with one more handle: the one already open, or a new one filled from the remote.</summary>
    private async ValueTask<StagedFile> StageAsync(Dataset dataset, string key, bool truncate, CancellationToken cancellationToken)
    {
        while (true)
        {
            if (TryTakeStaged(key) is { } existing)
            {
                if (truncate && existing.SetLength(0, _time.GetUtcNow()) != 0)
                {
                    existing.RemoveHandle();
                    throw new StagingFullException();
                }
                return existing;
            }
            var current = truncate ? null : await dataset.Source.HeadAsync(key, cancellationToken);
            var staged = StagedFile.Create(_staging!, dataset.Name, dataset.Source.Identity, key, _time.GetUtcNow());
            try
            {
                if (truncate)
                {
                    // Overwritten whole: the new bytes are the file (an upload follows even if none are written).
                    staged.SetLength(0, _time.GetUtcNow());
                }
                else if (current is not null)
                {
                    // S3 cannot append or patch: the object comes down whole and goes up whole at close.
                    await staged.FillAsync(stream => _reader.CopyToAsync(dataset, current, 0, current.Size, stream, cancellationToken), current.Size);
                }
                else
                {
                    staged.IsNew = true;
                }
            }
            catch
            {
                staged.Dispose();
                throw;
            }
            if (TryPublish(key, staged))
            {
                return staged;
            }
        }
    }

    private void Write(FuseChannel channel, FuseInHeader header, ReadOnlySpan<byte> body)
    {
        var request = MemoryMarshal.Read<FuseWriteIn>(body);
        if (!_files.TryGetValue(request.FileHandle, out var file) || file.Staged is not { } staged || !file.ForWrite)
        {
            channel.ReplyError(header.Unique, LibC.EBADF);
            return;
        }
        var data = body.Slice(Unsafe.SizeOf<FuseWriteIn>(), (int)request.Size);
        var error = staged.Write((long)request.Offset, data, _time.GetUtcNow());
        if (error != 0)
        {
            channel.ReplyError(header.Unique, error);
            return;
        }
        var reply = new FuseWriteOut { Size = request.Size };
        channel.Reply(header.Unique, in reply);
    }

    /// <summary>
    /// FLUSH (every close(2) of a descriptor waits for it) and FSYNC: upload what this handle's file has staged. With
    /// write-back on, a FLUSH only makes the bytes durable on the cache volume and leaves the upload to the timer, unless
    /// the backlog is full; FSYNC always uploads.
    /// </summary>
    private async ValueTask FlushAsync(FuseChannel channel, FuseInHeader header, ulong fileHandle, bool isFsync, CancellationToken cancellationToken)
    {
        if (_files.TryGetValue(fileHandle, out var file) && file.ForWrite && file.Staged is { } staged)
        {
            if (!isFsync && _staging!.WriteBackDelay is { } delay && staged.IsDirty && !staged.Deleted
                && WriteBackBacklog(except: staged) + staged.Length <= _staging.WriteBackMaxBacklogBytes)
            {
                staged.Seal();
                staged.UploadDueAt = _time.GetUtcNow() + delay;
                ScheduleRetry();
                channel.ReplyEmpty(header.Unique);
                return;
            }
            var error = await UploadAsync(file.Dataset, staged, cancellationToken);
            if (error != 0)
            {
                channel.ReplyError(header.Unique, error);
                return;
            }
        }
        channel.ReplyEmpty(header.Unique);
    }

    /// <summary>RELEASE: the last handle of a staged file discards it when uploaded; a file still dirty stays for the retry.</summary>
    private void ReleaseFile(ulong fileHandle)
    {
        if (!_files.TryRemove(fileHandle, out var file) || file.Staged is not { } staged)
        {
            return;
        }
        if (staged.RemoveHandle() > 0)
        {
            return;
        }
        if (staged.IsDirty && !staged.Deleted)
        {
            ScheduleRetry();
            return;
        }
        Discard(staged);
    }

    private void Discard(StagedFile staged)
    {
        if (!staged.TryRetire())
        {
            return;
        }
        _staged.TryRemove(KeyValuePair.Create(staged.Key, staged));
        staged.Dispose();
    }

    /// <summary>Uploads a dirty staged file through the source's write path; 0 or EIO (the file stays staged, LastError set).</summary>
    private async ValueTask<int> UploadAsync(Dataset dataset, StagedFile staged, CancellationToken cancellationToken)
    {
        if (!staged.IsDirty || staged.Deleted)
        {
            return 0;
        }
        await staged.UploadGate.WaitAsync(cancellationToken);
        try
        {
            if (!staged.IsDirty || staged.Deleted)
            {
                return 0;
            }
            var key = staged.Key;
            var generation = staged.Seal();
            try
            {
                var writable = WritableSources.Find(dataset.Source) ?? throw new IOException($"the source of dataset '{dataset.Name}' does not accept writes");
                string etag;
                await using (var content = staged.OpenRead())
                {
                    try
                    {
                        etag = await writable.PutAsync(key, content, ObjectWriteOptions.None, cancellationToken);
                    }
                    finally
                    {
                        // Even a failed PUT may have replaced the object (a local rename): drop what is cached either way.
                        InvalidateCached(dataset, key);
                    }
                }
                staged.Uploaded(generation);
                staged.UploadDueAt = null;
                staged.IsNew = false;
                ForgetVirtualAncestors(key);
                _staging!.Statistics.UploadSucceeded();
                Log.Uploaded(_logger, dataset.Name, key, staged.Length, etag);
                if (_inodes.TryGetByKey(key, out var entry) && await dataset.Source.HeadAsync(key, cancellationToken) is { } uploaded)
                {
                    entry.Object = uploaded;
                }
                return 0;
            }
            catch (Exception exception) when (exception is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                staged.LastError = exception.Message;
                _staging!.Statistics.UploadFailed();
                Log.UploadFailed(_logger, dataset.Name, key, staged.Length, exception.Message);
                return LibC.EIO;
            }
        }
        finally
        {
            staged.UploadGate.Release();
        }
    }

    private async ValueTask SetAttrAsync(FuseChannel channel, FuseInHeader header, FuseSetAttrIn request, CancellationToken cancellationToken)
    {
        if (!_inodes.TryGet(header.NodeId, out var entry))
        {
            channel.ReplyError(header.Unique, LibC.ENOENT);
            return;
        }
        if ((request.Valid & FuseWriteConstants.SetAttrSize) != 0 && !entry.IsDirectory)
        {
            var error = await TruncateAsync(entry, request, cancellationToken);
            if (error != 0)
            {
                channel.ReplyError(header.Unique, error);
                return;
            }
        }
        // Mode, owner and times are not stored by object stores: accepted and not kept (cp -p, shutil.copy2 go on).
        var reply = new FuseAttrOut { AttrValid = (ulong)Timeout().TotalSeconds, Attr = Attributes(entry) };
        channel.Reply(header.Unique, in reply);
    }

    private async ValueTask<int> TruncateAsync(InodeEntry entry, FuseSetAttrIn request, CancellationToken cancellationToken)
    {
        var size = (long)request.Size;
        if ((request.Valid & FuseWriteConstants.SetAttrFileHandle) != 0 && _files.TryGetValue(request.FileHandle, out var file) && file.Staged is { } open)
        {
            return open.SetLength(size, _time.GetUtcNow());
        }
        // truncate(2) by path: no close follows, so the result is uploaded at once.
        var dataset = Dataset;
        StagedFile staged;
        try
        {
            staged = await StageAsync(dataset, entry.Key, truncate: size == 0, cancellationToken);
        }
        catch (StagingFullException)
        {
            return LibC.ENOSPC;
        }
        try
        {
            var error = staged.SetLength(size, _time.GetUtcNow());
            return error != 0 ? error : await UploadAsync(dataset, staged, cancellationToken);
        }
        finally
        {
            if (staged.RemoveHandle() == 0)
            {
                if (staged.IsDirty)
                {
                    ScheduleRetry();
                }
                else
                {
                    Discard(staged);
                }
            }
        }
    }

    private async ValueTask UnlinkAsync(FuseChannel channel, FuseInHeader header, string name, CancellationToken cancellationToken)
    {
        if (!TryChildKey(channel, header, name, out var key))
        {
            return;
        }
        var dataset = Dataset;
        var staged = _staged.GetValueOrDefault(key);
        if (staged is null && await dataset.Source.HeadAsync(key, cancellationToken) is null)
        {
            channel.ReplyError(header.Unique, LibC.ENOENT);
            return;
        }
        if (staged is not null)
        {
            staged.Deleted = true;
            _staged.TryRemove(KeyValuePair.Create(key, staged));
            if (staged.TryRetire())
            {
                staged.Dispose();
            }
        }
        await WritableSources.Find(dataset.Source)!.DeleteAsync(key, cancellationToken);
        InvalidateCached(dataset, key);
        _inodes.Detach(key);
        channel.ReplyEmpty(header.Unique);
    }

    private async ValueTask MkDirAsync(FuseChannel channel, FuseInHeader header, string name, CancellationToken cancellationToken)
    {
        if (!TryChildKey(channel, header, name, out var key))
        {
            return;
        }
        var prefix = key + "/";
        var dataset = Dataset;
        if (WritableSources.Find(dataset.Source) is IDirectoryTreeSource tree)
        {
            if (!tree.CreateDirectory(prefix))
            {
                channel.ReplyError(header.Unique, FuseWriteConstants.EEXIST);
                return;
            }
            InvalidateCached(dataset, prefix);
        }
        else if (_virtualDirectories.ContainsKey(prefix) || await DirectoryCursor.HasChildrenAsync(dataset.Source, prefix, cancellationToken))
        {
            channel.ReplyError(header.Unique, FuseWriteConstants.EEXIST);
            return;
        }
        else
        {
            // Object stores have no empty directories: this one lives in memory until a file lands in it.
            _virtualDirectories[prefix] = 0;
        }
        var entry = _inodes.Acquire(prefix, isDirectory: true, obj: null);
        var reply = EntryOut(entry);
        channel.Reply(header.Unique, in reply);
    }

    private async ValueTask RmDirAsync(FuseChannel channel, FuseInHeader header, string name, CancellationToken cancellationToken)
    {
        if (!TryChildKey(channel, header, name, out var key))
        {
            return;
        }
        var prefix = key + "/";
        var dataset = Dataset;
        if (_staged.Keys.Any(k => k.StartsWith(prefix, StringComparison.Ordinal)) || _virtualDirectories.Keys.Any(k => k.Length > prefix.Length && k.StartsWith(prefix, StringComparison.Ordinal)))
        {
            channel.ReplyError(header.Unique, FuseWriteConstants.ENOTEMPTY);
            return;
        }
        if (WritableSources.Find(dataset.Source) is IDirectoryTreeSource tree)
        {
            try
            {
                tree.DeleteDirectory(prefix);
            }
            catch (DirectoryNotFoundException)
            {
                channel.ReplyError(header.Unique, LibC.ENOENT);
                return;
            }
            catch (IOException)
            {
                channel.ReplyError(header.Unique, FuseWriteConstants.ENOTEMPTY);
                return;
            }
            InvalidateCached(dataset, prefix);
        }
        else if (await DirectoryCursor.HasChildrenAsync(dataset.Source, prefix, cancellationToken))
        {
            channel.ReplyError(header.Unique, FuseWriteConstants.ENOTEMPTY);
            return;
        }
        else if (!_virtualDirectories.TryRemove(prefix, out _))
        {
            channel.ReplyError(header.Unique, LibC.ENOENT);
            return;
        }
        _inodes.Detach(prefix);
        channel.ReplyEmpty(header.Unique);
    }

    private async ValueTask RenameAsync(FuseChannel channel, FuseInHeader header, ulong newDirectory, uint flags, ReadOnlyMemory<byte> names, CancellationToken cancellationToken)
    {
        var span = names.Span;
        var end = span.IndexOf((byte)0);
        var oldName = ReadName(span);
        var newName = end < 0 ? "" : ReadName(span[(end + 1)..]);
        if ((flags & ~FuseWriteConstants.RenameNoReplace) != 0)
        {
            channel.ReplyError(header.Unique, LibC.EINVAL); // RENAME_EXCHANGE, RENAME_WHITEOUT
            return;
        }
        if (!TryChildKey(channel, header, oldName, out var fromKey)
            || !TryChildKey(channel, header with { NodeId = newDirectory }, newName, out var toKey))
        {
            return;
        }
        var dataset = Dataset;
        var writable = WritableSources.Find(dataset.Source)!;
        var isDirectory = _inodes.TryGetByKey(fromKey + "/", out _) || _virtualDirectories.ContainsKey(fromKey + "/");
        if (isDirectory)
        {
            RenameDirectory(channel, header, dataset, writable, fromKey + "/", toKey + "/");
            return;
        }
        var staged = _staged.GetValueOrDefault(fromKey);
        if ((flags & FuseWriteConstants.RenameNoReplace) != 0
            && (_staged.ContainsKey(toKey) || await dataset.Source.HeadAsync(toKey, cancellationToken) is not null))
        {
            channel.ReplyError(header.Unique, FuseWriteConstants.EEXIST);
            return;
        }
        if (staged is not null)
        {
            // The bytes must be at the remote before they can be moved there.
            var error = await UploadAsync(dataset, staged, cancellationToken);
            if (error != 0)
            {
                channel.ReplyError(header.Unique, error);
                return;
            }
        }
        if (writable is IDirectoryTreeSource tree)
        {
            try
            {
                tree.Rename(fromKey, toKey);
            }
            catch (FileNotFoundException)
            {
                channel.ReplyError(header.Unique, LibC.ENOENT);
                return;
            }
        }
        else
        {
            // Not atomic: for a moment both keys exist (documented).
            if (await writable.CopyAsync(fromKey, toKey, cancellationToken) is null)
            {
                channel.ReplyError(header.Unique, LibC.ENOENT);
                return;
            }
            InvalidateCached(dataset, toKey);
            await writable.DeleteAsync(fromKey, cancellationToken);
        }
        InvalidateCached(dataset, fromKey);
        InvalidateCached(dataset, toKey);
        if (staged is not null)
        {
            _staged.TryRemove(new KeyValuePair<string, StagedFile>(fromKey, staged));
            staged.Key = toKey;
            if (_staged.TryGetValue(toKey, out var replaced))
            {
                replaced.Deleted = true;
            }
            _staged[toKey] = staged;
        }
        ForgetVirtualAncestors(toKey);
        _inodes.Rename(fromKey, toKey);
        if (_inodes.TryGetByKey(toKey, out var entry))
        {
            entry.Object = await dataset.Source.HeadAsync(toKey, cancellationToken) ?? entry.Object;
        }
        channel.ReplyEmpty(header.Unique);
    }

    private void RenameDirectory(FuseChannel channel, FuseInHeader header, Dataset dataset, IWritableObjectSource writable, string fromPrefix, string toPrefix)
    {
        if (_staged.Keys.Any(k => k.StartsWith(fromPrefix, StringComparison.Ordinal)))
        {
            channel.ReplyError(header.Unique, LibC.EBUSY);
            return;
        }
        if (writable is IDirectoryTreeSource tree)
        {
            tree.Rename(fromPrefix, toPrefix);
            InvalidateCached(dataset, fromPrefix);
            InvalidateCached(dataset, toPrefix);
        }
        else if (_virtualDirectories.TryRemove(fromPrefix, out _))
        {
            _virtualDirectories[toPrefix] = 0;
        }
        else
        {
            // Renaming a prefix would copy every object under it, one by one and not atomically: refused.
            channel.ReplyError(header.Unique, FuseWriteConstants.ENOTSUP);
            return;
        }
        _inodes.Rename(fromPrefix, toPrefix);
        channel.ReplyEmpty(header.Unique);
    }

    /// <summary>The key of <paramref name="name"/> in the directory <paramref name="header"/> names; false after replying an error.</summary>
    private bool TryChildKey(FuseChannel channel, FuseInHeader header, string name, out string key)
    {
        key = "";
        if (!_inodes.TryGet(header.NodeId, out var parent) || !parent.IsDirectory)
        {
            channel.ReplyError(header.Unique, LibC.ENOENT);
            return false;
        }
        if (!EntryNames.IsVisible(name) || (parent.Key.Length == 0 && name == LocalObjectSource.StagingDirectoryName))
        {
            channel.ReplyError(header.Unique, LibC.EINVAL);
            return false;
        }
        key = parent.Key + name;
        return true;
    }

    /// <summary>A file landed: the directories above it exist at the remote now (as prefixes).</summary>
    private void ForgetVirtualAncestors(string key)
    {
        if (_virtualDirectories.IsEmpty)
        {
            return;
        }
        for (var slash = key.IndexOf('/', StringComparison.Ordinal); slash >= 0; slash = key.IndexOf('/', slash + 1))
        {
            _virtualDirectories.TryRemove(key[..(slash + 1)], out _);
        }
    }

    private void InvalidateCached(Dataset dataset, string key)
    {
        if (_staging?.Cache is { } cache)
        {
            cache.InvalidateObject(dataset, key);
        }
        else if (dataset.Source is MetadataCachingObjectSource metadata)
        {
            metadata.Invalidate(key);
        }
    }

    /// <summary>Staged files and empty virtual directories directly in <paramref name="directoryKey"/> that the remote listing cannot show yet.</summary>
    private List<DirectoryEntry> PendingEntries(string directoryKey)
    {
        var entries = new List<DirectoryEntry>();
        if (_staged.IsEmpty && _virtualDirectories.IsEmpty)
        {
            return entries;
        }
        foreach (var staged in _staged.Values)
        {
            if (staged.IsNew && !staged.Deleted && IsDirectChild(directoryKey, staged.Key, out var name))
            {
                entries.Add(new DirectoryEntry(name, System.Text.Encoding.UTF8.GetBytes(name), staged.Key, IsDirectory: false, Object: null));
            }
        }
        foreach (var prefix in _virtualDirectories.Keys)
        {
            if (IsDirectChild(directoryKey, prefix[..^1], out var name))
            {
                entries.Add(new DirectoryEntry(name, System.Text.Encoding.UTF8.GetBytes(name), prefix, IsDirectory: true, Object: null));
            }
        }
        entries.Sort((a, b) => string.CompareOrdinal(a.Key, b.Key));
        return entries;
    }

    private static bool IsDirectChild(string directoryKey, string key, out string name)
    {
        name = key.Length > directoryKey.Length ? key[directoryKey.Length..] : "";
        return key.StartsWith(directoryKey, StringComparison.Ordinal) && name.Length > 0 && !name.Contains('/', StringComparison.Ordinal);
    }

    private void ScheduleRetry()
    {
        lock (_retryLock)
        {
            var period = _staging!.RetryInterval;
            if (_staging.WriteBackDelay is { } delay)
            {
                period = TimeSpan.FromMilliseconds(Math.Max(500, Math.Min(period.TotalMilliseconds, delay.TotalMilliseconds)));
            }
            _retryTimer ??= _time.CreateTimer(_ => _ = RetryFailedAsync(), null, period, period);
        }
    }

    /// <summary>Bytes closed and waiting for their write-back upload.</summary>
    private long WriteBackBacklog(StagedFile except) =>
        _staged.Values.Where(s => !ReferenceEquals(s, except) && s.UploadDueAt is not null && s.IsDirty).Sum(s => s.Length);

    /// <summary>Uploads again every staged file no handle holds that is still dirty (a failed close, a recovered file).</summary>
    private async Task RetryFailedAsync()
    {
        if (Interlocked.Exchange(ref _retrying, 1) != 0)
        {
            return;
        }
        try
        {
            foreach (var staged in _staged.Values)
            {
                if (staged.OpenHandles > 0 || staged.Deleted || staged.UploadDueAt > _time.GetUtcNow())
                {
                    continue;
                }
                if (!staged.IsDirty || await UploadAsync(Dataset, staged, CancellationToken.None) == 0)
                {
                    Discard(staged);
                }
            }
        }
        catch (Exception exception) when (exception is IOException or ObjectDisposedException or UnauthorizedAccessException)
        {
            Log.RetryFailed(_logger, Dataset.Name, exception.Message);
        }
        finally
        {
            Volatile.Write(ref _retrying, 0);
        }
    }

    /// <summary>
    /// At start: what a previous process left in this dataset's staging directory. A file whose state says complete
    /// (fsync'ed or closed, not yet uploaded) and names this dataset and source is uploaded; anything else is deleted.
    /// A log line either way.
    /// </summary>
    public async Task RecoverStagedAsync(CancellationToken cancellationToken)
    {
        if (_staging is null)
        {
            return;
        }
        var dataset = Dataset;
        var directory = _staging.DatasetDirectory(dataset.Name);
        if (!Directory.Exists(directory))
        {
            return;
        }
        foreach (var data in Directory.EnumerateFiles(directory, "*.data"))
        {
            var basePath = data[..^".data".Length];
            var state = StagedFileState.TryRead(basePath + ".state");
            string? stale = state switch
            {
                null => "no state (written but never fsync'ed or closed)",
                { Complete: false } => "never fsync'ed or closed",
                _ when state.Dataset != dataset.Name || state.Source != dataset.Source.Identity => $"written for {state.Dataset} at {state.Source}, the dataset is now {dataset.Source.Identity}",
                _ when !IsWritable => "the dataset is read-only now",
                _ when _staged.ContainsKey(state.Key) => "the file is being written again",
                _ => null,
            };
            if (stale is not null)
            {
                Log.StaleStagedDeleted(_logger, dataset.Name, state?.Key ?? Path.GetFileName(data), stale);
                File.Delete(data);
                File.Delete(basePath + ".state");
                continue;
            }
            var staged = StagedFile.Adopt(_staging, dataset.Name, dataset.Source.Identity, state!.Key, basePath, state.Generation);
            _staged[staged.Key] = staged;
            var error = await UploadAsync(dataset, staged, cancellationToken);
            if (error == 0)
            {
                Log.StagedRecovered(_logger, dataset.Name, staged.Key, staged.Length);
                Discard(staged);
            }
            else
            {
                ScheduleRetry();
            }
        }
        foreach (var leftover in Directory.EnumerateFiles(directory, "*.state*"))
        {
            if (!File.Exists(Path.ChangeExtension(leftover.EndsWith(".tmp", StringComparison.Ordinal) ? leftover[..^4] : leftover, ".data")))
            {
                File.Delete(leftover);
            }
        }
    }

    /// <summary>
    /// Stops the retry timer; first uploads what write-back still holds (a SIGTERM must not leave closed files behind;
    /// what fails stays staged for the next start).
    /// </summary>
    public async ValueTask StopWritesAsync()
    {
        if (_staging?.WriteBackDelay is not null)
        {
            foreach (var staged in _staged.Values)
            {
                if (staged.UploadDueAt is not null && staged.IsDirty && !staged.Deleted
                    && await UploadAsync(Dataset, staged, CancellationToken.None) == 0 && staged.OpenHandles == 0)
                {
                    Discard(staged);
                }
            }
        }
        ITimer? timer;
        lock (_retryLock)
        {
            timer = _retryTimer;
            _retryTimer = null;
        }
        if (timer is not null)
        {
            await timer.DisposeAsync();
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventIds.FuseWriteUploaded, LogLevel.Information, "FUSE write of {Dataset}/{Key} uploaded ({Bytes} bytes, ETag {ETag})")]
        public static partial void Uploaded(ILogger logger, string dataset, string key, long bytes, string etag);

        [LoggerMessage(EventIds.FuseWriteUploadFailed, LogLevel.Warning, "FUSE write of {Dataset}/{Key} ({Bytes} bytes) could not be uploaded, answered EIO; the file stays staged and is retried: {Reason}")]
        public static partial void UploadFailed(ILogger logger, string dataset, string key, long bytes, string reason);

        [LoggerMessage(EventIds.FuseStagedRecovered, LogLevel.Information, "Staged file {Dataset}/{Key} ({Bytes} bytes) left by a previous run was uploaded")]
        public static partial void StagedRecovered(ILogger logger, string dataset, string key, long bytes);

        [LoggerMessage(EventIds.FuseStagedStaleDeleted, LogLevel.Warning, "Staged file {Dataset}/{Key} left by a previous run was deleted, not uploaded: {Reason}")]
        public static partial void StaleStagedDeleted(ILogger logger, string dataset, string key, string reason);

        [LoggerMessage(EventIds.FuseWriteRetryFailed, LogLevel.Warning, "Retrying the uploads of staged files of dataset {Dataset} failed: {Reason}")]
        public static partial void RetryFailed(ILogger logger, string dataset, string reason);
    }
}
