namespace NormSharp;

/// <summary>
/// A region of code whose tensors are disposed when it ends, as TorchSharp's <c>DisposeScope</c>: every tensor
/// created on this thread while the scope is the innermost one belongs to it, and <see cref="Dispose"/> disposes each
/// that was not moved out (<see cref="Tensor.MoveToOuterDisposeScope"/>, <see cref="Tensor.DetachFromDisposeScope"/>).
/// Begin one with <see cref="Tensor.NewDisposeScope"/>.
/// </summary>
/// <remarks>
/// <para>Why: PyTorch frees a tensor when its last reference goes; .NET only learns that a tensor is unreachable at a
/// garbage collection, so a result that is simply dropped (<c>x * bias</c> whose value was read, the product inside
/// <c>(x * g).Sum()</c>, the input gradients from <see cref="Autograd.Gradients.Of"/>) keeps its storage until the next
/// collection, which the storage pool has to request and wait for. A scope around a step hands all of that storage back
/// deterministically when the step ends, so the next step reuses it without a collection.</para>
/// <para>What survives: tensors created before the scope began (inputs, parameters), tensors moved out, and what the
/// library keeps beyond the step: a leaf's <see cref="Tensor.Grad"/> (accumulated by <see cref="Tensor.Backward"/> or
/// set), module parameters and buffers (<see cref="Nn.Parameter"/>, registered buffers), a data set's images, and
/// what a recorded operation saved for a backward that has not run yet (disposing such a tensor waits for that
/// backward, see <see cref="Tensor.Dispose"/>). So a loss moved out of the scope can still be back-propagated after it
/// ends.</para>
/// <para>Scopes nest; ending one also ends the scopes begun inside it that are still open. Each belongs to the thread
/// that began it: it ends there (a <c>using</c> block does both), and tensors move into it only there. Tensors made on
/// other threads never join a scope.</para>
/// </remarks>
/// <example>
/// <code>
/// foreach (var (images, labels) in loader)
/// {
///     using var scope = Tensor.NewDisposeScope();
///     var loss = F.CrossEntropy(model.Forward(images), labels);
///     optimizer.ZeroGrad();
///     loss.Backward();
///     optimizer.Step();
/// }   // the logits, the loss and every intermediate are disposed here; the parameters' gradients stay
/// </code>
/// </example>
public sealed class DisposeScope : IDisposable
{
    [ThreadStatic]
    private static DisposeScope? current;

    private readonly DisposeScope? outer;
    private readonly int threadId = Environment.CurrentManagedThreadId;
    private readonly List<Tensor> tensors = [];
    private int compactAt = 1024;   // list length at which entries that left the scope are dropped from it
    private bool ended;

    internal DisposeScope()
    {
        outer = current;
        current = this;
    }

    /// <summary>The innermost scope of this thread, or null.</summary>
    internal static DisposeScope? Current => current;

    /// <summary>The scope that was innermost when this one began (where moved tensors go), or null.</summary>
    internal DisposeScope? Outer => outer;

    /// <summary>How many tensors this scope disposes if it ends now.</summary>
    public int Count => tensors.Count(t => ReferenceEquals(t.Scope, this) && !t.IsDisposed);

    /// <summary>Makes <paramref name="tensor"/> one of this scope's (on a failed check, the tensor is left as it was).</summary>
    internal void Add(Tensor tensor)
    {
        if (ended)
        {
            throw new ObjectDisposedException(nameof(DisposeScope), "This dispose scope has ended; tensors cannot be moved into it.");
        }
        CheckThread("take a tensor");
        tensor.Scope = this;
        tensors.Add(tensor);
        if (tensors.Count >= compactAt)
        {
            // A scope around a whole training loop would otherwise hold every tensor it ever saw until it ends.
            tensors.RemoveAll(t => !ReferenceEquals(t.Scope, this) || t.IsDisposed);
            compactAt = Math.Max(1024, 2 * tensors.Count);
        }
    }

    /// <summary>
    /// Ends the scope: ends any scope begun inside it that is still open, disposes every tensor created in it that was
    /// not moved out, newest first, and makes the scope that was innermost when it began the innermost again. Safe to
    /// repeat.
    /// </summary>
    /// <exception cref="InvalidOperationException">Called on another thread than the one that began the scope.</exception>
    public void Dispose()
    {
        if (ended)
        {
            return;
        }
        CheckThread("end");
        while (!ReferenceEquals(current, this))
        {
            current!.Dispose();   // an inner scope left open (this thread's scopes form one chain up to this one)
        }
        ended = true;
        current = outer;
        for (int i = tensors.Count - 1; i >= 0; i--)
        {
            var tensor = tensors[i];
            if (ReferenceEquals(tensor.Scope, this))
            {
                tensor.Scope = null;
                tensor.Dispose();
            }
        }
        tensors.Clear();
    }

    // A scope's list and its tensors' membership are touched only by the thread that began it.
    private void CheckThread(string action)
    {
        if (Environment.CurrentManagedThreadId != threadId)
        {
            throw new InvalidOperationException(
                $"A dispose scope can only {action} on the thread that began it (thread {threadId}), not on thread {Environment.CurrentManagedThreadId}.");
        }
    }
}
