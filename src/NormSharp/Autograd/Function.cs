namespace NormSharp.Autograd;

/// <summary>
/// One differentiable operation on the autograd tape: the forward computes a result from its inputs
/// and keeps only what its backward needs; the backward maps the gradient of the result to the
/// gradients of the inputs.
/// </summary>
/// <remarks>
/// An op is a small subclass: its forward method computes the output tensor and calls
/// <see cref="Record"/>, which attaches the function to the output when any input requires
/// gradients (and grad mode is on). <see cref="NeedsInputGrad"/> tells <see cref="Backward"/> which
/// gradients anybody will read, so it can skip the others (return null for them).
/// </remarks>
public abstract class Function
{
    private Tensor[] inputs = [];
    private bool[] needsInputGrad = [];
    private Tensor[] saved = [];
    private Tensor[] heldSaved = [];   // saved tensors besides the inputs and the output, held like inputs
    private float[][] graphStorage = [];
    private Tensor? output;
    private float[][] ownedArrays = [];

    /// <summary>The inputs the output was computed from, in the order they were recorded.</summary>
    public IReadOnlyList<Tensor> Inputs => inputs;

    /// <summary>For each input, whether its gradient is needed (it requires gradients).</summary>
    public IReadOnlyList<bool> NeedsInputGrad => needsInputGrad;

    /// <summary>Tensors kept by the forward for the backward.</summary>
    protected IReadOnlyList<Tensor> SavedTensors => saved;

    /// <summary>A short name for error messages and debugging.</summary>
    public virtual string Name => GetType().Name;

    /// <summary>Keeps tensors for the backward pass.</summary>
    /// <remarks>
    /// Once the forward is recorded, a saved tensor is held like an input: disposing it, by hand or at the end of its
    /// <see cref="DisposeScope"/>, waits until this function's backward has run (or its graph can no longer run).
    /// </remarks>
    protected void SaveForBackward(params Tensor[] tensors)
    {
        saved = tensors;
        if (output is not null && !Released)
        {
            HoldSaved();   // saved after Record
        }
    }

    /// <summary>
    /// Uninitialized scratch of <paramref name="count"/> floats that only this function reads (a dropout mask, softmax
    /// probabilities), from the storage pool; it goes back to the pool the moment the function is released (after its
    /// backward, or when its graph can no longer run), or at <see cref="Record"/> when the forward is not recorded.
    /// </summary>
    internal float[] RentForBackward(long count)
    {
        var array = StoragePool.NewArray(count, clear: false);
        ownedArrays = [.. ownedArrays, array];
        return array;
    }

    /// <summary>
    /// Gradients of the inputs, given the gradient of the output; entries for inputs whose
    /// <see cref="NeedsInputGrad"/> is false may be null. Each gradient has its input's shape.
    /// </summary>
    /// <remarks>
    /// The engine disposes <paramref name="gradOutput"/> and each returned gradient as soon as it has been consumed,
    /// so that their memory serves the rest of the backward. Return new tensors, <paramref name="gradOutput"/> itself,
    /// or views of it; an input or a saved tensor returned as a gradient is passed on through a view of its own.
    /// </remarks>
    public abstract Tensor?[] Backward(Tensor gradOutput);

    /// <summary>
    /// Attaches this function to <paramref name="output"/> when grad mode is on and any of
    /// <paramref name="inputs"/> requires gradients. Returns <paramref name="output"/>.
    /// </summary>
    protected Tensor Record(Tensor output, params Tensor[] inputs)
    {
        if (!GradMode.IsEnabled || !AnyRequiresGrad(inputs))
        {
            saved = [];
            ReturnOwnedArrays();
            return output;
        }
        this.inputs = inputs;
        this.output = output;
        foreach (var input in inputs)
        {
            input.HoldForGraph();
        }
        needsInputGrad = Array.ConvertAll(inputs, t => t.RequiresGrad);
        output.GradFn = this;
        output.RequiresGrad = true;
        // The backward may read any input and the output: their storage is not reused before it has run, even if
        // the tensors are disposed.
        graphStorage = StoragePool.HoldForGraph([output, .. inputs]);
        HoldSaved();
        return output;
    }

    // A tensor the forward made and saved (a mask, statistics) may belong to a dispose scope that ends before the
    // backward runs: it is held as an input is, so that its disposal waits for the backward.
    private void HoldSaved()
    {
        List<Tensor>? toHold = null;   // most operations save only their inputs and output: nothing to add
        foreach (var tensor in saved)
        {
            if (tensor is null || ReferenceEquals(tensor, output) || Array.Exists(inputs, t => ReferenceEquals(t, tensor)) ||
                Array.Exists(heldSaved, t => ReferenceEquals(t, tensor)) || (toHold?.Exists(t => ReferenceEquals(t, tensor)) ?? false))
            {
                continue;
            }
            tensor.ThrowIfDisposed();   // before any hold is taken, so that a failed save leaves nothing held
            (toHold ??= []).Add(tensor);
        }
        if (toHold is null)
        {
            return;
        }
        foreach (var tensor in toHold)
        {
            tensor.HoldForGraph();
        }
        heldSaved = [.. heldSaved, .. toHold];
        graphStorage = [.. graphStorage, .. StoragePool.HoldForGraph([.. toHold])];
    }

    /// <summary>True when grad mode is on and any tensor requires gradients: whether a backward will run.</summary>
    protected static bool AnyRequiresGrad(params Tensor?[] tensors)
    {
        if (!GradMode.IsEnabled)
        {
            return false;
        }
        foreach (var t in tensors)
        {
            if (t is { RequiresGrad: true })
            {
                return true;
            }
        }
        return false;
    }

    private void ReturnOwnedArrays()
    {
        foreach (var array in ownedArrays)
        {
            StoragePool.Recycle(array);
        }
        ownedArrays = [];
    }

    /// <summary>Whether <paramref name="tensor"/> is one of this function's inputs or saved tensors.</summary>
    internal bool Keeps(Tensor tensor) =>
        Array.Exists(inputs, t => ReferenceEquals(t, tensor)) || Array.Exists(saved, t => ReferenceEquals(t, tensor));

    /// <summary>Whether the backward has run and released what it held (a second backward is refused).</summary>
    internal bool Released { get; private set; }

    /// <summary>Releases what the backward held, once it has run.</summary>
    internal void ReleaseSaved() => Release(graphIsDead: false);

    /// <summary>
    /// Releases what this function held for its backward: saved tensors, the storage of its inputs and output, and its
    /// holds on its inputs, disposing those whose disposal waited for it (<see cref="Tensor.Dispose"/>). An input whose
    /// own operation has not run its backward yet waits for it, unless <paramref name="graphIsDead"/> (no backward can
    /// reach it any more): then that operation is released too, and so on up the graph.
    /// </summary>
    internal void Release(bool graphIsDead)
    {
        // A stack instead of recursion: a dead graph can be as deep as a long sequence of operations.
        var pending = new Stack<Function>();
        pending.Push(this);
        while (pending.TryPop(out var function))
        {
            if (function.Released)
            {
                continue;
            }
            function.Released = true;
            function.saved = [];
            foreach (var array in function.graphStorage)
            {
                StoragePool.ReleaseFromGraph(array);
            }
            function.graphStorage = [];
            function.ReturnOwnedArrays();
            foreach (var held in function.inputs.Concat(function.heldSaved))
            {
                if (!held.ReleaseFromGraph())
                {
                    continue;
                }
                if (held.GradFn is not { Released: false } producer)
                {
                    held.DisposeNow();
                }
                else if (graphIsDead)
                {
                    pending.Push(producer);   // its release disposes the tensor, its output
                }
            }
            function.heldSaved = [];
            if (function.output is { DisposableNow: true } output)
            {
                output.DisposeNow();
            }
        }
    }
}
