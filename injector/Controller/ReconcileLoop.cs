using Fluid.Serverless.Injector.Datasets;

namespace Fluid.Serverless.Injector.Controller;

/// <summary>
/// The loop every reconciler runs while this replica leads: a pass per queued key (watch changes, and every key again
/// each <c>period</c>), a pass that met a stale object (409) queued again shortly, and one key's failure logged
/// without stopping the others.
/// </summary>
internal static class ReconcileLoop
{
    private static readonly TimeSpan ConflictRetry = TimeSpan.FromSeconds(1);

    /// <param name="onChange">Queues the keys a cache change concerns.</param>
    /// <param name="allKeys">Every key, queued at start and each <paramref name="period"/>.</param>
    /// <param name="reconcile">One pass; true when it must be repeated soon (a 409).</param>
    /// <param name="passFailed">Logs a pass that threw; the key is retried on its next change or period.</param>
    public static async Task RunAsync(
        ClusterState cluster,
        TimeProvider time,
        TimeSpan period,
        Action<ClusterChange, WorkQueue<(string Namespace, string Name)>> onChange,
        Func<IEnumerable<(string Namespace, string Name)>> allKeys,
        Func<string, string, CancellationToken, Task<bool>> reconcile,
        Action<string, string, Exception> passFailed,
        CancellationToken cancel)
    {
        var queue = new WorkQueue<(string Namespace, string Name)>();
        void EnqueueAll()
        {
            foreach (var key in allKeys())
            {
                queue.Add(key);
            }
        }

        using var subscription = cluster.Changes.Subscribe(change => onChange(change, queue));
        using var timer = time.CreateTimer(_ => EnqueueAll(), null, period, period);
        EnqueueAll();
        while (!cancel.IsCancellationRequested)
        {
            var key = await queue.TakeAsync(cancel);
            try
            {
                if (await reconcile(key.Namespace, key.Name, cancel))
                {
                    _ = RequeueLaterAsync(queue, key, time, cancel);
                }
            }
            catch (OperationCanceledException) when (cancel.IsCancellationRequested)
            {
                throw;
            }
#pragma warning disable CA1031 // one object's failure must not stop the others: logged, retried on the next change or period
            catch (Exception exception)
#pragma warning restore CA1031
            {
                passFailed(key.Namespace, key.Name, exception);
            }
        }
    }

    private static async Task RequeueLaterAsync(WorkQueue<(string, string)> queue, (string, string) key, TimeProvider time, CancellationToken cancel)
    {
        try
        {
            await Task.Delay(ConflictRetry, time, cancel);
            queue.Add(key);
        }
        catch (OperationCanceledException)
        {
            // leadership lost or shutting down
        }
    }
}
