using NormSharp.Autograd;

namespace NormSharp;

/// <summary>
/// A float32 tensor: contiguous row-major storage and a shape, with reverse-mode autograd.
/// </summary>
/// <remarks>
/// Storage is always contiguous. Reshapes and batch slices (<see cref="this[int]"/>, <see cref="Slice"/>)
/// share storage with their source, like PyTorch views of a contiguous tensor; every other op
/// returns a new tensor. Operations that involve a tensor with <see cref="RequiresGrad"/> record
/// themselves on the autograd tape unless a <see cref="NoGrad"/> scope is active.
/// <para>Disposing a tensor is optional: it hands large storage back for reuse at once instead of after the next
/// garbage collection (see <see cref="Dispose"/>); <see cref="NewDisposeScope"/> disposes everything a block of code
/// makes.</para>
/// </remarks>
public partial class Tensor : IDisposable
{
    private readonly float[] storage;
    private readonly int offset;
    private readonly int[] shape;
    private bool requiresGrad;
    private bool disposed;
    private Tensor? grad;
    private bool gradHandedOut;   // grad was read through Grad or set from outside: someone else may hold it

    /// <summary>Wraps existing storage without copying; <paramref name="shape"/> is owned by the tensor.</summary>
    internal Tensor(float[] storage, int offset, int[] shape)
    {
        long count = ShapeUtil.Count(shape);
        if (offset < 0 || offset + count > storage.Length)
        {
            throw new ArgumentException(
                $"Storage of {storage.Length} elements cannot hold shape {ShapeUtil.Format(shape)} ({count} elements) at offset {offset}.");
        }
        this.storage = storage;
        this.offset = offset;
        this.shape = shape;
        Length = (int)count;
        StoragePool.Hold(storage);
        JoinCurrentScope();
    }

    /// <summary>Wraps a whole array without copying.</summary>
    internal Tensor(float[] storage, int[] shape) : this(storage, 0, shape)
    {
    }

    /// <summary>A copy of the tensor's shape.</summary>
    public int[] Shape => (int[])shape.Clone();

    /// <summary>The number of dimensions.</summary>
    public int Rank => shape.Length;

    /// <summary>The number of elements (PyTorch's <c>numel()</c>).</summary>
    public int Length { get; }

    /// <summary>The size of dimension <paramref name="dim"/>; negative values count from the end.</summary>
    public int Size(int dim) => shape[ShapeUtil.NormalizeDim(dim, Rank)];

    /// <summary>Internal read-only view of the shape, to avoid copies on hot paths.</summary>
    internal ReadOnlySpan<int> ShapeSpan => shape;

    /// <summary>The tensor's contiguous storage. Writing through it bypasses autograd.</summary>
    public Span<float> AsSpan() => Live.AsSpan(offset, Length);

    internal ReadOnlySpan<float> Data => Live.AsSpan(offset, Length);

    /// <summary>A copy of the elements in row-major order.</summary>
    public float[] ToArray() => AsSpan().ToArray();

    /// <summary>The value of a one-element tensor.</summary>
    /// <exception cref="InvalidOperationException">The tensor has more or fewer than one element.</exception>
    public float Item()
    {
        if (Length != 1)
        {
            throw new InvalidOperationException(
                $"Item() needs a tensor with exactly one element, got shape {ShapeUtil.Format(shape)} ({Length} elements).");
        }
        return Live[offset];
    }

    /// <summary>
    /// Whether gradients are computed for this tensor. Set it on leaf tensors (inputs and parameters);
    /// results of operations on such tensors require gradients automatically.
    /// </summary>
    public bool RequiresGrad
    {
        get => requiresGrad;
        set
        {
            if (!value && GradFn is not null)
            {
                throw new InvalidOperationException(
                    "RequiresGrad cannot be turned off on a non-leaf tensor; use Detach() to get a tensor outside the graph.");
            }
            requiresGrad = value;
        }
    }

    /// <summary>The accumulated gradient of a leaf tensor after <see cref="Backward"/>, or null.</summary>
    /// <remarks>
    /// Setting it (to null, as PyTorch's <c>x.grad = None</c>, or to another tensor) hands the previous gradient's
    /// storage back for reuse at once when no code outside the autograd engine can hold that gradient: it was written
    /// by <see cref="Backward"/> and never read through this property since. A gradient that was read stays alive for
    /// whoever holds it and is reclaimed by the garbage collector, as before. A gradient set here or accumulated by
    /// <see cref="Backward"/> belongs to no <see cref="DisposeScope"/>: the leaf holds it.
    /// </remarks>
    public Tensor? Grad
    {
        get
        {
            gradHandedOut = true;
            return grad;
        }
        set
        {
            if (grad is not null && !gradHandedOut && !ReferenceEquals(grad, value))
            {
                grad.Dispose();
            }
            grad = value?.DetachFromDisposeScope();   // the leaf holds it now, beyond any scope
            gradHandedOut = true;
        }
    }

    /// <summary>The function that produced this tensor on the autograd tape; null for leaves.</summary>
    public Function? GradFn { get; internal set; }

    /// <summary>True when the tensor was not produced by a recorded operation.</summary>
    public bool IsLeaf => GradFn is null;

    /// <summary>
    /// Computes the gradient of this tensor with respect to every leaf that requires gradients and
    /// accumulates it (+=) into their <see cref="Grad"/>.
    /// </summary>
    /// <param name="gradient">Upstream gradient, same shape as this tensor. May be omitted only for a one-element tensor.</param>
    public void Backward(Tensor? gradient = null) => Engine.Backward(this, gradient);

    /// <summary>A tensor sharing this tensor's storage, outside the autograd graph.</summary>
    public Tensor Detach() => new(Live, offset, shape);

    /// <summary>A deep copy of the data (outside the autograd graph).</summary>
    public Tensor Clone()
    {
        var copy = Uninitialized(shape);
        Kernels.Elementwise.Copy(Data, copy.AsSpan());
        return copy;
    }

    /// <inheritdoc/>
    public override string ToString()
    {
        if (disposed)
        {
            return $"Tensor{ShapeUtil.Format(shape)} (disposed)";
        }
        const int shown = 8;
        var data = Data;
        var values = string.Join(", ", data[..Math.Min(shown, data.Length)].ToArray().Select(v => v.ToString("G6", System.Globalization.CultureInfo.InvariantCulture)));
        return $"Tensor{ShapeUtil.Format(shape)} [{values}{(data.Length > shown ? ", ..." : "")}]{(requiresGrad ? " requires_grad" : "")}";
    }

    internal float[] Storage => Live;

    /// <summary>The storage, unless the tensor was disposed.</summary>
    private float[] Live
    {
        get
        {
            ThrowIfDisposed();
            if (pendingFill is not null)
            {
                Materialize();
            }
            return storage;
        }
    }

    /// <exception cref="ObjectDisposedException">The tensor was disposed.</exception>
    internal void ThrowIfDisposed()
    {
        if (disposed)
        {
            throw new ObjectDisposedException(nameof(Tensor), $"This tensor (shape {ShapeUtil.Format(shape)}) was disposed: its storage may already hold another tensor's data.");
        }
    }

    /// <summary>
    /// Hands the tensor's storage back for reuse now, like <c>Dispose</c> on a TorchSharp tensor, instead of after
    /// the garbage collector finds it unreachable. The storage is reused once every tensor sharing it (views,
    /// <see cref="Detach"/>ed tensors) is disposed; until then disposing only gives up this tensor's claim. A tensor
    /// that a recorded operation's pending backward reads (an input of an operation whose backward has not run, or an
    /// output whose own operation's backward has not run) stays readable and is disposed right after that backward,
    /// as libtorch's graph holds its own reference. Disposing an output that no recorded operation consumes also
    /// releases what its operation (and, in turn, every operation only it needed) kept for a backward that can no
    /// longer be run. Afterwards this tensor's data cannot be read or written (<see cref="ObjectDisposedException"/>).
    /// Disposing is optional and safe to repeat.
    /// </summary>
    public void Dispose()
    {
        if (disposed || disposeDeferred)
        {
            return;
        }
        disposeDeferred = true;
        if (Volatile.Read(ref graphHolds) > 0)
        {
            return;   // the last consumer's backward disposes it
        }
        if (GradFn is { Released: false } function)
        {
            // Nothing consumes this output and it cannot be used any more: no backward can reach its operation.
            function.Release(graphIsDead: true);   // disposes this tensor too
            return;
        }
        DisposeNow();
    }

    internal int Offset => offset;

    /// <summary>
    /// Grad += gradient. An empty <see cref="Grad"/> takes <paramref name="gradient"/> itself when no other tensor or
    /// pending backward uses its storage (returns true: the caller must not dispose it), else a copy.
    /// </summary>
    internal bool AccumulateGrad(Tensor gradient)
    {
        if (grad is null)
        {
            // The engine owns the tensor it passes (see Engine.Propagate), so nobody outside holds the new gradient.
            bool taken = StoragePool.IsExclusive(gradient.storage);
            grad = (taken ? gradient : gradient.Clone()).DetachFromDisposeScope();   // the leaf holds it beyond any scope
            gradHandedOut = false;
            return taken;
        }
        Kernels.Elementwise.AddInPlace(gradient.Data, grad.AsSpan());
        return false;
    }
}
