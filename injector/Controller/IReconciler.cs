namespace Fluid.Serverless.Injector.Controller;

/// <summary>One kind of object the controller keeps in step (Datasets today; DataLoads next to it). Runs only while
/// this replica leads; the token is cancelled when leadership is lost.</summary>
internal interface IReconciler
{
    string Name { get; }

    Task RunAsync(CancellationToken cancel);
}
