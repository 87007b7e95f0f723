using NormSharp.Autograd;

namespace NormSharp;

/// <summary>
/// How <see cref="Dispose"/> waits for the autograd graph: a recorded operation whose backward has not run yet holds
/// each of its inputs, the way libtorch's graph keeps its own reference to a tensor whose handle was disposed. A tensor
/// disposed while held stays readable and is disposed when the last backward holding it (or, for an operation's output,
/// its own operation's backward) has run; so <see cref="Nn.Sequential"/> can dispose the activations it passes from
/// layer to layer during the forward, and their storage serves the rest of the step the moment the backward is done.
/// </summary>
public partial class Tensor
{
    private int graphHolds;   // recorded operations, backward not yet run, with this tensor as an input (once per occurrence)
    private bool disposeDeferred;   // Dispose was called while the graph still needed the tensor

    /// <summary>A recorded operation takes this tensor as an input: its backward may read it.</summary>
    internal void HoldForGraph() => Interlocked.Increment(ref graphHolds);

    /// <summary>
    /// The backward of an operation with this tensor as an input has run; true when that was the last hold on a tensor
    /// whose disposal waits for it (the caller disposes it, or first releases its own operation).
    /// </summary>
    internal bool ReleaseFromGraph() => Interlocked.Decrement(ref graphHolds) == 0 && Volatile.Read(ref disposeDeferred);

    /// <summary>Whether the tensor was disposed while held and no recorded operation holds it any more.</summary>
    internal bool DisposableNow => Volatile.Read(ref disposeDeferred) && Volatile.Read(ref graphHolds) == 0;

    /// <summary>Gives the storage claim up now (the deferred part of <see cref="Dispose"/>).</summary>
    internal void DisposeNow()
    {
        if (disposed)
        {
            return;
        }
        disposed = true;
        StoragePool.Release(storage);
    }
}
