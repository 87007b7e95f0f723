namespace NormSharp;

/// <summary>Membership in a <see cref="DisposeScope"/>: which scope disposes this tensor when it ends.</summary>
public partial class Tensor
{
    /// <summary>
    /// Begins a <see cref="DisposeScope"/> on this thread, as TorchSharp's <c>torch.NewDisposeScope()</c>: every tensor
    /// created until it ends (a <c>using</c> block) is disposed then, unless moved out.
    /// </summary>
    public static DisposeScope NewDisposeScope() => new();

    /// <summary>The scope that disposes this tensor when it ends, or null.</summary>
    internal DisposeScope? Scope { get; set; }

    /// <summary>Whether <see cref="Dispose"/> was called (its storage may still wait for a pending backward).</summary>
    internal bool IsDisposed => disposed || disposeDeferred;

    /// <summary>
    /// Hands this tensor to the scope that was innermost when its own scope began, so that it outlives its scope (as
    /// TorchSharp's <c>MoveToOuterDisposeScope</c>); with no outer scope it belongs to none. Returns the tensor.
    /// </summary>
    public Tensor MoveToOuterDisposeScope()
    {
        if (Scope is { } scope)
        {
            if (scope.Outer is { } outer)
            {
                outer.Add(this);
            }
            else
            {
                Scope = null;
            }
        }
        return this;
    }

    /// <summary>
    /// Takes this tensor out of every dispose scope: it lives until disposed by hand or collected (as TorchSharp's
    /// <c>DetachFromDisposeScope</c>). Returns the tensor.
    /// </summary>
    public Tensor DetachFromDisposeScope()
    {
        Scope = null;
        return this;
    }

    // Called by the constructor: a new tensor belongs to this thread's innermost scope.
    private void JoinCurrentScope() => DisposeScope.Current?.Add(this);
}
